// libFuzzer target for the DNS wire format (src/dns/wire.h). Besides "no crash, no read
// outside the packet", it checks that what saring writes parses back. The input is tried as
// a query and, with the QR bit set, as the response to itself, so the fuzzer reaches deep
// into response parsing without having to match a query it cannot see.
// Built with clang by tests/fuzz/CMakeLists.txt; tests/dns/wire_fuzz_replay_test.cc calls
// the same entry point over the corpus in every build.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "dns/wire.h"

namespace saring::dns {
namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_wire_fuzz: invariant broken: %s\n", what);
  std::abort();
}

struct Targets {
  int count = 0;
  NameText first;
};

bool CollectTarget(const NameText& target, void* context) {
  auto* targets = static_cast<Targets*>(context);
  if (targets->count++ == 0) targets->first = target;
  return false;
}

bool TtlOffsetsInside(const ResponseInfo& info, std::size_t size) {
  for (std::uint8_t i = 0; i < info.ttl_offset_count; ++i) {
    if (info.ttl_offsets[i] < kHeaderSize || info.ttl_offsets[i] + 4u > size) return false;
  }
  return true;
}

std::array<std::uint8_t, 65535> out;

// The answers saringd makes for a query that parsed.
void WriteAnswers(const Query& q) {
  Check(!q.question.empty() && q.name.size <= 253, "kOk query has its question");
  Check(q.udp_payload >= kMinUdpPayload && q.udp_payload <= kMaxUdpPayload, "payload clamped");

  AnswerWriter writer(out, q.udp_payload, q);
  writer.SetAuthoritative(true);
  writer.AddEde(kEdeBlocked, "judi online \xc3\xa9");
  writer.AddCname(300, "Blocked.Saring.Invalid.");
  writer.AddA(200, {10, 0, 0, 1});
  for (int i = 0; i < 20; ++i) writer.AddAaaa(100, {0x20, 0x01, 0x0d, 0xb8});
  writer.AddSoa(q.name.view(), 60, 30);
  const std::size_t size = writer.Finish();
  Check(size >= kHeaderSize + q.question.size() && size <= q.udp_payload, "answer size");

  const std::span<std::uint8_t> answer(out.data(), size);
  ResponseInfo info;
  Check(ParseResponse(answer, q, &info), "own answer parses back");
  Check(info.answer_count >= 2 && info.rcode == Rcode::kNoError, "own answer has records");
  if (!info.truncated) {
    Check(info.cacheable && info.cache_ttl > 0 && info.cache_ttl <= 100, "own answer TTL");
    Check(TtlOffsetsInside(info, size), "own answer TTL offsets");
  }
  Targets targets;
  ForEachCnameTarget(answer, CollectTarget, &targets);
  Check(targets.count == 1 && targets.first.view() == "blocked.saring.invalid", "CNAME target");

  ReuseAnswer(answer, static_cast<std::uint16_t>(q.id + 1), q.question,
              {info.ttl_offsets.data(), info.ttl_offset_count}, 150, 5);
  Query next = q;
  next.id = static_cast<std::uint16_t>(q.id + 1);
  Check(ParseResponse(answer, next, &info), "reused answer parses");

  // Served stale: an EDE appended to the OPT (when there is one) keeps it valid.
  const std::size_t stale = AppendEde(out, size, q.udp_payload, kEdeStaleAnswer, "stale");
  Check(stale == size || stale == size + 11, "stale EDE size");
  Check(ParseResponse(std::span(out).first(stale), next, &info), "stale answer parses");
}

void WriteErrors(const Query& q, ParseStatus status) {
  const std::size_t size = WriteError(std::span(out).first(512), q, status, Rcode::kFormErr,
                                      kEdeProhibited, "bad query");
  Check(size >= kHeaderSize && size <= 512, "error size");
  if (q.question.empty()) return;
  ResponseInfo info;
  Check(ParseResponse(std::span(out).first(size), q, &info), "error answer parses back");
  const auto rcode = static_cast<unsigned>(info.rcode);
  Check(rcode == (status == ParseStatus::kBadVers ? 16u : 1u), "error rcode");
}

// The input as the answer to itself: as a query with QR clear, then as a response.
void ParseAsResponse(std::span<const std::uint8_t> input) {
  if (input.size() < kHeaderSize) return;
  std::vector<std::uint8_t> as_query(input.begin(), input.end());
  as_query[2] &= 0x7f;
  Query q;
  if (ParseQuery(as_query, &q) == ParseStatus::kDrop) return;
  std::vector<std::uint8_t> response(input.begin(), input.end());
  response[2] |= 0x80;
  ResponseInfo info;
  if (!ParseResponse(response, q, &info)) return;
  Check(info.id == q.id, "response id");
  if (info.truncated) return;
  Check(TtlOffsetsInside(info, response.size()), "response TTL offsets");
  Targets targets;
  ForEachCnameTarget(response, CollectTarget, &targets);
  Check(targets.count <= 17, "CNAME limit");

  ReuseAnswer(response, 0x4242, q.question, {info.ttl_offsets.data(), info.ttl_offset_count}, 3600,
              0);
  q.id = 0x4242;
  Check(ParseResponse(response, q, &info), "reused response parses");
}

}  // namespace
}  // namespace saring::dns

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace saring::dns;
  const std::span<const std::uint8_t> input(data, size);
  Query q;
  const ParseStatus status = ParseQuery(input, &q);
  if (status == ParseStatus::kOk) WriteAnswers(q);
  if (status != ParseStatus::kDrop) WriteErrors(q, status);
  ParseAsResponse(input);
  Targets targets;
  ForEachCnameTarget(input, CollectTarget, &targets);
  return 0;
}
