#include "match/domain_index.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace saring::match {
namespace {

using ClassId = DomainIndex::ClassId;

std::uint64_t SplitMix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Name number i: random letters, then i in decimal, so distinct i give distinct names;
// one in four gets an extra random label in front, and the TLD varies.
std::string SyntheticName(std::uint64_t i) {
  static const char* const kTlds[] = {"com", "net", "xyz", "site", "co.id", "my.id", "online"};
  std::uint64_t r = SplitMix(i);
  std::string name;
  if (r % 4 == 0) {
    for (int k = 0; k < 3; ++k) name.push_back(static_cast<char>('a' + (r >> (8 + 5 * k)) % 26));
    name.push_back('.');
  }
  int letters = 3 + static_cast<int>((r >> 30) % 6);
  for (int k = 0; k < letters; ++k) {
    name.push_back(static_cast<char>('a' + (SplitMix(r + k) % 26)));
  }
  name += std::to_string(i);
  name.push_back('.');
  name += kTlds[(r >> 40) % std::size(kTlds)];
  return name;
}

ClassId ClassFor(std::uint64_t i) { return static_cast<ClassId>(i % (DomainIndex::kMaxClass + 1)); }

std::unique_ptr<DomainIndex> BuildFirst(std::uint64_t n) {
  DomainIndex::Builder builder(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(builder.Add(HashDomain(SyntheticName(i)), ClassFor(i))) << i;
  }
  EXPECT_EQ(builder.size(), n);
  return builder.Finish();
}

// True if any suffix of `name` is in `index` (a domain rule covers its subdomains).
bool Blocks(const DomainIndex& index, std::string_view name) {
  NameSuffixes s;
  HashSuffixes(name, &s);
  for (int i = 0; i < s.count; ++i) {
    if (index.Find(s.hash[i]) != DomainIndex::kNotFound) return true;
  }
  return false;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "domain_index_test.XXXXXX");
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(DomainIndexHashTest, SuffixHashesEqualTheSuffixesOwnHashes) {
  NameSuffixes s;
  HashSuffixes("a.b.c", &s);
  ASSERT_EQ(s.count, 3);
  EXPECT_EQ(s.hash[0], HashDomain("c"));
  EXPECT_EQ(s.hash[1], HashDomain("b.c"));
  EXPECT_EQ(s.hash[2], HashDomain("a.b.c"));
  EXPECT_EQ(s.start[0], 4);
  EXPECT_EQ(s.start[1], 2);
  EXPECT_EQ(s.start[2], 0);

  // Labels of every length class the hash reads differently (0, 1-3, 4-16, >16 bytes).
  std::string name = "x." + std::string(63, 'q') + ".abcdefghijklmnopq.slot88.mp.co.id";
  HashSuffixes(name, &s);
  ASSERT_EQ(s.count, 7);
  for (int i = 0; i < s.count; ++i) {
    std::string_view suffix = std::string_view(name).substr(s.start[i]);
    EXPECT_EQ(s.hash[i], HashDomain(suffix)) << suffix;
    EXPECT_TRUE(i == s.count - 1 || name[s.start[i] - 1] == '.');
  }
}

TEST(DomainIndexHashTest, LabelBoundariesAndLengthsChangeTheHash) {
  std::vector<std::uint64_t> hashes = {HashDomain("ab.c"), HashDomain("a.bc"), HashDomain("abc"),
                                       HashDomain("c.ab"), HashDomain("ab.c.")};
  for (int n = 0; n <= 70; ++n) {
    hashes.push_back(HashDomain(std::string(n, 'a')));
    hashes.push_back(HashDomain(std::string(n, 'a') + ".com"));
  }
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::adjacent_find(hashes.begin(), hashes.end()), hashes.end());
}

// Every string over a small alphabet up to 9 bytes: catches structural collisions between
// lengths and label splits (such as "n8" vs "n89", or "cbbbbbbb" vs "cbbbbbbbb").
TEST(DomainIndexHashTest, NoCollisionsAmongAllShortStrings) {
  static constexpr char kAlphabet[] = {'b', 'c', '8', '.'};
  std::vector<std::uint64_t> hashes;
  std::string s;
  for (std::size_t len = 0; len <= 9; ++len) {
    for (std::uint64_t code = 0; code < (std::uint64_t{1} << (2 * len)); ++code) {
      s.clear();
      for (std::size_t k = 0; k < len; ++k) s.push_back(kAlphabet[(code >> (2 * k)) & 3]);
      hashes.push_back(HashDomain(s));
    }
  }
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::adjacent_find(hashes.begin(), hashes.end()), hashes.end());
}

