// Pieces of hand-made DNS packets for tests that talk to saringd over raw
// sockets (hostile input, counters): a header and a name in wire form.
#ifndef SARING_TESTS_TESTING_DNS_PACKET_H_
#define SARING_TESTS_TESTING_DNS_PACKET_H_

#include <cstdint>
#include <string>

namespace saring::testing {

// The 12-byte header, big-endian fields in order.
inline std::string DnsHeader(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                             std::uint16_t ns = 0, std::uint16_t ar = 0) {
  std::string h;
  for (std::uint16_t v : {id, flags, qd, an, ns, ar}) {
    h.push_back(static_cast<char>(v >> 8));
    h.push_back(static_cast<char>(v));
  }
  return h;
}

// "www.example.test" -> \3www\7example\4test\0 (no checks: tests build bad names too).
inline std::string WireName(const std::string& dotted) {
  std::string out;
  std::size_t start = 0;
  while (start < dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    out.push_back(static_cast<char>(dot - start));
    out += dotted.substr(start, dot - start);
    start = dot + 1;
  }
  out.push_back('\0');
  return out;
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_DNS_PACKET_H_
