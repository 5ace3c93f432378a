#include "proxy/url.h"

#include <arpa/inet.h>

#include <cstring>

#include "core/ascii.h"
#include "saring/name.h"

namespace saring::proxy {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr std::size_t kMaxHostHeader = 1024;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 3986 unreserved: ALPHA DIGIT - . _ ~
bool IsUnreserved(unsigned char c) {
  return IsAlpha(static_cast<char>(c)) || IsDigit(static_cast<char>(c)) || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Control bytes, space and DEL: never allowed raw in a request target.
bool IsCtlOrSpace(unsigned char c) { return c <= 0x20 || c == 0x7f; }

void AppendEscaped(std::string* out, unsigned char b) {
  out->push_back('%');
  out->push_back(kUpperHex[b >> 4]);
  out->push_back(kUpperHex[b & 15]);
}

std::string DescribeByte(unsigned char b) {
  std::string s = "byte 0x";
  s.push_back(kUpperHex[b >> 4]);
  s.push_back(kUpperHex[b & 15]);
  return s;
}

// Decodes the escape starting at s[i] == '%'. Returns the byte, or an error
// for a malformed escape or %00 (`where` names the part, for the message).
Status DecodeEscape(std::string_view s, std::size_t i, std::string_view where, unsigned char* byte) {
  int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
  int lo = hi >= 0 ? HexValue(s[i + 2]) : -1;
  if (lo < 0) {
    return Status::InvalidArgument("malformed percent-escape in the " + std::string(where) +
                                   " ('%' must be followed by two hex digits)");
  }
  *byte = static_cast<unsigned char>(hi * 16 + lo);
  if (*byte == 0) return Status::InvalidArgument("%00 (NUL byte) in the " + std::string(where));
  return Status::OK();
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits "[userinfo@]host[:port]" into host and port text. `where` is
// "request target" or "Host header" (which may not carry userinfo).
Status SplitAuthority(std::string_view authority, bool allow_userinfo, std::string_view where,
                      std::string_view* host, std::string_view* port) {
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (!allow_userinfo) return Status::InvalidArgument("'@' in the " + std::string(where));
    authority.remove_prefix(at + 1);
  }
  *port = {};
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("unclosed '[' in the host of the " + std::string(where));
    }
    *host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Status::InvalidArgument("text after the IPv6 literal in the " + std::string(where));
      }
      *port = rest.substr(1);
    }
  } else if (std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    *host = authority.substr(0, colon);
    *port = authority.substr(colon + 1);
  } else {
    *host = authority;
  }
  if (host->empty()) return Status::InvalidArgument("missing host in the " + std::string(where));
  return Status::OK();
}

// Port text (may be empty: the default) to a number 1..65535.
Status ParsePort(std::string_view text, std::uint16_t default_port, std::uint16_t* port) {
  if (text.empty()) {
    *port = default_port;
    return Status::OK();
  }
  std::uint32_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return Status::InvalidArgument("bad port '" + std::string(text.substr(0, 16)) + "'");
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 65535) return Status::InvalidArgument("port out of range (above 65535)");
  }
  if (value == 0) return Status::InvalidArgument("bad port 0");
  *port = static_cast<std::uint16_t>(value);
  return Status::OK();
}

// One part of a WHATWG IPv4 host: decimal, 0x-hex or 0-octal. False if not a
// number or above 2^32-1.
bool ParseIpv4Part(std::string_view part, std::uint64_t* value) {
  unsigned radix = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    radix = 16;
    part.remove_prefix(2);
  } else if (part.size() >= 2 && part[0] == '0') {
    radix = 8;
    part.remove_prefix(1);
  }
  std::uint64_t v = 0;
  for (char c : part) {
    int d = HexValue(c);
    if (d < 0 || static_cast<unsigned>(d) >= radix) return false;
    v = v * radix + static_cast<unsigned>(d);
    if (v > 0xffffffffULL) return false;
  }
  *value = v;
  return true;
}

// WHATWG URL "ends in a number" host: parsed as IPv4 (any spelling browsers
// accept) and written as dotted decimal. Returns 1 when done, 0 when `name` is
// not an IPv4 form (a domain), -1 when it is one but invalid.
int NormalizeIpv4(std::string_view name, std::string* out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::size_t dot = name.rfind('.');
  std::string_view last = name.substr(dot == std::string_view::npos ? 0 : dot + 1);
  if (last.empty()) return 0;
  bool numeric = true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    for (char c : last.substr(2)) numeric &= HexValue(c) >= 0;
  } else {
    for (char c : last) numeric &= IsDigit(c);
  }
  if (!numeric) return 0;

  std::uint64_t parts[4];
  std::size_t n = 0;
  while (true) {
    std::size_t end = name.find('.');
    std::string_view part = name.substr(0, end);
    if (part.empty() || n == 4 || !ParseIpv4Part(part, &parts[n])) return -1;
    ++n;
    if (end == std::string_view::npos) break;
    name.remove_prefix(end + 1);
  }
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (parts[i] > 255) return -1;
  }
  if (parts[n - 1] >= (1ULL << (8 * (5 - n)))) return -1;
  std::uint64_t address = parts[n - 1];
  for (std::size_t i = 0; i + 1 < n; ++i) address += parts[i] << (8 * (3 - i));

  char buf[16];
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned octet = static_cast<unsigned>((address >> shift) & 0xff);
    char* p = buf;
    if (octet >= 100) *p++ = static_cast<char>('0' + octet / 100);
    if (octet >= 10) *p++ = static_cast<char>('0' + octet / 10 % 10);
    *p++ = static_cast<char>('0' + octet % 10);
    out->append(buf, p);
    if (shift) out->push_back('.');
  }
  return 1;
}

