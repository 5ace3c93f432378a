// Request-URL normalization for the plain-HTTP proxy: turns the request target
// a client sent (in whatever spelling) into the one canonical URL that URL rules
// (RuleKind::kUrl, Hyperscan regexes; see Snapshot::CheckUrl) are matched
// against. The normalized URL is used for matching (and logging) only; the
// request itself is forwarded unchanged.
//
// The form (RFC 3986 §6.2.2 syntax-based normalization, plus what a filter needs
// so that "%2F", "%73lot", "/./", "/a/../", "HOST.:80" cannot dodge a rule):
//
//   scheme  "http" or "https", lower case.
//   host    a domain through NormalizeDomain (lower case, no trailing dot, IDN
//           labels as punycode); percent-escapes in it are decoded first. An
//           IPv4 address in any spelling browsers accept (0x7f.1, 2130706433,
//           0177.0.0.1; WHATWG URL rules) becomes dotted decimal; an IPv6
//           literal becomes "[" + RFC 5952 text (inet_ntop) + "]".
//   port    dropped when it is the scheme's default (80 / 443), else ":N"
//           (leading zeros removed). Userinfo ("user:pw@") is dropped.
//   path    always starts with '/'. Every %XX is decoded (except %00, which is
//           an error), then:
//             - '/' (raw, or decoded from %2F), '\' (raw, or %5C) are segment
//               separators; empty segments are dropped ("//" -> "/");
//             - dot segments are removed (RFC 3986 §5.2.4) after decoding, so
//               "%2e%2E" counts as "..";
//             - bytes that would change the URL's structure or are not
//               printable ASCII are put back as upper-case %XX: '%' (%25), '?'
//               (%3F), '#' (%23), space, control bytes, DEL and bytes >= 0x80
//               (so a raw UTF-8 path and its escaped spelling agree);
//             - everything else is written as the plain character.
//           Decoding is done once: "%252F" becomes "%2F" in the output, not
//           '/'. Case is kept (servers are case-sensitive).
//   query   without the '?'. Only escapes of unreserved characters
//           (ALPHA DIGIT - . _ ~) are decoded; other escapes stay, with
//           upper-case hex; '&', '=', '+' and the rest are kept as sent; raw
//           bytes >= 0x80 are escaped. An empty query ("/p?") is dropped.
//   fragment dropped.
//
// Case of URL rules: the path keeps its case, but the PatternSet compiles every
// URL rule caseless (HS_FLAG_CASELESS), so "/Slot-Gacor/" matches a rule
// written "/slot-gacor/". Should that flag ever go, rules that want
// case-insensitivity must say so with (?i).
//
// Errors (InvalidArgument, message says what is wrong): a target longer than
// 8 KiB; control characters or spaces (raw); %00 anywhere; a '%' not followed by
// two hex digits; a missing or invalid host; a bad port (not digits, 0, or above
// 65535); a scheme other than http/https; authority-form ("host:443", CONNECT's
// business) and asterisk-form ("*") targets.
//
// Free functions, no state: callable from any thread.
#ifndef SARING_PROXY_URL_H_
#define SARING_PROXY_URL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring::proxy {

inline constexpr std::size_t kMaxRequestTarget = 8192;

struct NormalizedUrl {
  std::string host;      // NormalizeDomain'd name, dotted IPv4, or "[IPv6]"
  std::uint16_t port = 80;
  std::string path;      // normalized path, always starting with '/'
  std::string query;     // without '?'; see above for what is decoded
  std::string url;       // scheme "://" host [":" port] path ["?" query]: what CheckUrl gets
  bool https = false;    // the target said https:// (absolute-form only)
  // Absolute-form target whose host or port differs from a (non-empty) Host
  // header, or whose Host header is unparsable. Not an error: the absolute-form
  // host wins (RFC 9112 §3.2.2); the proxy may log it.
  bool host_header_mismatch = false;
};

// Normalizes `target` (absolute-form "http://Host:80/a%2fb?x" as an explicit
// proxy gets it, or origin-form "/a?b" as a transparent proxy gets it, in which
// case the host comes from `host_header`) into `*out`. `host_header` is the Host
// field value (surrounding blanks are ignored), or empty when absent.
//
// `*out` may be reused across calls: its strings are cleared, not reassigned,
// so they keep their capacity and an ASCII request does not allocate once they
// are large enough. On error, `*out` holds no meaningful URL (url is empty).
Status NormalizeRequestUrl(std::string_view target, std::string_view host_header, NormalizedUrl* out);

}  // namespace saring::proxy

#endif  // SARING_PROXY_URL_H_
