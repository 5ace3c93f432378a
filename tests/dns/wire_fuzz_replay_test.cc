// Runs the libFuzzer target tests/fuzz/dns_wire_fuzz.cc where there is no libFuzzer (CI
// builds with g++): over every seed in tests/fuzz/corpus/dns_wire/ and over deterministic
// mutations of them. The target aborts when an invariant breaks, which fails the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "testing/fuzz_replay.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace saring::dns {
namespace {

using testing::Bytes;
using testing::Rng;

// Bytes that sit on the edges of the format: label lengths, pointer tags, counts.
constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x02, 0x0c, 0x29, 0x3f,
                                         0x40, 0x7f, 0x80, 0xc0, 0xc0, 0xff};

void DnsMutation(Bytes* b, Rng* rng, int which) {
  if (which == 0) {  // a pointer to an earlier place
    if (b->size() >= 2) {
      const std::size_t pos = rng->Below(b->size() - 1);
      const std::size_t target = rng->Below(pos + 1);
      (*b)[pos] = static_cast<std::uint8_t>(0xc0 | target >> 8);
      (*b)[pos + 1] = static_cast<std::uint8_t>(target);
    }
  } else if (b->size() >= 12) {  // a header count
    const std::size_t field = 4 + 2 * rng->Below(4);
    const auto count = static_cast<std::uint16_t>(rng->Below(4) == 0 ? 0xffff : rng->Below(4));
    (*b)[field] = static_cast<std::uint8_t>(count >> 8);
    (*b)[field + 1] = static_cast<std::uint8_t>(count);
  }
}

std::vector<Bytes> Corpus() { return testing::LoadCorpus(SARING_SOURCE_DIR "/tests/fuzz/corpus/dns_wire"); }

TEST(WireFuzzReplayTest, Corpus) {
  const std::vector<Bytes> corpus = Corpus();
  ASSERT_GE(corpus.size(), 20u);
  for (const Bytes& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
}

TEST(WireFuzzReplayTest, Mutations) {
  const std::vector<Bytes> corpus = Corpus();
  ASSERT_FALSE(corpus.empty());
  testing::ReplayMutations(corpus, 20250601, 50000, kInteresting, DnsMutation, &LLVMFuzzerTestOneInput);
}

}  // namespace
}  // namespace saring::dns
