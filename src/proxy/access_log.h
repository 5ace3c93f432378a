// Access log in Squid's native format, so existing Squid log tools (SARG,
// Calamaris, lightsquid, logstash's SQUID3 pattern) read the proxy's log
// unchanged. Squid's default:
//   logformat squid %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
// e.g.
//   1718000000.123    456 10.1.2.3 TCP_MISS/200 5120 GET http://example.com/ - HIER_DIRECT/93.184.216.34 text/html
//
// Thread-compatible: AppendSquidLine only touches `out`.
#ifndef SARING_PROXY_ACCESS_LOG_H_
#define SARING_PROXY_ACCESS_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace saring::proxy {

struct AccessEntry {
  std::int64_t time_ms = 0;     // Unix time of the request's end, ms
  std::int64_t elapsed_ms = 0;
  std::string_view client;      // numeric IP, or "" when the privacy switch drops client addresses → "-"
  std::string_view code;        // "TCP_MISS", "TCP_DENIED", "TCP_TUNNEL", ... ("" → "NONE")
  int status = 0;               // HTTP status (403 for blocks, 200 for tunnels; 0 → "000")
  std::uint64_t bytes = 0;      // bytes sent to the client
  std::string_view method, url; // CONNECT: "host:443" ("" → "-")
  std::string_view user;        // "" → "-"
  std::string_view hierarchy;   // "HIER_DIRECT", "HIER_NONE" ("" → "HIER_NONE")
  std::string_view peer;        // upstream IP or "" → "-"
  std::string_view type;        // content type or "" → "-"
};

// Appends one line, ending in '\n', to `out`; allocates only if `out` must
// grow. Layout exactly like Squid's Log::Format::SquidNative:
// "%9ld.%03d %6ld %s %s/%03d %llu %s %s %s %s/%s %s\n" (seconds right-aligned
// to 9, elapsed to 6, status zero-padded to 3). Negative times count as 0.
//
// No field ever holds a space or a control character, so every line splits
// into the same 10 whitespace-separated fields:
//  - url, type: like Squid's rfc1738_escape_unescaped: bytes <= 0x20, 0x7F
//    and >= 0x80 become %XX (upper-case hex); '%' stays as is so an already
//    escaped URL is not escaped twice ("text/html; charset=utf-8" →
//    "text/html;%20charset=utf-8").
//  - user: like Squid's QuoteUrlEncodeUsername (RFC 1738 escaping): the above
//    plus '%' and RFC 1738's unsafe characters ("<>\"#{}|\\^~[]`'").
//  - client, code, method, hierarchy, peer (internal values): escaped like url.
// Query strings are logged as given; strip them first for Squid's
// strip_query_terms behaviour.
void AppendSquidLine(const AccessEntry& entry, std::string* out);

}  // namespace saring::proxy

#endif  // SARING_PROXY_ACCESS_LOG_H_