// Host text (from the target or the Host header, without port) into its normal
// form. `scratch` is used only when the host carries percent-escapes.
Status NormalizeHost(std::string_view raw, std::string* out, std::string* scratch) {
  out->clear();
  if (raw.front() == '[') {
    std::string_view inner = raw.substr(1, raw.size() - 2);
    char text[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    if (inner.empty() || inner.size() >= sizeof(text)) return Status::InvalidArgument("invalid IPv6 literal");
    std::memcpy(text, inner.data(), inner.size());
    text[inner.size()] = '\0';
    if (inet_pton(AF_INET6, text, addr) != 1) {
      return Status::InvalidArgument("invalid IPv6 literal '" + std::string(raw) + "'");
    }
    if (!inet_ntop(AF_INET6, addr, text, sizeof(text))) return Status::Internal("inet_ntop failed");
    out->push_back('[');
    out->append(text);
    out->push_back(']');
    return Status::OK();
  }

  std::string_view name = raw;
  if (raw.find('%') != std::string_view::npos) {
    scratch->clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      unsigned char b = static_cast<unsigned char>(raw[i]);
      if (b == '%') {
        SARING_RETURN_IF_ERROR(DecodeEscape(raw, i, "host", &b));
        i += 2;
      }
      scratch->push_back(static_cast<char>(b));
    }
    name = *scratch;
  }
  for (char c : name) {
    if (IsCtlOrSpace(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument(DescribeByte(static_cast<unsigned char>(c)) + " in the host");
    }
  }
  int ip = NormalizeIpv4(name, out);
  if (ip > 0) return Status::OK();
  if (ip < 0) {
    out->clear();
    return Status::InvalidArgument("invalid IPv4 address '" + std::string(name.substr(0, 64)) + "'");
  }
  Status st = NormalizeDomain(name, out);
  if (!st.ok()) {
    return Status::InvalidArgument("invalid host '" + std::string(name.substr(0, 64)) + "': " + st.message());
  }
  return Status::OK();
}

// The path, as described in url.h: decode every escape, '/' and '\' (raw or
// decoded) separate segments, empty and dot segments go, bytes that would
// change the URL's structure or are not printable ASCII are re-escaped.
Status NormalizePath(std::string_view in, std::string* path) {
  path->clear();
  path->push_back('/');
  std::size_t seg_start = 1;  // invariant: (*path)[seg_start - 1] == '/'
  auto finish_segment = [&](bool at_end) {
    std::string_view seg(path->data() + seg_start, path->size() - seg_start);
    if (seg.empty()) {
      // "//" collapses; a trailing '/' stays as the one already there.
    } else if (seg == ".") {
      path->resize(seg_start);
    } else if (seg == "..") {
      path->resize(seg_start);
      if (path->size() > 1) {
        path->pop_back();  // the '/' before ".."
        path->resize(path->rfind('/') + 1);
      }
    } else if (!at_end) {
      path->push_back('/');
    }
    seg_start = path->size();
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    unsigned char b = static_cast<unsigned char>(in[i]);
    if (b == '%') {
      SARING_RETURN_IF_ERROR(DecodeEscape(in, i, "path", &b));
      i += 2;
    }
    if (b == '/' || b == '\\') {
      finish_segment(false);
    } else if (b == '%' || b == '?' || b == '#' || IsCtlOrSpace(b) || b >= 0x80) {
      AppendEscaped(path, b);
    } else {
      path->push_back(static_cast<char>(b));
    }
  }
  finish_segment(true);
  return Status::OK();
}

// The query: escapes of unreserved characters decoded, other escapes kept
// (upper-case hex), raw bytes >= 0x80 escaped, everything else as sent.
Status NormalizeQuery(std::string_view in, std::string* query) {
  query->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    unsigned char b = static_cast<unsigned char>(in[i]);
    if (b == '%') {
      SARING_RETURN_IF_ERROR(DecodeEscape(in, i, "query", &b));
      i += 2;
      if (IsUnreserved(b)) {
        query->push_back(static_cast<char>(b));
      } else {
        AppendEscaped(query, b);
      }
    } else if (b >= 0x80) {
      AppendEscaped(query, b);
    } else {
      query->push_back(static_cast<char>(b));
    }
  }
  return Status::OK();
}

}  // namespace

