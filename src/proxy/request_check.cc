#include "proxy/request_check.h"

#include <boost/asio/ip/address.hpp>

#include "saring/name.h"

namespace saring::proxy {

namespace {

void Refuse(int status, std::string_view reason, RequestDecision* d) {
  d->kind = RequestDecision::Kind::kRefuse;
  d->status = status;
  d->reason.assign(reason);
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

void OriginFormTarget(std::string_view target, std::string* out) {
  out->clear();
  std::size_t scheme = target.find("://");
  if (scheme != std::string_view::npos) {
    std::size_t rest = target.find_first_of("/?#", scheme + 3);
    if (rest == std::string_view::npos) return out->push_back('/');
    target.remove_prefix(rest);
    if (target.front() != '/') out->push_back('/');
  }
  out->append(target.substr(0, target.find('#')));
  if (out->empty()) out->push_back('/');
}

void DecideRequest(const RequestHead& head, ListenerKind listener, const Snapshot* snapshot,
                   std::span<const std::uint16_t> connect_ports, RequestDecision* d) {
  d->kind = RequestDecision::Kind::kRefuse;
  d->status = 400;
  d->reason.clear();
  d->host.clear();
  d->port = 0;
  d->url.clear();
  d->origin_target.clear();
  d->query.clear();
  d->verdict = Verdict{};
  d->rule.clear();
  d->serial = 0;

  // Framing first: a request whose length two parties could read differently
  // is refused before anything else (request smuggling).
  if (head.content_length_fields > 0 && head.transfer_encoding_fields > 0) {
    return Refuse(400, "Both Content-Length and Transfer-Encoding.", d);
  }
  if (head.content_length_fields > 1 || head.transfer_encoding_fields > 1) {
    return Refuse(400, "Repeated Content-Length or Transfer-Encoding.", d);
  }
  if (head.host_fields > 1) return Refuse(400, "More than one Host field.", d);
  if (snapshot == nullptr) return Refuse(503, "The rule set is not loaded yet.", d);

  if (head.method == "CONNECT") {
    if (listener != ListenerKind::kExplicit) return Refuse(501, "CONNECT is for the explicit proxy.", d);
    if (!ParseConnectTarget(head.target, &d->host, &d->port)) {
      d->host.clear();
      d->port = 0;
      return Refuse(400, "CONNECT needs host:port.", d);
    }
    d->url.append(d->host).append(":").append(std::to_string(d->port));
    bool allowed = false;
    for (std::uint16_t p : connect_ports) allowed |= p == d->port;
    if (!allowed) {
      d->host.clear();
      d->port = 0;
      return Refuse(403, "CONNECT to this port is not allowed.", d);
    }
    d->serial = snapshot->serial();
    d->verdict = snapshot->CheckName(d->host);
    if (d->verdict.blocked()) d->rule.assign(d->verdict.rule);
    d->verdict.rule = {};  // it may view d->host
    d->kind = d->verdict.blocked() ? RequestDecision::Kind::kBlock : RequestDecision::Kind::kTunnel;
    d->status = d->verdict.blocked() ? 403 : 200;
    return;
  }

  bool absolute = head.target.find("://") != std::string_view::npos && !head.target.starts_with("/");
  if (listener == ListenerKind::kExplicit && !absolute) {
    return Refuse(400, "This is a proxy: send the absolute URL.", d);
  }
  std::string_view host = head.host;
  if (host.empty() && listener != ListenerKind::kExplicit) host = head.original_host;
  if (!absolute && host.empty()) return Refuse(400, "The request has no Host field.", d);

  NormalizedUrl& url = d->scratch;
  Status st = NormalizeRequestUrl(head.target, host, &url);
  if (!st.ok()) return Refuse(400, st.message(), d);
  if (url.https) return Refuse(501, "https:// URLs go through CONNECT.", d);

  d->serial = snapshot->serial();
  d->verdict = snapshot->CheckUrl(url.host, url.url);
  if (d->verdict.blocked()) d->rule.assign(d->verdict.rule);
  d->verdict.rule = {};  // it may view the scratch's host
  d->host.assign(url.host);
  d->port = url.port;
  d->url.assign(url.url);
  d->query.assign(url.query);
  if (d->verdict.blocked()) {
    d->kind = RequestDecision::Kind::kBlock;
    d->status = 403;
    return;
  }
  d->kind = RequestDecision::Kind::kForward;
  d->status = 200;
  OriginFormTarget(head.target, &d->origin_target);
}

}  // namespace saring::proxy
