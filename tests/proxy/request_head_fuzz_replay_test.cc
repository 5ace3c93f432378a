// Runs the libFuzzer target tests/fuzz/request_head_fuzz.cc where there is no libFuzzer (CI
// builds with g++): over every seed in tests/fuzz/corpus/request_head/ and over deterministic
// mutations of them. The target aborts when an invariant breaks, which fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "testing/fuzz_replay.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace saring::proxy {
namespace {

using testing::Bytes;
using testing::Rng;

// Bytes on the edges of the format: separators, escapes, digits, controls, UTF-8.
constexpr std::uint8_t kInteresting[] = {'\r', '\n', ' ', ':', '/', '%', '?', '#', '[', ']',
                                         '.',  '0',  '9', 0x00, 0x7f, 0x80, 0xff, '\t'};

// The format's own moves: a header line that matters, or a target rewritten.
void HttpMutation(Bytes* b, Rng* rng, int which) {
  static constexpr std::string_view kLines[] = {
      "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "Host: blocked.test\r\n",
      "Host: gov.test:80\r\n", "Transfer-Encoding: gzip, chunked\r\n", "Content-Length: -1\r\n",
      "Host:\r\n", "Expect: 100-continue\r\n"};
  static constexpr std::string_view kTargets[] = {
      "http://gov.test/slot/x", "http://GOV.TEST.:80/%73lot/../slot/x", "blocked.test:443",
      "http://blocked.test", "/slot/x", "http://[::1]:80/", "*", "http://0x7f.1/", "https://a.test/"};
  std::size_t line_end = 0;
  while (line_end + 1 < b->size() && !((*b)[line_end] == '\r' && (*b)[line_end + 1] == '\n')) ++line_end;
  if (which == 0) {  // insert a header line after the request line
    std::string_view line = kLines[rng->Below(std::size(kLines))];
    std::size_t at = std::min(line_end + 2, b->size());
    b->insert(b->begin() + static_cast<std::ptrdiff_t>(at), line.begin(), line.end());
    return;
  }
  // Replace the request target (between the first two spaces of the request line).
  auto first = std::find(b->begin(), b->begin() + static_cast<std::ptrdiff_t>(line_end), ' ');
  if (first == b->begin() + static_cast<std::ptrdiff_t>(line_end)) return;
  auto second = std::find(first + 1, b->begin() + static_cast<std::ptrdiff_t>(line_end), ' ');
  std::string_view target = kTargets[rng->Below(std::size(kTargets))];
  b->insert(b->erase(first + 1, second), target.begin(), target.end());
}

std::vector<Bytes> Corpus() { return testing::LoadCorpus(SARING_SOURCE_DIR "/tests/fuzz/corpus/request_head"); }

TEST(RequestHeadFuzzReplayTest, Corpus) {
  const std::vector<Bytes> corpus = Corpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const Bytes& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
}

TEST(RequestHeadFuzzReplayTest, Mutations) {
  const std::vector<Bytes> corpus = Corpus();
  ASSERT_FALSE(corpus.empty());
  testing::ReplayMutations(corpus, 20261129, 30000, kInteresting, HttpMutation, &LLVMFuzzerTestOneInput);
}

}  // namespace
}  // namespace saring::proxy
