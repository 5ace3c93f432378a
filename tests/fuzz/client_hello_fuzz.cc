// libFuzzer target for the transparent proxy's ClientHello reader (src/proxy/client_hello.h).
// Besides "no crash, no read outside the input", it checks what the listener relies on:
// a kOk hello's name lies inside the input or the scratch buffer and is a valid host name,
// `consumed` is within the input and parses alone to the same result, every shorter prefix
// of it is kNeedMore, kNeedMore only while below kMaxHelloBytes, and the same handshake
// message re-fragmented into other records parses the same.
// Built with clang by tests/fuzz/CMakeLists.txt; tests/proxy/client_hello_fuzz_replay_test.cc
// calls the same entry point over the corpus in every build.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/client_hello.h"

namespace saring::proxy {
namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "client_hello_fuzz: invariant broken: %s\n", what);
  std::abort();
}

bool Inside(std::string_view v, const void* begin, std::size_t size) {
  const auto* p = static_cast<const char*>(begin);
  return v.data() >= p && v.data() + v.size() <= p + size;
}

bool Same(const ClientHelloInfo& a, const ClientHelloInfo& b) {
  return a.server_name == b.server_name && a.has_sni == b.has_sni &&
         a.client_version == b.client_version && a.alpn_h2 == b.alpn_h2 &&
         a.alpn_http11 == b.alpn_http11;
}

void CheckOk(std::span<const std::uint8_t> input, const ClientHelloInfo& info,
             std::span<const char> scratch) {
  Check(info.consumed >= 5 + 4 + 41 && info.consumed <= input.size(), "consumed in range");
  Check(info.consumed <= kMaxHelloBytes, "consumed within the limit");
  Check(info.record_version >> 8 == 3 && info.client_version >> 8 == 3, "versions");
  Check(info.has_sni == !info.server_name.empty(), "has_sni iff a name");
  if (info.has_sni) {
    Check(info.server_name.size() <= kMaxServerName, "name length");
    Check(Inside(info.server_name, input.data(), info.consumed) ||
              Inside(info.server_name, scratch.data(), scratch.size()),
          "name inside the input or the scratch");
    for (char c : info.server_name) {
      const auto b = static_cast<unsigned char>(c);
      Check((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                b == '-' || b == '.' || b == '_',
            "host name bytes");
    }
  }
}

// The handshake message out of the records of a kOk hello.
std::vector<std::uint8_t> Message(std::span<const std::uint8_t> records, std::size_t consumed) {
  std::vector<std::uint8_t> message;
  for (std::size_t pos = 0; pos < consumed;) {
    const std::size_t len = records[pos + 3] << 8 | records[pos + 4];
    Check(len > 0 && pos + 5 + len <= consumed, "records tile `consumed`");
    message.insert(message.end(), records.begin() + static_cast<std::ptrdiff_t>(pos + 5),
                   records.begin() + static_cast<std::ptrdiff_t>(pos + 5 + len));
    pos += 5 + len;
  }
  return message;
}

}  // namespace
}  // namespace saring::proxy

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace saring::proxy;
  const std::span<const std::uint8_t> input(data, size);
  char scratch[kMaxServerName];
  ClientHelloInfo info;
  const HelloResult result = ParseClientHello(input, &info, scratch);
  if (result == HelloResult::kNeedMore) Check(size < kMaxHelloBytes, "kNeedMore below the limit");
  if (result != HelloResult::kOk) {
    Check(info.consumed == 0 && !info.has_sni && info.server_name.empty(), "nothing on failure");
    // Without a scratch buffer, only a split name can make a difference.
    ClientHelloInfo bare;
    Check(ParseClientHello(input, &bare) == result, "same result without scratch");
    return 0;
  }
  CheckOk(input, info, scratch);

  // Without scratch: the same, unless the name was split over records (then it fails closed).
  ClientHelloInfo bare;
  const HelloResult bare_result = ParseClientHello(input, &bare);
  if (info.has_sni && !Inside(info.server_name, data, size)) {
    Check(bare_result == HelloResult::kMalformed, "split name without scratch fails closed");
  } else {
    Check(bare_result == HelloResult::kOk && Same(bare, info) &&
              bare.server_name.data() == info.server_name.data(),
          "same parse without scratch");
  }

  // The records alone parse the same; any prefix of them wants more.
  ClientHelloInfo again;
  char scratch2[kMaxServerName];
  Check(ParseClientHello(input.first(info.consumed), &again, scratch2) == HelloResult::kOk &&
            Same(again, info) && again.consumed == info.consumed,
        "records alone parse the same");
  for (std::size_t n : {std::size_t{0}, std::size_t{5}, info.consumed / 2, info.consumed - 1}) {
    Check(ParseClientHello(input.first(n), &again, scratch2) == HelloResult::kNeedMore,
          "a prefix needs more");
  }

  // Re-fragmented into records of a size the input picks: the same hello.
  const std::vector<std::uint8_t> message = Message(input, info.consumed);
  const std::size_t piece = 1 + (size > 0 ? data[size - 1] : 0);
  std::vector<std::uint8_t> records;
  for (std::size_t from = 0; from < message.size(); from += piece) {
    const std::size_t len = std::min(piece, message.size() - from);
    records.insert(records.end(), {22, static_cast<std::uint8_t>(info.record_version >> 8),
                                   static_cast<std::uint8_t>(info.record_version),
                                   static_cast<std::uint8_t>(len >> 8),
                                   static_cast<std::uint8_t>(len)});
    records.insert(records.end(), message.begin() + static_cast<std::ptrdiff_t>(from),
                   message.begin() + static_cast<std::ptrdiff_t>(from + len));
  }
  const HelloResult refragmented = ParseClientHello(records, &again, scratch2);
  if (records.size() > kMaxHelloBytes) {
    Check(refragmented == HelloResult::kTooLarge, "refragmented too large");
  } else {
    Check(refragmented == HelloResult::kOk && Same(again, info) &&
              again.consumed == records.size(),
          "refragmented parses the same");
    CheckOk(records, again, scratch2);
  }
  return 0;
}