TEST(DomainIndexHashTest, OverlongOrDegenerateInputIsSafe) {
  NameSuffixes s;
  HashSuffixes(std::string(256, 'a'), &s);
  EXPECT_EQ(s.count, 0);
  HashSuffixes(std::string(255, '.'), &s);  // 256 empty labels: more than fit
  EXPECT_EQ(s.count, 0);
  HashSuffixes(std::string(253, '.'), &s);
  EXPECT_EQ(s.count, 0);
  std::string many_labels;
  for (int i = 0; i < 127; ++i) many_labels += i == 0 ? "a" : ".a";
  HashSuffixes(many_labels, &s);
  EXPECT_EQ(s.count, 127);
  EXPECT_EQ(s.hash[126], HashDomain(many_labels));
}

TEST(DomainIndexTest, FindsEveryMemberAndNoOther) {
  constexpr std::uint64_t kN = 200'000;
  auto index = BuildFirst(kN);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), kN);
  EXPECT_FALSE(index->empty());
  for (std::uint64_t i = 0; i < kN; ++i) {
    ASSERT_EQ(index->Find(HashDomain(SyntheticName(i))), ClassFor(i)) << SyntheticName(i);
  }
  for (std::uint64_t i = kN; i < 2 * kN; ++i) {
    ASSERT_EQ(index->Find(HashDomain(SyntheticName(i))), DomainIndex::kNotFound);
  }
  // About 11.4 bytes per entry at the default load of 0.7.
  double per_entry = static_cast<double>(index->memory_bytes()) / kN;
  EXPECT_GT(per_entry, 11.0);
  EXPECT_LT(per_entry, 11.6);
}

// 52-bit fingerprints: a false positive among 5M lookups has odds of about 1e-7.
TEST(DomainIndexTest, NoFalsePositivesAtNationalScale) {
  constexpr std::uint64_t kN = 5'000'000;
  std::vector<std::uint64_t> hashes;
  hashes.reserve(kN);
  DomainIndex::Builder builder(kN);
  for (std::uint64_t i = 0; i < kN; ++i) {
    hashes.push_back(HashDomain(SyntheticName(i)));
    ASSERT_TRUE(builder.Add(hashes.back(), 1));
  }
  // Every distinct name kept its own entry: no two fingerprints merged.
  EXPECT_EQ(builder.size(), kN);
  auto index = builder.Finish();
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::adjacent_find(hashes.begin(), hashes.end()), hashes.end());

  std::uint64_t false_positives = 0;
  for (std::uint64_t i = kN; i < 2 * kN; ++i) {
    false_positives += index->Find(HashDomain(SyntheticName(i))) != DomainIndex::kNotFound;
  }
  EXPECT_EQ(false_positives, 0u);
}

// Hashes one bit apart share their bucket and the top of their fingerprint, so a lookup must
// not stop at a partial match.
TEST(DomainIndexTest, NearlyEqualFingerprintsStayApart) {
  const std::uint64_t base = HashDomain("slot88.com");
  const std::uint64_t near[] = {base ^ 1, base ^ (1u << 20), base ^ (std::uint64_t{1} << 31)};
  DomainIndex::Builder builder(100);
  ASSERT_TRUE(builder.Add(base, 1));
  for (std::size_t i = 0; i < std::size(near); ++i) {
    ASSERT_TRUE(builder.Add(near[i], static_cast<ClassId>(2 + i)));
  }
  EXPECT_EQ(builder.size(), 1 + std::size(near));
  auto index = builder.Finish();
  EXPECT_EQ(index->Find(base), 1);
  for (std::size_t i = 0; i < std::size(near); ++i) EXPECT_EQ(index->Find(near[i]), 2 + i);
  EXPECT_EQ(index->Find(base ^ 2), DomainIndex::kNotFound);
  EXPECT_EQ(index->Find(base ^ (1u << 12)), DomainIndex::kNotFound);
}

TEST(DomainIndexTest, RuleCoversSubdomainsOnly) {
  DomainIndex::Builder builder(4);
  ASSERT_TRUE(builder.Add(HashDomain("slot88.com"), 7));
  ASSERT_TRUE(builder.Add(HashDomain("gacor.my.id"), 8));
  auto index = builder.Finish();
  EXPECT_TRUE(Blocks(*index, "slot88.com"));
  EXPECT_TRUE(Blocks(*index, "www.slot88.com"));
  EXPECT_TRUE(Blocks(*index, "a.b.slot88.com"));
  EXPECT_TRUE(Blocks(*index, "m.gacor.my.id"));
  EXPECT_FALSE(Blocks(*index, "xslot88.com"));
  EXPECT_FALSE(Blocks(*index, "slot88.com.example.net"));
  EXPECT_FALSE(Blocks(*index, "slot88.co"));
  EXPECT_FALSE(Blocks(*index, "my.id"));
  EXPECT_FALSE(Blocks(*index, "com"));
}

