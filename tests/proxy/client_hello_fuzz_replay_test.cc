// Runs the libFuzzer target tests/fuzz/client_hello_fuzz.cc where there is no libFuzzer (CI
// builds with g++): over every seed in tests/fuzz/corpus/client_hello/ and over deterministic
// mutations of them. The target aborts when an invariant breaks, which fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace saring::proxy {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::vector<Bytes> LoadCorpus() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry :
       std::filesystem::directory_iterator(SARING_SOURCE_DIR "/tests/fuzz/corpus/client_hello")) {
    if (entry.is_regular_file()) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());  // directory order varies; the mutations must not
  std::vector<Bytes> corpus;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return corpus;
}

void RunOne(const Bytes& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

// SplitMix64: the same sequence on every platform, unlike the std distributions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t x = state_ += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::size_t Below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(Next() % n); }

 private:
  std::uint64_t state_;
};

// Bytes on the edges of the format: record types, versions, small lengths, name types.
constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x02, 0x03, 0x05, 0x10, 0x16,
                                         0x20, 0x2e, 0x40, 0x7f, 0x80, 0xfe, 0xff};

// Splits the first record's payload at `at` into two records (the shape a fragmenting client
// or a DPI-evasion tool sends), when the input starts with a plausible record header.
void SplitRecord(Bytes* b, std::size_t at) {
  if (b->size() < 7 || (*b)[0] != 0x16) return;
  const std::size_t len = (*b)[3] << 8 | (*b)[4];
  if (len < 2 || 5 + len > b->size()) return;
  const std::size_t first = 1 + at % (len - 1);
  const std::size_t second = len - first;
  (*b)[3] = static_cast<std::uint8_t>(first >> 8);
  (*b)[4] = static_cast<std::uint8_t>(first);
  b->insert(b->begin() + static_cast<std::ptrdiff_t>(5 + first),
            {0x16, (*b)[1], (*b)[2], static_cast<std::uint8_t>(second >> 8),
             static_cast<std::uint8_t>(second)});
}

void Mutate(Bytes* b, const std::vector<Bytes>& corpus, Rng* rng) {
  const std::size_t at = rng->Below(b->size());
  switch (rng->Below(9)) {
    case 0:
      if (!b->empty()) (*b)[at] ^= static_cast<std::uint8_t>(1u << rng->Below(8));
      break;
    case 1:
      if (!b->empty()) (*b)[at] = kInteresting[rng->Below(std::size(kInteresting))];
      break;
    case 2:
      if (!b->empty()) (*b)[at] = static_cast<std::uint8_t>(rng->Next());
      break;
    case 3:
      b->insert(b->begin() + static_cast<std::ptrdiff_t>(at), 1 + rng->Below(4),
                static_cast<std::uint8_t>(rng->Next()));
      break;
    case 4:
      b->erase(
          b->begin() + static_cast<std::ptrdiff_t>(at),
          b->begin() + static_cast<std::ptrdiff_t>(std::min(b->size(), at + 1 + rng->Below(8))));
      break;
    case 5:
      b->resize(at);
      break;
    case 6: {  // this input's head on another's tail
      const Bytes& other = corpus[rng->Below(corpus.size())];
      const std::size_t from = rng->Below(other.size());
      b->resize(at);
      b->insert(b->end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
      break;
    }
    case 7:
      SplitRecord(b, rng->Below(1 << 16));
      break;
    default:  // a 16-bit length field nudged by a little
      if (b->size() >= 2) {
        const std::size_t pos = rng->Below(b->size() - 1);
        const auto value = static_cast<std::uint16_t>(((*b)[pos] << 8 | (*b)[pos + 1]) +
                                                      static_cast<int>(rng->Below(5)) - 2);
        (*b)[pos] = static_cast<std::uint8_t>(value >> 8);
        (*b)[pos + 1] = static_cast<std::uint8_t>(value);
      }
      break;
  }
}

TEST(ClientHelloFuzzReplayTest, Corpus) {
  const std::vector<Bytes> corpus = LoadCorpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const Bytes& input : corpus) RunOne(input);
}

TEST(ClientHelloFuzzReplayTest, Mutations) {
  const std::vector<Bytes> corpus = LoadCorpus();
  ASSERT_FALSE(corpus.empty());
  Rng rng(20250602);
  for (int i = 0; i < 50000; ++i) {
    Bytes input = corpus[rng.Below(corpus.size())];
    for (std::size_t n = 1 + rng.Below(4); n > 0; --n) Mutate(&input, corpus, &rng);
    RunOne(input);
  }
}

}  // namespace
}  // namespace saring::proxy
