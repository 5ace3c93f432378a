#include "proxy/request_check.h"

#include <boost/asio/ip/address.hpp>

#include "saring/name.h"

namespace saring::proxy {

namespace {

RequestDecision Refuse(int status, std::string reason) {
  RequestDecision d;
  d.kind = RequestDecision::Kind::kRefuse;
  d.status = status;
  d.reason = std::move(reason);
  return d;
}

bool ParsePort(std::string_view text, std::uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  *port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

bool ParseConnectTarget(std::string_view target, std::string* host, std::uint16_t* port) {
  std::size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || !ParsePort(target.substr(colon + 1), port)) return false;
  std::string_view h = target.substr(0, colon);
  if (h.empty()) return false;
  boost::system::error_code ec;
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    auto a = boost::asio::ip::make_address_v6(std::string(h.substr(1, h.size() - 2)), ec);
    if (ec) return false;
    *host = "[" + a.to_string() + "]";
    return true;
  }
  auto a = boost::asio::ip::make_address_v4(std::string(h), ec);
  if (!ec) {
    *host = a.to_string();
    return true;
  }
  return NormalizeDomain(h, host).ok();
}

std::string OriginFormTarget(std::string_view target) {
  std::size_t scheme = target.find("://");
  std::string out;
  if (scheme != std::string_view::npos) {
    std::size_t rest = target.find_first_of("/?#", scheme + 3);
    if (rest == std::string_view::npos) return "/";
    target.remove_prefix(rest);
    if (target.front() != '/') out = "/";
  }
  out += target.substr(0, target.find('#'));
  if (out.empty()) out = "/";
  return out;
}

RequestDecision DecideRequest(const RequestHead& head, ListenerKind listener, const Snapshot* snapshot,
                              std::span<const std::uint16_t> connect_ports) {
  // Framing first: a request whose length two parties could read differently
  // is refused before anything else (request smuggling).
  if (head.content_length_fields > 0 && head.transfer_encoding_fields > 0) {
    return Refuse(400, "Both Content-Length and Transfer-Encoding.");
  }
  if (head.content_length_fields > 1 || head.transfer_encoding_fields > 1) {
    return Refuse(400, "Repeated Content-Length or Transfer-Encoding.");
  }
  if (head.host_fields > 1) return Refuse(400, "More than one Host field.");
  if (snapshot == nullptr) return Refuse(503, "The rule set is not loaded yet.");

  if (head.method == "CONNECT") {
    if (listener != ListenerKind::kExplicit) return Refuse(501, "CONNECT is for the explicit proxy.");
    RequestDecision d;
    if (!ParseConnectTarget(head.target, &d.host, &d.port)) return Refuse(400, "CONNECT needs host:port.");
    d.url = d.host + ":" + std::to_string(d.port);
    bool allowed = false;
    for (std::uint16_t p : connect_ports) allowed |= p == d.port;
    if (!allowed) {
      RequestDecision r = Refuse(403, "CONNECT to this port is not allowed.");
      r.url = std::move(d.url);
      return r;
    }
    d.serial = snapshot->serial();
    d.verdict = snapshot->CheckName(d.host);
    if (d.verdict.blocked()) d.rule = std::string(d.verdict.rule);
    d.verdict.rule = {};  // it may view d.host, which moves with d
    d.kind = d.verdict.blocked() ? RequestDecision::Kind::kBlock : RequestDecision::Kind::kTunnel;
    d.status = d.verdict.blocked() ? 403 : 200;
    return d;
  }

  bool absolute = head.target.find("://") != std::string_view::npos && !head.target.starts_with("/");
  if (listener == ListenerKind::kExplicit && !absolute) {
    return Refuse(400, "This is a proxy: send the absolute URL.");
  }
  std::string_view host = head.host;
  if (host.empty() && listener != ListenerKind::kExplicit) host = head.original_host;
  if (!absolute && host.empty()) return Refuse(400, "The request has no Host field.");

  NormalizedUrl url;
  Status st = NormalizeRequestUrl(head.target, host, &url);
  if (!st.ok()) return Refuse(400, st.message());
  if (url.https) return Refuse(501, "https:// URLs go through CONNECT.");

  RequestDecision d;
  d.serial = snapshot->serial();
  d.verdict = snapshot->CheckUrl(url.host, url.url);
  if (d.verdict.blocked()) d.rule = std::string(d.verdict.rule);
  d.verdict.rule = {};  // it may view url.host, about to move
  d.host = std::move(url.host);
  d.port = url.port;
  d.url = std::move(url.url);
  d.query = std::move(url.query);
  if (d.verdict.blocked()) {
    d.kind = RequestDecision::Kind::kBlock;
    d.status = 403;
    return d;
  }
  d.kind = RequestDecision::Kind::kForward;
  d.status = 200;
  d.origin_target = OriginFormTarget(head.target);
  return d;
}

}  // namespace saring::proxy
