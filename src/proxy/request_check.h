// RequestDecision: what the proxy does with one HTTP request head, decided
// from the head alone and the published rule snapshot. No sockets, no state:
// the sessions (http_session.h) act on it, and the libFuzzer target
// (tests/fuzz/request_head_fuzz.cc) drives it with arbitrary bytes.
#ifndef SARING_PROXY_REQUEST_CHECK_H_
#define SARING_PROXY_REQUEST_CHECK_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/url.h"
#include "saring/snapshot.h"
#include "saring/verdict.h"

namespace saring::proxy {

// Which listener the request came in on.
enum class ListenerKind : std::uint8_t {
  kExplicit,         // a browser configured to use the proxy: absolute-form and CONNECT
  kTransparentHttp,  // redirected port-80 traffic: origin-form with a Host header
  kBlockPage,        // the DNS sinkhole's page server: every request gets a page
};

// The parts of a request head the decision needs (views into the parser's
// message; the caller counts repeated fields).
struct RequestHead {
  std::string_view method;       // as sent ("GET", "CONNECT", ...)
  std::string_view target;       // request target
  std::string_view host;         // the Host field ("" when absent)
  int host_fields = 0;           // how many Host fields
  int content_length_fields = 0;
  int transfer_encoding_fields = 0;
  // Transparent listener: the original destination as a host text
  // ("10.1.2.3", "[2001:db8::1]"), used when the request has no Host field.
  std::string_view original_host;
};

struct RequestDecision {
  enum class Kind : std::uint8_t {
    kForward,  // plain HTTP allowed: forward to host:port with origin_target
    kTunnel,   // CONNECT allowed by name: resolve host, splice, then check the SNI
    kBlock,    // a rule blocks it: the block page (403)
    kRefuse,   // not servable: an error page with `status` and `reason`
  };
  Kind kind = Kind::kRefuse;
  int status = 400;
  std::string reason;           // kRefuse: for the error page and the log
  std::string host;             // normalized host: name, dotted IPv4, or "[IPv6]"
  std::uint16_t port = 0;
  std::string url;              // what the log shows: the normalized URL; CONNECT: "host:port"
  std::string origin_target;    // kForward: the target to send upstream ("/path?query")
  std::string query;            // normalized query (for the block page's ?lang)
  // kBlock (and the allow verdict otherwise). Its source and category view
  // the snapshot (valid while the caller's snapshot is); its rule may view the
  // name that was checked, so use `rule` instead.
  Verdict verdict;
  std::string rule;             // kBlock: the deciding rule's text (a copy)
  std::uint64_t serial = 0;     // the snapshot that decided

  NormalizedUrl scratch;        // DecideRequest's working space (kept for its capacity)
};

// Decides on `head`. `snapshot` null (no rules loaded yet) → kRefuse 503
// (fail closed). `connect_ports`: ports CONNECT may reach (others → 403).
// Refusals: 400 for malformed targets, a missing or repeated Host (HTTP/1.1
// requires exactly one; a transparent request may fall back to
// original_host), both Content-Length and Transfer-Encoding (smuggling), or
// repeated Transfer-Encoding/Content-Length fields; 400 on the explicit
// listener for origin-form; 501 for https:// targets (those go through
// CONNECT) and for CONNECT on a transparent listener.
// Writes into `*d`, replacing all of it but reusing its strings' capacity: a
// session keeps one decision for all its requests, so deciding allocates
// nothing once the strings have grown to its requests' size.
void DecideRequest(const RequestHead& head, ListenerKind listener, const Snapshot* snapshot,
                   std::span<const std::uint16_t> connect_ports, RequestDecision* d);

// Splits CONNECT's authority-form "host:port" / "[v6]:port" and normalizes the
// host (NormalizeDomain, or an IP literal); false if malformed.
bool ParseConnectTarget(std::string_view target, std::string* host, std::uint16_t* port);

// The origin-form target ("/p?q") of an absolute-form one, fragment dropped;
// an origin-form target is kept as it is (fragment dropped). Replaces *out.
void OriginFormTarget(std::string_view target, std::string* out);

}  // namespace saring::proxy

#endif  // SARING_PROXY_REQUEST_CHECK_H_
