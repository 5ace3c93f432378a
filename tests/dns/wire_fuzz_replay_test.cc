// Runs the libFuzzer target tests/fuzz/dns_wire_fuzz.cc where there is no libFuzzer (CI
// builds with g++): over every seed in tests/fuzz/corpus/dns_wire/ and over deterministic
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

namespace saring::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::vector<Bytes> LoadCorpus() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry :
       std::filesystem::directory_iterator(SARING_SOURCE_DIR "/tests/fuzz/corpus/dns_wire")) {
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

// Bytes that sit on the edges of the format: label lengths, pointer tags, counts.
constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x02, 0x0c, 0x29, 0x3f,
                                         0x40, 0x7f, 0x80, 0xc0, 0xc0, 0xff};

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
    case 7:  // a pointer to an earlier place
      if (b->size() >= 2) {
        const std::size_t pos = rng->Below(b->size() - 1);
        const std::size_t target = rng->Below(pos + 1);
        (*b)[pos] = static_cast<std::uint8_t>(0xc0 | target >> 8);
        (*b)[pos + 1] = static_cast<std::uint8_t>(target);
      }
      break;
    default:  // a header count
      if (b->size() >= 12) {
        const std::size_t field = 4 + 2 * rng->Below(4);
        const auto count = static_cast<std::uint16_t>(rng->Below(4) == 0 ? 0xffff : rng->Below(4));
        (*b)[field] = static_cast<std::uint8_t>(count >> 8);
        (*b)[field + 1] = static_cast<std::uint8_t>(count);
      }
      break;
  }
}

TEST(WireFuzzReplayTest, Corpus) {
  const std::vector<Bytes> corpus = LoadCorpus();
  ASSERT_GE(corpus.size(), 20u);
  for (const Bytes& input : corpus) RunOne(input);
}

TEST(WireFuzzReplayTest, Mutations) {
  const std::vector<Bytes> corpus = LoadCorpus();
  ASSERT_FALSE(corpus.empty());
  Rng rng(20250601);
  for (int i = 0; i < 50000; ++i) {
    Bytes input = corpus[rng.Below(corpus.size())];
    for (std::size_t n = 1 + rng.Below(4); n > 0; --n) Mutate(&input, corpus, &rng);
    RunOne(input);
  }
}

}  // namespace
}  // namespace saring::dns