TEST(DomainIndexTest, DuplicateKeepsExistingWithoutPreference) {
  DomainIndex::Builder builder(10);
  std::uint64_t h = HashDomain("judi.net");
  ASSERT_TRUE(builder.Add(h, 3));
  ASSERT_TRUE(builder.Add(h, 5));
  EXPECT_EQ(builder.size(), 1u);
  EXPECT_EQ(builder.Finish()->Find(h), 3);
}

TEST(DomainIndexTest, PreferFnDecidesDuplicates) {
  std::vector<std::pair<ClassId, ClassId>> calls;
  // Lower class id wins, as a stand-in for "allow beats block".
  DomainIndex::Builder builder(10, 0.7, [&calls](ClassId incoming, ClassId existing) {
    calls.emplace_back(incoming, existing);
    return incoming < existing;
  });
  std::uint64_t a = HashDomain("a.com");
  std::uint64_t b = HashDomain("b.com");
  ASSERT_TRUE(builder.Add(a, 9));
  ASSERT_TRUE(builder.Add(a, 4));   // preferred: replaces 9
  ASSERT_TRUE(builder.Add(a, 6));   // not preferred over 4
  ASSERT_TRUE(builder.Add(b, 2));
  ASSERT_TRUE(builder.Add(b, 2));   // same class: nothing to decide
  EXPECT_EQ(builder.size(), 2u);
  auto index = builder.Finish();
  EXPECT_EQ(index->Find(a), 4);
  EXPECT_EQ(index->Find(b), 2);
  std::vector<std::pair<ClassId, ClassId>> want = {{4, 9}, {6, 4}};
  EXPECT_EQ(calls, want);
}

TEST(DomainIndexTest, EveryClassIdRoundTripsIncludingTombstone) {
  DomainIndex::Builder builder(DomainIndex::kTombstone + 1);
  for (std::uint32_t c = 0; c <= DomainIndex::kTombstone; ++c) {
    ASSERT_TRUE(builder.Add(HashDomain("n" + std::to_string(c) + ".id"), static_cast<ClassId>(c)));
  }
  EXPECT_FALSE(builder.Add(HashDomain("too-big.id"), DomainIndex::kTombstone + 1));
  EXPECT_FALSE(builder.Add(HashDomain("too-big.id"), DomainIndex::kNotFound));
  auto index = builder.Finish();
  EXPECT_EQ(index->size(), DomainIndex::kTombstone + 1u);
  for (std::uint32_t c = 0; c <= DomainIndex::kTombstone; ++c) {
    EXPECT_EQ(index->Find(HashDomain("n" + std::to_string(c) + ".id")), c);
  }
  EXPECT_EQ(index->Find(HashDomain("too-big.id")), DomainIndex::kNotFound);
}

TEST(DomainIndexTest, BuilderRefusesEntriesWhenNearlyFull) {
  // 10 entries at 0.7 need 2 buckets (16 slots); the builder stops near 95%.
  DomainIndex::Builder builder(10);
  std::uint64_t added = 0;
  while (builder.Add(SplitMix(added), 1)) {
    ++added;
    ASSERT_LT(added, 16u);
  }
  EXPECT_GE(added, 10u);
  EXPECT_EQ(builder.size(), added);
  EXPECT_TRUE(builder.Add(SplitMix(0), 2));  // a duplicate needs no room
  auto index = builder.Finish();
  for (std::uint64_t i = 0; i < added; ++i) EXPECT_EQ(index->Find(SplitMix(i)), 1);
  // Lookups of absent keys still end: some slot stays empty.
  for (std::uint64_t i = added; i < added + 1000; ++i) {
    EXPECT_EQ(index->Find(SplitMix(i)), DomainIndex::kNotFound);
  }
}

TEST(DomainIndexTest, BuilderRefusesAbsurdlyLongChains) {
  // Small hashes all map to bucket 0 of a roomy table, so each overflows further.
  DomainIndex::Builder builder(1'000'000);
  std::uint64_t added = 0;
  while (builder.Add(added + 1, 1)) ++added;
  EXPECT_GE(added, 64u * 8);  // long chains are tolerated...
  EXPECT_LT(added, 5000u);    // ...up to a bound, far below the table's capacity
  auto index = builder.Finish();
  EXPECT_EQ(index->size(), added);
  EXPECT_EQ(index->Find(added), 1);
}

TEST(DomainIndexTest, FinishIsOnceOnly) {
  DomainIndex::Builder builder(1);
  ASSERT_TRUE(builder.Add(1, 1));
  ASSERT_NE(builder.Finish(), nullptr);
  EXPECT_FALSE(builder.Add(2, 1));
  EXPECT_EQ(builder.Finish(), nullptr);
}

