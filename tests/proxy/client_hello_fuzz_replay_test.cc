// Runs the libFuzzer target tests/fuzz/client_hello_fuzz.cc where there is no libFuzzer (CI
// builds with g++): over every seed in tests/fuzz/corpus/client_hello/ and over deterministic
// mutations of them. The target aborts when an invariant breaks, which fails the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "testing/fuzz_replay.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace saring::proxy {
namespace {

using testing::Bytes;
using testing::Rng;

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

void TlsMutation(Bytes* b, Rng* rng, int which) {
  if (which == 0) {
    SplitRecord(b, rng->Below(1 << 16));
  } else if (b->size() >= 2) {  // a 16-bit length field nudged by a little
    const std::size_t pos = rng->Below(b->size() - 1);
    const auto value = static_cast<std::uint16_t>(((*b)[pos] << 8 | (*b)[pos + 1]) +
                                                  static_cast<int>(rng->Below(5)) - 2);
    (*b)[pos] = static_cast<std::uint8_t>(value >> 8);
    (*b)[pos + 1] = static_cast<std::uint8_t>(value);
  }
}

std::vector<Bytes> Corpus() { return testing::LoadCorpus(SARING_SOURCE_DIR "/tests/fuzz/corpus/client_hello"); }

TEST(ClientHelloFuzzReplayTest, Corpus) {
  const std::vector<Bytes> corpus = Corpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const Bytes& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
}

TEST(ClientHelloFuzzReplayTest, Mutations) {
  const std::vector<Bytes> corpus = Corpus();
  ASSERT_FALSE(corpus.empty());
  testing::ReplayMutations(corpus, 20250602, 50000, kInteresting, TlsMutation, &LLVMFuzzerTestOneInput);
}

}  // namespace
}  // namespace saring::proxy
