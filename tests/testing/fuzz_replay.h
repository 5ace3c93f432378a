// What the g++ replay tests of the libFuzzer targets share: the seeds of a
// corpus folder, a portable random sequence, and a byte mutator whose last two
// moves belong to the format under test (DNS pointers, TLS record splits...).
// The targets abort when an invariant breaks, which fails the test.
#ifndef SARING_TESTS_TESTING_FUZZ_REPLAY_H_
#define SARING_TESTS_TESTING_FUZZ_REPLAY_H_

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace saring::testing {

using Bytes = std::vector<std::uint8_t>;

// Every file of `dir`, in name order (directory order varies; the mutations must not).
inline std::vector<Bytes> LoadCorpus(const std::string& dir) {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<Bytes> corpus;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return corpus;
}

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

// The format's own two moves: `which` is 0 or 1.
using FormatMutation = std::function<void(Bytes* b, Rng* rng, int which)>;

// One mutation: a bit flip, an `interesting` byte, a random byte, an insertion,
// an erasure, a cut, a splice with another seed, or one of the format's moves.
inline void Mutate(Bytes* b, const std::vector<Bytes>& corpus, Rng* rng,
                   std::span<const std::uint8_t> interesting, const FormatMutation& format) {
  const std::size_t at = rng->Below(b->size());
  switch (rng->Below(9)) {
    case 0:
      if (!b->empty()) (*b)[at] ^= static_cast<std::uint8_t>(1u << rng->Below(8));
      break;
    case 1:
      if (!b->empty()) (*b)[at] = interesting[rng->Below(interesting.size())];
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
      format(b, rng, 0);
      break;
    default:
      format(b, rng, 1);
      break;
  }
}

// Runs `target` over `count` inputs, each a seed given 1..4 mutations.
inline void ReplayMutations(const std::vector<Bytes>& corpus, std::uint64_t seed, int count,
                            std::span<const std::uint8_t> interesting, const FormatMutation& format,
                            int (*target)(const std::uint8_t*, std::size_t)) {
  Rng rng(seed);
  for (int i = 0; i < count; ++i) {
    Bytes input = corpus[rng.Below(corpus.size())];
    for (std::size_t n = 1 + rng.Below(4); n > 0; --n) Mutate(&input, corpus, &rng, interesting, format);
    target(input.data(), input.size());
  }
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_FUZZ_REPLAY_H_