TEST(DomainIndexTest, EmptyIndex) {
  auto index = DomainIndex::Builder(0).Finish();
  ASSERT_NE(index, nullptr);
  EXPECT_TRUE(index->empty());
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->memory_bytes(), 64u);
  EXPECT_EQ(index->Find(HashDomain("slot88.com")), DomainIndex::kNotFound);
  EXPECT_FALSE(Blocks(*index, "www.slot88.com"));

  TempDir dir;
  ASSERT_TRUE(index->Save(dir.File("empty.idx"), 1).ok());
  std::unique_ptr<DomainIndex> loaded;
  std::uint64_t tag = 0;
  ASSERT_TRUE(DomainIndex::Load(dir.File("empty.idx"), &loaded, &tag).ok());
  EXPECT_TRUE(loaded->empty());
  EXPECT_EQ(loaded->Find(HashDomain("slot88.com")), DomainIndex::kNotFound);
}

TEST(DomainIndexTest, SaveLoadRoundTrip) {
  constexpr std::uint64_t kN = 50'000;
  auto index = BuildFirst(kN);
  TempDir dir;
  const std::string path = dir.File("domains.idx");
  ASSERT_TRUE(index->Save(path, 0xfeedbeef12345ULL).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(std::filesystem::file_size(path), 64 + index->memory_bytes());

  std::unique_ptr<DomainIndex> loaded;
  std::uint64_t tag = 0;
  Status st = DomainIndex::Load(path, &loaded, &tag);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(tag, 0xfeedbeef12345ULL);
  EXPECT_EQ(loaded->size(), kN);
  EXPECT_EQ(loaded->memory_bytes(), index->memory_bytes());
  index.reset();  // the loaded copy stands alone
  for (std::uint64_t i = 0; i < kN; ++i) {
    ASSERT_EQ(loaded->Find(HashDomain(SyntheticName(i))), ClassFor(i));
  }
  for (std::uint64_t i = kN; i < 2 * kN; ++i) {
    ASSERT_EQ(loaded->Find(HashDomain(SyntheticName(i))), DomainIndex::kNotFound);
  }

  // Saving over an existing file replaces it; a loaded index saves like a built one.
  ASSERT_TRUE(loaded->Save(path, 2).ok());
  ASSERT_TRUE(DomainIndex::Load(path, &loaded, &tag).ok());
  EXPECT_EQ(tag, 2u);
  EXPECT_EQ(loaded->size(), kN);
}

class DomainIndexCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto index = BuildFirst(1000);
    ASSERT_TRUE(index->Save(path_, 42).ok());
    std::ifstream in(path_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
    ASSERT_EQ(bytes_.size(), 64 + index->memory_bytes());
  }

  Status LoadBytes(const std::string& bytes) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
    std::unique_ptr<DomainIndex> out;
    std::uint64_t tag;
    Status st = DomainIndex::Load(path_, &out, &tag);
    EXPECT_EQ(st.ok(), out != nullptr);
    return st;
  }

  TempDir dir_;
  std::string path_ = dir_.File("domains.idx");
  std::string bytes_;
};

TEST_F(DomainIndexCorruptionTest, IntactFileLoads) { EXPECT_TRUE(LoadBytes(bytes_).ok()); }

TEST_F(DomainIndexCorruptionTest, TruncatedFileIsRejected) {
  for (std::size_t keep : {bytes_.size() - 1, bytes_.size() - 64, std::size_t{64}, std::size_t{10},
                           std::size_t{0}}) {
    Status st = LoadBytes(bytes_.substr(0, keep));
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << keep << ": " << st.ToString();
  }
  Status st = LoadBytes(bytes_ + std::string(64, '\0'));
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
}

TEST_F(DomainIndexCorruptionTest, FlippedByteIsRejected) {
  // Every header byte, and bytes spread over the table (used and empty slots alike).
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < 64; ++i) offsets.push_back(i);
  for (std::size_t i = 64; i < bytes_.size(); i += 97) offsets.push_back(i);
  offsets.push_back(bytes_.size() - 1);
  for (std::size_t off : offsets) {
    std::string damaged = bytes_;
    damaged[off] ^= 0x10;
    Status st = LoadBytes(damaged);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << "offset " << off << ": " << st.ToString();
  }
}

TEST_F(DomainIndexCorruptionTest, MissingFileIsNotFound) {
  std::unique_ptr<DomainIndex> out;
  std::uint64_t tag;
  EXPECT_TRUE(DomainIndex::Load(dir_.File("absent.idx"), &out, &tag).IsNotFound());
}

}  // namespace
}  // namespace saring::match