Status NormalizeRequestUrl(std::string_view target, std::string_view host_header, NormalizedUrl* out) {
  out->host.clear();
  out->path.clear();
  out->query.clear();
  out->url.clear();
  out->port = 80;
  out->https = false;
  out->host_header_mismatch = false;

  if (target.empty()) return Status::InvalidArgument("empty request target");
  if (target.size() > kMaxRequestTarget) {
    return Status::InvalidArgument("request target longer than 8192 bytes");
  }
  for (char c : target) {
    if (IsCtlOrSpace(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument(DescribeByte(static_cast<unsigned char>(c)) +
                                     " (control character or space) in the request target");
    }
  }
  host_header = TrimBlanks(host_header);
  if (host_header.size() > kMaxHostHeader) return Status::InvalidArgument("Host header too long");

  std::string_view authority, rest;
  bool absolute = false;
  std::uint16_t default_port = 80;
  if (target.front() == '/') {
    if (host_header.empty()) {
      return Status::InvalidArgument("missing Host header for an origin-form request target");
    }
    for (char c : host_header) {
      if (IsCtlOrSpace(static_cast<unsigned char>(c))) {
        return Status::InvalidArgument(DescribeByte(static_cast<unsigned char>(c)) + " in the Host header");
      }
    }
    authority = host_header;
    rest = target;
  } else if (target == "*") {
    return Status::InvalidArgument("asterisk-form request target ('*') cannot be filtered by URL");
  } else {
    std::size_t sep = target.find("://");
    std::size_t scheme_end = target.find_first_of(":/?#");
    if (sep == std::string_view::npos || sep != scheme_end) {
      std::string_view after_colon =
          scheme_end == std::string_view::npos || target[scheme_end] != ':' ? std::string_view()
                                                                              : target.substr(scheme_end + 1);
      if (!after_colon.empty() && after_colon.find_first_not_of("0123456789") == std::string_view::npos) {
        return Status::InvalidArgument(
            "authority-form request target (host:port) is only for CONNECT; want http://host/path or /path");
      }
      return Status::InvalidArgument("request target is neither absolute-form (http://host/path) nor "
                                     "origin-form (/path)");
    }
    std::string_view scheme = target.substr(0, sep);
    if (EqualsIgnoreCase(scheme, "http")) {
      default_port = 80;
    } else if (EqualsIgnoreCase(scheme, "https")) {
      default_port = 443;
      out->https = true;
    } else {
      return Status::InvalidArgument("unsupported scheme '" + std::string(scheme.substr(0, 16)) +
                                     "' (want http or https)");
    }
    absolute = true;
    std::string_view after = target.substr(sep + 3);
    std::size_t end = after.find_first_of("/?#\\");
    authority = after.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : after.substr(end);
  }

  std::string_view where = absolute ? "request target" : "Host header";
  std::string_view host_text, port_text;
  SARING_RETURN_IF_ERROR(SplitAuthority(authority, absolute, where, &host_text, &port_text));
  std::string scratch;  // only used (and allocated) for a host with escapes
  SARING_RETURN_IF_ERROR(NormalizeHost(host_text, &out->host, &scratch));
  SARING_RETURN_IF_ERROR(ParsePort(port_text, default_port, &out->port));

  if (std::size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  std::string_view path_text = rest, query_text;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    path_text = rest.substr(0, q);
    query_text = rest.substr(q + 1);
  }
  SARING_RETURN_IF_ERROR(NormalizePath(path_text, &out->path));
  SARING_RETURN_IF_ERROR(NormalizeQuery(query_text, &out->query));

  if (absolute && !host_header.empty()) {
    // Cheap test first: the same text (but for case) as the target's authority.
    std::string_view target_authority = authority.substr(authority.rfind('@') + 1);  // npos + 1 == 0
    if (!EqualsIgnoreCase(host_header, target_authority)) {
      std::string_view hh_host, hh_port;
      std::string hh_normal;
      std::uint16_t hh_port_number = 0;
      bool same = SplitAuthority(host_header, false, "Host header", &hh_host, &hh_port).ok() &&
                  NormalizeHost(hh_host, &hh_normal, &scratch).ok() &&
                  ParsePort(hh_port, default_port, &hh_port_number).ok() && hh_normal == out->host &&
                  hh_port_number == out->port;
      out->host_header_mismatch = !same;
    }
  }

  const bool default_port_used = out->port == default_port;
  out->url.reserve(8 + out->host.size() + 6 + out->path.size() + 1 + out->query.size());
  out->url.append(out->https ? "https://" : "http://");
  out->url.append(out->host);
  if (!default_port_used) {
    char buf[8];
    char* end = buf + sizeof(buf);
    char* p = end;
    for (unsigned v = out->port; v; v /= 10) *--p = static_cast<char>('0' + v % 10);
    out->url.push_back(':');
    out->url.append(p, end);
  }
  out->url.append(out->path);
  if (!out->query.empty()) {
    out->url.push_back('?');
    out->url.append(out->query);
  }
  return Status::OK();
}

}  // namespace saring::proxy
