#include "match/pattern_set.h"

#include <gtest/gtest.h>
#include <hs.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace saring::match {
namespace {

using Pattern = PatternSet::Pattern;

bool Collect(std::uint32_t id, void* ctx) {
  static_cast<std::vector<std::uint32_t>*>(ctx)->push_back(id);
  return false;
}

bool StopAtFirst(std::uint32_t id, void* ctx) {
  static_cast<std::vector<std::uint32_t>*>(ctx)->push_back(id);
  return true;
}

std::vector<std::uint32_t> Matches(const PatternSet& set, std::string_view text) {
  std::vector<std::uint32_t> ids;
  Status st = set.Scan(text, Collect, &ids);
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::unique_ptr<PatternSet> MustCompile(const std::vector<Pattern>& patterns) {
  std::unique_ptr<PatternSet> set;
  Status st = PatternSet::Compile(patterns, &set);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return set;
}

const std::vector<Pattern> kGambling = {
    {"slot.?(gacor|88|303)", 1},
    {"togel", 2},
    {"maxwin", 3},
    {"^judi[-.]", 4},
};

TEST(PatternSetTest, MatchesAndNonMatches) {
  auto set = MustCompile(kGambling);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->pattern_count(), 4u);
  EXPECT_GT(set->database_bytes(), 0u);
  EXPECT_EQ(Matches(*set, "slotgacor.xyz"), std::vector<std::uint32_t>{1});
  EXPECT_EQ(Matches(*set, "bandartogel.net"), std::vector<std::uint32_t>{2});
  EXPECT_EQ(Matches(*set, "judi-online.com"), std::vector<std::uint32_t>{4});
  EXPECT_TRUE(Matches(*set, "timeslot.example.com").empty());
  EXPECT_TRUE(Matches(*set, "kotabogor.go.id").empty());
  EXPECT_TRUE(Matches(*set, "budijudi.com").empty());  // anchored pattern 4
  EXPECT_TRUE(Matches(*set, "").empty());
}

TEST(PatternSetTest, CaseInsensitive) {
  auto set = MustCompile(kGambling);
  EXPECT_EQ(Matches(*set, "SlotGACOR.xyz"), std::vector<std::uint32_t>{1});
  EXPECT_EQ(Matches(*set, "TOGEL.net"), std::vector<std::uint32_t>{2});
}

TEST(PatternSetTest, ReportsEveryMatchingIdOnce) {
  auto set = MustCompile(kGambling);
  // "slot88" twice and "maxwin" twice: each id still reported once.
  EXPECT_EQ(Matches(*set, "slot88-maxwin-togel-slot88-maxwin.xyz"),
            (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST(PatternSetTest, CallerChosenIds) {
  auto set = MustCompile({{"gacor", 70001}, {"zeus", 42}});
  EXPECT_EQ(Matches(*set, "zeusgacor.site"), (std::vector<std::uint32_t>{42, 70001}));
}

TEST(PatternSetTest, ReturningTrueStopsTheScan) {
  auto set = MustCompile(kGambling);
  std::vector<std::uint32_t> ids;
  Status st = set->Scan("slot88-maxwin-togel.xyz", StopAtFirst, &ids);
  EXPECT_TRUE(st.ok()) << st.ToString();  // termination on request is not an error
  EXPECT_EQ(ids.size(), 1u);
}

TEST(PatternSetTest, InvalidRegexNamesThePatternAndHyperscansReason) {
  std::vector<Pattern> patterns = {{"slot", 1}, {"gacor(", 17}, {"togel", 3}};
  std::unique_ptr<PatternSet> set;
  Status st = PatternSet::Compile(patterns, &set);
  ASSERT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_EQ(set, nullptr);
  EXPECT_NE(st.message().find("17"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("gacor("), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("parenthesis"), std::string::npos) << st.message();

  Status v = PatternSet::Validate("gacor(");
  EXPECT_TRUE(v.IsInvalidArgument());
  EXPECT_NE(v.message().find("parenthesis"), std::string::npos) << v.message();
  EXPECT_TRUE(PatternSet::Validate("slot.?gacor").ok());
}

TEST(PatternSetTest, RejectsPatternsMatchingTheEmptyString) {
  std::unique_ptr<PatternSet> set;
  Status st = PatternSet::Compile(std::vector<Pattern>{{"togel", 1}, {"(slot)?", 9}}, &set);
  ASSERT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_NE(st.message().find("pattern 9"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("empty string"), std::string::npos) << st.message();

  Status v = PatternSet::Validate("x*");
  EXPECT_TRUE(v.IsInvalidArgument());
  EXPECT_NE(v.message().find("empty string"), std::string::npos) << v.message();
}

TEST(PatternSetTest, RejectsNulInExpression) {
  std::unique_ptr<PatternSet> set;
  std::string expr("slot\0gacor", 10);
  EXPECT_TRUE(PatternSet::Compile(std::vector<Pattern>{{expr, 5}}, &set).IsInvalidArgument());
  EXPECT_TRUE(PatternSet::Validate(expr).IsInvalidArgument());
}

TEST(PatternSetTest, SerializeRoundTripKeepsBehaviour) {
  auto set = MustCompile(kGambling);
  std::string bytes;
  ASSERT_TRUE(set->Serialize(&bytes).ok());
  std::unique_ptr<PatternSet> copy;
  Status st = PatternSet::Deserialize(bytes, &copy);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(copy->pattern_count(), set->pattern_count());
  EXPECT_EQ(copy->database_bytes(), set->database_bytes());
  for (std::string_view name : {"slotgacor.xyz", "slot88-maxwin-togel.xyz", "judi-bola.net",
                                "timeslot.example.com", "Togel.COM", ""}) {
    EXPECT_EQ(Matches(*copy, name), Matches(*set, name)) << name;
  }
}

TEST(PatternSetTest, BadBytesAreCorruption) {
  auto set = MustCompile(kGambling);
  std::string good;
  ASSERT_TRUE(set->Serialize(&good).ok());
  std::unique_ptr<PatternSet> out;

  std::string garbage(4096, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
  EXPECT_EQ(PatternSet::Deserialize(garbage, &out).code(), Status::Code::kCorruption);
  EXPECT_EQ(PatternSet::Deserialize("", &out).code(), Status::Code::kCorruption);

  // Our header intact, Hyperscan's bytes garbage.
  std::string bad_body = good.substr(0, 16) + garbage;
  EXPECT_EQ(PatternSet::Deserialize(bad_body, &out).code(), Status::Code::kCorruption);

  // Every truncation, and bytes appended.
  for (std::size_t n = 0; n < good.size(); n += 1 + n / 16) {
    EXPECT_EQ(PatternSet::Deserialize(std::string_view(good).substr(0, n), &out).code(),
              Status::Code::kCorruption)
        << "truncated to " << n;
  }
  EXPECT_EQ(PatternSet::Deserialize(good + "x", &out).code(), Status::Code::kCorruption);

  // One flipped bit in the bytecode: Hyperscan's CRC catches it. (Not at the
  // very end: the serialized form ends in alignment padding the CRC skips.)
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  EXPECT_EQ(PatternSet::Deserialize(flipped, &out).code(), Status::Code::kCorruption);
  EXPECT_EQ(out, nullptr);
}

TEST(PatternSetTest, ConcurrentScansOfOneSet) {
  auto set = MustCompile(kGambling);
  // A second set makes each thread's scratch serve two databases.
  auto other = MustCompile({{"casino", 1}, {"sbobet", 2}, {"(zeus|olympus).?\\d+", 3}});
  struct Case {
    std::string_view text;
    std::vector<std::uint32_t> want;
  };
  const std::vector<Case> cases = {
      {"slotgacor.xyz", {1}},
      {"bandartogel.net", {2}},
      {"slot303-maxwin.site", {1, 3}},
      {"kemkes.go.id", {}},
      {"judi.bola88.com", {4}},
  };
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const Case& c = cases[(i + t) % cases.size()];
        std::vector<std::uint32_t> ids;
        if (!set->Scan(c.text, Collect, &ids).ok()) ++failures;
        std::sort(ids.begin(), ids.end());
        if (ids != c.want) ++failures;
        ids.clear();
        if (!other->Scan("casino-zeus88.com", Collect, &ids).ok() || ids.size() != 2) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

std::atomic<int> g_scratch_allocs{0};

void* CountingAlloc(std::size_t n) {
  ++g_scratch_allocs;
  return std::malloc(n);
}

TEST(PatternSetTest, SteadyStateScanDoesNotAllocateScratch) {
  auto a = MustCompile(kGambling);
  auto b = MustCompile({{"casino", 1}});
  ASSERT_EQ(hs_set_scratch_allocator(CountingAlloc, std::free), HS_SUCCESS);
  Matches(*a, "slotgacor.xyz");
  Matches(*b, "casino.xyz");
  int after_warmup = g_scratch_allocs.load();
  for (int i = 0; i < 100; ++i) {
    Matches(*a, "slotgacor.xyz");
    Matches(*b, "casino.xyz");
  }
  EXPECT_EQ(g_scratch_allocs.load(), after_warmup);
  ASSERT_EQ(hs_set_scratch_allocator(nullptr, nullptr), HS_SUCCESS);
}

TEST(PatternSetTest, EmptySetMatchesNothing) {
  auto set = MustCompile({});
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->pattern_count(), 0u);
  EXPECT_EQ(set->database_bytes(), 0u);
  EXPECT_TRUE(Matches(*set, "slotgacor.xyz").empty());

  std::string bytes;
  ASSERT_TRUE(set->Serialize(&bytes).ok());
  std::unique_ptr<PatternSet> copy;
  ASSERT_TRUE(PatternSet::Deserialize(bytes, &copy).ok());
  EXPECT_EQ(copy->pattern_count(), 0u);
  EXPECT_TRUE(Matches(*copy, "slotgacor.xyz").empty());
}

TEST(PatternSetTest, CacheKeyFollowsExpressionsAndIds) {
  std::vector<Pattern> a = {{"slot", 1}, {"togel", 2}};
  std::vector<Pattern> other_id = {{"slot", 1}, {"togel", 3}};
  std::vector<Pattern> other_text = {{"slot", 1}, {"toge1", 2}};
  std::string key = PatternSet::CacheKey(a);
  EXPECT_EQ(key, PatternSet::CacheKey(a));
  EXPECT_NE(key, PatternSet::CacheKey(other_id));
  EXPECT_NE(key, PatternSet::CacheKey(other_text));
  EXPECT_NE(key, PatternSet::CacheKey({}));
  EXPECT_NE(key.find("-hs"), std::string::npos) << key;
  EXPECT_EQ(key.find(' '), std::string::npos) << key;
}

}  // namespace
}  // namespace saring::match
