#include "proxy/forward_proxy.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "net/server_core.h"
#include "proxy/access_log.h"
#include "proxy/block_page.h"
#include "proxy/url.h"
#include "saring/name.h"

namespace saring::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kErrorWriteTimeout = std::chrono::milliseconds(5000);
constexpr std::size_t kTunnelChunk = 16384;
// After a closing response: how long and how much the client may still send.
constexpr auto kLinger = std::chrono::milliseconds(2000);
constexpr std::size_t kLingerBytes = 1u << 20;

std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

bool IEquals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()), beast::string_view(b.data(), b.size()));
}

// The block page for a verdict; the reference code names the snapshot and
// the deciding rule's class, so no per-request record is needed.
std::string BlockPageFor(const Verdict& v, std::uint64_t serial, std::string_view host, std::string_view url,
                         Language language, std::string_view report_url) {
  std::string reference = EncodeReference(serial, v.class_id, v.kind);
  BlockPageInfo info;
  info.host = host;
  info.url = url;
  info.rule = v.rule;
  info.source = v.source;
  info.category = v.category;
  info.reference = reference;
  info.report_url = report_url;
  info.kind = v.kind;
  return RenderBlockPage(info, language);
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

net::ip::address Unmapped(net::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  return a;
}

std::array<std::uint8_t, 16> Mapped16(const net::ip::address& a) {
  if (a.is_v4()) return net::ip::make_address_v6(net::ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    }
  }
  return out;
}

// A plain error page (not a block): 400, 502, 504, ...
std::string ErrorPage(int status, std::string_view title, std::string_view detail) {
  std::string t = std::to_string(status) + " " + std::string(title);
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(t) +
         "</title></head><body><h1>" + HtmlEscape(t) + "</h1><p>" + HtmlEscape(detail) +
         "</p><hr><p>saring proxy</p></body></html>\n";
}

// The value of query parameter `key` in `query` (no decoding; "" if absent).
std::string_view QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    std::size_t eq = part.find('=');
    if (part.substr(0, eq) == key) return eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// "http://host:port/p?q" → "/p?q"; "http://host" → "/".
std::string OriginForm(std::string_view target) {
  std::size_t scheme = target.find("://");
  if (scheme == std::string_view::npos) return std::string(target);
  std::size_t rest = target.find_first_of("/?#", scheme + 3);
  if (rest == std::string_view::npos) return "/";
  std::string out;
  if (target[rest] != '/') out = "/";
  std::string_view tail = target.substr(rest);
  tail = tail.substr(0, tail.find('#'));
  out += tail;
  return out;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) plus those the Connection header names.
template <class Fields>
void StripHopByHop(Fields& fields) {
  std::vector<std::string> named;
  for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
       ++it) {
    for (auto token : http::token_list(it->value())) named.emplace_back(Std(token));
  }
  for (const auto& n : named) fields.erase(beast::string_view(n.data(), n.size()));
  for (auto f : {http::field::connection, http::field::proxy_connection, http::field::keep_alive, http::field::te,
                 http::field::trailer, http::field::upgrade, http::field::proxy_authorization,
                 http::field::proxy_authenticate}) {
    fields.erase(f);
  }
}

using SessionBase = saring::net::ServerSession;

// The calling proxy thread's reader (each proxy thread sets it once).
thread_local SnapshotReader* t_reader = nullptr;
thread_local const SnapshotPublisher* t_reader_of = nullptr;

}  // namespace

struct ForwardProxy::Impl {
  ForwardProxyOptions options;
  const SnapshotPublisher* snapshots = nullptr;
  std::uint16_t port = 0;

  // The io_context, threads, acceptor and sessions; declared after what the
  // sessions refer to, so that it (and with it the sessions) goes first.
  std::unique_ptr<saring::net::ServerCore> core;

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Unregister(std::uint64_t id) { core->Unregister(id); }
  void Stop() { core->Stop(); }

  // The current snapshot, through this thread's reader: one atomic load, no lock.
  const Snapshot* CurrentSnapshot(std::shared_ptr<const Snapshot>* fallback) const {
    if (t_reader != nullptr && t_reader_of == snapshots) return t_reader->Get();
    *fallback = snapshots->Current();  // not a proxy thread (should not happen)
    return fallback->get();
  }
  bool ClientAllowed(const net::ip::address& a) const {
    if (options.allow_clients.empty()) return Unmapped(a).is_loopback();
    auto bytes = Mapped16(a);
    for (const Subnet& s : options.allow_clients) {
      if (s.Contains(bytes)) return true;
    }
    return false;
  }
  void Log(const AccessEntry& e) const {
    if (!options.access_log) return;
    std::string line;
    AppendSquidLine(e, &line);
    options.access_log(line);
  }
};

namespace {

// One client connection. Every step runs on the connection's strand (the
// upstream socket and resolver share it).
class Session : public SessionBase {
 public:
  Session(ForwardProxy::Impl* proxy, std::uint64_t id, tcp::socket socket)
      : proxy_(proxy),
        options_(proxy->options),
        id_(id),
        client_(std::move(socket)),
        resolver_(client_.get_executor()) {}

  ~Session() override { proxy_->Unregister(id_); }

  void Run() override { net::dispatch(client_.get_executor(), [self = Self()] { self->Begin(); }); }
  void Close() override {
    net::post(client_.get_executor(), [self = Self()] { self->DoClose(); });
  }

 private:
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void Begin() {
    if (closing_) return;
    beast::error_code ec;
    tcp::endpoint peer = client_.socket().remote_endpoint(ec);
    if (ec) return DoClose();
    net::ip::address a = Unmapped(peer.address());
    client_ip_ = a.to_string();
    // A client outside allow_clients gets its 403 once its request head is in
    // (answering before it would race the request and could reset the page).
    denied_client_ = !proxy_->ClientAllowed(a);
    ReadHead(options_.header_timeout_ms);
  }

  // ---- request head ----

  void ReadHead(int timeout_ms) {
    if (closing_) return;
    req_parser_.emplace();
    req_parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    req_parser_->body_limit(options_.max_body_bytes);
    client_.expires_after(std::chrono::milliseconds(timeout_ms));
    http::async_read_header(client_, cbuf_, *req_parser_,
                            [self = Self()](beast::error_code ec, std::size_t) { self->OnHead(ec); });
  }

  void OnHead(beast::error_code ec) {
    if (closing_) return;
    start_ = Clock::now();
    method_ = "-";
    url_.clear();
    if (ec && denied_client_) return DoClose();
    if (ec) {
      if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
          ec == net::error::operation_aborted) {
        return DoClose();
      }
      if (ec == beast::error::timeout) {
        if (cbuf_.size() == 0 && served_ > 0) return DoClose();  // idle keep-alive connection
        return SendPage(408, ErrorPage(408, "Request Timeout", "The request did not arrive in time."), false,
                        "TCP_MISS");
      }
      if (ec == http::error::header_limit) {
        return SendPage(431, ErrorPage(431, "Request Header Fields Too Large", "The request head is too large."),
                        false, "TCP_MISS");
      }
      return SendPage(400, ErrorPage(400, "Bad Request", "Malformed request: " + ec.message()), false,
                      "TCP_MISS");
    }
    auto& req = req_parser_->get();
    method_ = std::string(Std(req.method_string()));
    url_ = std::string(Std(req.target()));
    if (denied_client_) {
      spdlog::warn("proxy: client {} is not in allow_clients: refused", client_ip_);
      return SendPage(403, ErrorPage(403, "Forbidden", "This proxy does not serve your address."), false,
                      "TCP_DENIED");
    }
    client_keep_alive_ = req.keep_alive();
    auto pc = req.find(http::field::proxy_connection);
    if (pc != req.end() && IEquals(Std(pc->value()), "close")) client_keep_alive_ = false;

    // Request smuggling: both framings present (Beast refuses most of these
    // itself; checked again so no spelling slips through).
    if (req.count(http::field::content_length) > 0 && req.count(http::field::transfer_encoding) > 0) {
      return SendPage(400, ErrorPage(400, "Bad Request", "Both Content-Length and Transfer-Encoding."), false,
                      "TCP_MISS");
    }
    if (req.method() == http::verb::connect) return OnConnect();

    Status st = NormalizeRequestUrl(Std(req.target()), Std(req[http::field::host]), &nurl_);
    if (!st.ok() || Std(req.target()).find("://") == std::string_view::npos) {
      // Origin-form or garbage: this is an explicit proxy only.
      return SendPage(400,
                      ErrorPage(400, "Bad Request",
                                st.ok() ? "This is a proxy: send the absolute URL." : st.message()),
                      false, "TCP_MISS");
    }
    url_ = nurl_.url;
    if (nurl_.https) {
      return SendPage(501, ErrorPage(501, "Not Implemented", "https:// URLs go through CONNECT."),
                      client_keep_alive_, "TCP_MISS");
    }
    std::shared_ptr<const Snapshot> fallback;
    const Snapshot* snap = proxy_->CurrentSnapshot(&fallback);
    if (snap == nullptr) {
      return SendPage(503, ErrorPage(503, "Service Unavailable", "The rule set is not loaded yet."), false,
                      "TCP_DENIED");
    }
    Verdict v = snap->CheckUrl(nurl_.host, nurl_.url);
    if (v.blocked()) {
      std::string page = BlockPageFor(v, snap->serial(), nurl_.host, nurl_.url,
                                      PickLanguage(Std(req[http::field::accept_language]),
                                                   QueryParam(nurl_.query, "lang")),
                                      options_.report_url);
      // The body (if any) is not read: the connection closes after the page
      // unless the request has none.
      bool has_body = req_parser_->chunked() || (req_parser_->content_length() && *req_parser_->content_length() > 0);
      return SendPage(403, std::move(page), client_keep_alive_ && !has_body, "TCP_DENIED");
    }
    // Expect: 100-continue: the client waits for this before sending the body.
    auto expect = req.find(http::field::expect);
    if (expect != req.end() && IEquals(Std(expect->value()), "100-continue") && !req_parser_->is_done()) {
      continue_text_ = "HTTP/1.1 100 Continue\r\n\r\n";
      client_.expires_after(kErrorWriteTimeout);
      net::async_write(client_, net::buffer(continue_text_),
                       [self = Self()](beast::error_code wec, std::size_t) {
                         if (wec) return self->DoClose();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (closing_) return;
    if (req_parser_->is_done()) return OnBody({});
    client_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_read(client_, cbuf_, *req_parser_,
                     [self = Self()](beast::error_code ec, std::size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (closing_) return;
    if (ec == http::error::body_limit) {
      return SendPage(413, ErrorPage(413, "Content Too Large", "The request body is too large."), false,
                      "TCP_MISS");
    }
    if (ec) return DoClose();
    client_.expires_never();
    // Build the origin-form request.
    auto& in = req_parser_->get();
    out_req_ = {};
    out_req_.method_string(in.method_string());
    out_req_.target(OriginForm(Std(in.target())));
    out_req_.version(11);
    for (const auto& f : in) {
      if (f.name() == http::field::host || f.name() == http::field::expect ||
          f.name() == http::field::content_length || f.name() == http::field::transfer_encoding) {
        continue;
      }
      out_req_.insert(f.name_string(), f.value());
    }
    StripHopByHop(out_req_);
    std::string host_header = nurl_.host;
    if (nurl_.port != 80) host_header += ":" + std::to_string(nurl_.port);
    out_req_.set(http::field::host, host_header);
    out_req_.set(http::field::via, options_.via);
    out_req_.set(http::field::connection, "close");  // no upstream pooling yet
    out_req_.body() = std::move(in.body());
    out_req_.prepare_payload();
    head_request_ = in.method() == http::verb::head;
    Resolve(nurl_.host, nurl_.port, [self = Self()](beast::error_code rec) { self->OnUpstreamConnected(rec); });
  }

  // ---- upstream connection (shared by plain requests and CONNECT) ----

  // Resolves `host` (the static hosts table first, then the system resolver;
  // resolution through saringd's own DNS path comes next) and connects within
  // connect_timeout_ms; `done` gets the error (timeout = beast::error::timeout).
  template <class Done>
  void Resolve(const std::string& host, std::uint16_t port, Done done) {
    upstream_.emplace(client_.get_executor());
    upbuf_.clear();
    connect_deadline_ = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
    std::string name = host;
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    auto it = options_.hosts.find(name);
    if (it != options_.hosts.end()) name = it->second;
    beast::error_code ec;
    net::ip::address literal = net::ip::make_address(name, ec);
    if (!ec) {
      Connect({tcp::endpoint(literal, port)}, std::move(done));
      return;
    }
    resolve_timed_out_ = false;
    resolve_timer_.emplace(client_.get_executor());
    resolve_timer_->expires_at(connect_deadline_);
    resolve_timer_->async_wait([self = Self()](beast::error_code tec) {
      if (!tec) {
        self->resolve_timed_out_ = true;
        self->resolver_.cancel();
      }
    });
    resolver_.async_resolve(
        name, std::to_string(port),
        [self = Self(), done = std::move(done)](beast::error_code rec, tcp::resolver::results_type results) mutable {
          self->resolve_timer_->cancel();
          if (self->closing_) return;
          if (self->resolve_timed_out_) return done(beast::error::timeout);
          if (rec) return done(rec);
          std::vector<tcp::endpoint> eps;
          for (const auto& r : results) eps.push_back(r.endpoint());
          self->Connect(std::move(eps), std::move(done));
        });
  }

  template <class Done>
  void Connect(std::vector<tcp::endpoint> endpoints, Done done) {
    if (closing_) return;
    upstream_->expires_at(connect_deadline_);
    upstream_->async_connect(endpoints, [self = Self(), done = std::move(done)](
                                            beast::error_code cec, const tcp::endpoint& ep) mutable {
      if (self->closing_) return;
      if (!cec) self->peer_ = ep.address().to_string();
      done(cec);
    });
  }

  void UpstreamFailed(beast::error_code ec) {
    bool timeout = ec == beast::error::timeout;
    spdlog::debug("proxy: upstream for {} failed: {}", url_, ec.message());
    if (timeout) {
      return SendPage(504, ErrorPage(504, "Gateway Timeout", "The site did not answer in time."),
                      client_keep_alive_, "TCP_MISS");
    }
    SendPage(502, ErrorPage(502, "Bad Gateway", "The site could not be reached: " + ec.message()),
             client_keep_alive_, "TCP_MISS");
  }

  void OnUpstreamConnected(beast::error_code ec) {
    if (closing_) return;
    if (ec) return UpstreamFailed(ec);
    upstream_->expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_write(*upstream_, out_req_, [self = Self()](beast::error_code wec, std::size_t) {
      if (self->closing_) return;
      if (wec) return self->UpstreamFailed(wec);
      self->ReadResponse();
    });
  }

  void ReadResponse() {
    res_parser_.emplace();
    res_parser_->body_limit(options_.max_response_bytes);
    res_parser_->header_limit(64u << 10);
    if (head_request_) res_parser_->skip(true);
    upstream_->expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_read(*upstream_, upbuf_, *res_parser_, [self = Self()](beast::error_code ec, std::size_t) {
      if (self->closing_) return;
      if (ec) return self->UpstreamFailed(ec);
      auto status = self->res_parser_->get().result_int();
      if (status >= 100 && status < 200 && status != 101) return self->ReadResponse();  // interim: dropped
      self->RelayResponse();
    });
  }

  void RelayResponse() {
    beast::error_code ignored;
    upstream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    upstream_->close();
    res_ = res_parser_->release();
    res_parser_.reset();
    StripHopByHop(*res_);
    res_->set(http::field::via, options_.via);
    if (head_request_) {
      res_->erase(http::field::transfer_encoding);
    } else {
      res_->erase(http::field::transfer_encoding);
      res_->erase(http::field::content_length);
      res_->prepare_payload();
    }
    res_->version(11);
    res_->keep_alive(client_keep_alive_);
    status_ = res_->result_int();
    type_ = std::string(Std((*res_)[http::field::content_type]));
    client_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_write(client_, *res_, [self = Self()](beast::error_code ec, std::size_t n) {
      self->OnWritten(ec, n, self->client_keep_alive_, "TCP_MISS", "HIER_DIRECT");
    });
  }

  // ---- CONNECT ----

  void OnConnect() {
    auto& req = req_parser_->get();
    std::string_view target = Std(req.target());
    url_ = std::string(target);
    std::size_t colon = target.rfind(':');
    std::string_view host = colon == std::string_view::npos ? target : target.substr(0, colon);
    std::string_view port_text = colon == std::string_view::npos ? "" : target.substr(colon + 1);
    unsigned port = 0;
    bool port_ok = !port_text.empty() && port_text.size() <= 5;
    for (char c : port_text) {
      if (c < '0' || c > '9') port_ok = false;
      else port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (!port_ok || port == 0 || port > 65535 || host.empty()) {
      return SendPage(400, ErrorPage(400, "Bad Request", "CONNECT needs host:port."), false, "TCP_MISS");
    }
    bool port_allowed = false;
    for (auto p : options_.connect_ports) port_allowed |= p == port;
    if (!port_allowed) {
      return SendPage(403, ErrorPage(403, "Forbidden", "CONNECT to this port is not allowed."), false,
                      "TCP_DENIED");
    }
    std::string name;
    bool literal = host.size() > 2 && host.front() == '[';
    if (literal) {
      name = std::string(host);
    } else {
      beast::error_code aec;
      net::ip::make_address(std::string(host), aec);
      if (!aec) {
        name = std::string(host);
      } else if (!NormalizeDomain(host, &name).ok()) {
        return SendPage(400, ErrorPage(400, "Bad Request", "Invalid host name."), false, "TCP_MISS");
      }
    }
    std::shared_ptr<const Snapshot> fallback;
    const Snapshot* snap = proxy_->CurrentSnapshot(&fallback);
    if (snap == nullptr) {
      return SendPage(503, ErrorPage(503, "Service Unavailable", "The rule set is not loaded yet."), false,
                      "TCP_DENIED");
    }
    Verdict v = snap->CheckName(name);
    if (v.blocked()) {
      // Browsers do not show a CONNECT refusal's body; curl and the like can.
      return SendPage(403,
                      BlockPageFor(v, snap->serial(), name, "", PickLanguage(Std(req[http::field::accept_language]), ""),
                                   options_.report_url),
                      false, "TCP_DENIED");
    }
    Resolve(name, static_cast<std::uint16_t>(port), [self = Self()](beast::error_code ec) {
      if (self->closing_) return;
      if (ec) {
        self->client_keep_alive_ = false;
        return self->UpstreamFailed(ec);
      }
      self->StartTunnel();
    });
  }

  void StartTunnel() {
    tunnel_reply_ = "HTTP/1.1 200 Connection established\r\nVia: " + options_.via + "\r\n\r\n";
    client_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    net::async_write(client_, net::buffer(tunnel_reply_), [self = Self()](beast::error_code ec, std::size_t) {
      if (self->closing_) return;
      if (ec) return self->DoClose();
      self->status_ = 200;
      self->tunnel_ = true;
      // Bytes the client sent after the head (a TLS ClientHello) go first.
      if (self->cbuf_.size() > 0) {
        self->early_ = beast::buffers_to_string(self->cbuf_.data());
        self->cbuf_.consume(self->cbuf_.size());
        self->upstream_->expires_after(std::chrono::milliseconds(self->options_.idle_timeout_ms));
        net::async_write(*self->upstream_, net::buffer(self->early_),
                         [self](beast::error_code wec, std::size_t) {
                           if (wec) return self->EndTunnel();
                           self->PumpClient();
                           self->PumpUpstream();
                         });
        return;
      }
      self->PumpClient();
      self->PumpUpstream();
    });
  }

  void Touch() {
    // Idle timeout for the tunnel as a whole: any traffic re-arms both sides.
    auto t = std::chrono::milliseconds(options_.idle_timeout_ms);
    client_.expires_after(t);
    upstream_->expires_after(t);
  }

  void PumpClient() {  // client → upstream
    if (closing_) return;
    client_.async_read_some(net::buffer(c2u_), [self = Self()](beast::error_code ec, std::size_t n) {
      if (self->closing_) return;
      if (ec) return self->EndTunnel();
      self->Touch();
      net::async_write(*self->upstream_, net::buffer(self->c2u_.data(), n),
                       [self](beast::error_code wec, std::size_t) {
                         if (wec) return self->EndTunnel();
                         self->PumpClient();
                       });
    });
  }

  void PumpUpstream() {  // upstream → client
    if (closing_) return;
    upstream_->async_read_some(net::buffer(u2c_), [self = Self()](beast::error_code ec, std::size_t n) {
      if (self->closing_) return;
      if (ec) return self->EndTunnel();
      self->Touch();
      net::async_write(self->client_, net::buffer(self->u2c_.data(), n),
                       [self](beast::error_code wec, std::size_t written) {
                         if (wec) return self->EndTunnel();
                         self->bytes_ += written;
                         self->PumpUpstream();
                       });
    });
  }

  // Either side closed (or failed, or idled out): the tunnel ends.
  void EndTunnel() {
    if (closing_) return;
    DoClose();  // logs the tunnel
  }

  // ---- answering ----

  void SendPage(int status, std::string html, bool keep_alive, std::string_view code) {
    if (closing_) return;
    status_ = status;
    type_ = "text/html";
    res_.emplace(static_cast<http::status>(status), 11);
    res_->set(http::field::server, "saring");
    res_->set(http::field::content_type, "text/html; charset=utf-8");
    res_->set(http::field::cache_control, "no-store");
    res_->body() = std::move(html);
    res_->keep_alive(keep_alive);
    res_->prepare_payload();
    client_.expires_after(kErrorWriteTimeout);
    http::async_write(client_, *res_,
                      [self = Self(), keep_alive, code = std::string(code)](beast::error_code ec, std::size_t n) {
                        self->OnWritten(ec, n, keep_alive, code, "HIER_NONE");
                      });
  }

  void OnWritten(beast::error_code ec, std::size_t n, bool keep_alive, const std::string& code,
                 std::string_view hierarchy) {
    LogLine(code, status_, n, hierarchy);
    res_.reset();
    ++served_;
    if (closing_) return;
    if (ec || !keep_alive) return GracefulClose();
    ReadHead(options_.idle_timeout_ms);
  }

  void LogLine(std::string_view code, int status, std::uint64_t bytes, std::string_view hierarchy) {
    AccessEntry e;
    e.time_ms = NowUnixMs();
    e.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
    e.client = client_ip_;
    e.code = code;
    e.status = status;
    e.bytes = bytes;
    e.method = method_;
    e.url = url_;
    e.hierarchy = hierarchy;
    e.peer = hierarchy == "HIER_DIRECT" ? std::string_view(peer_) : std::string_view();
    e.type = type_;
    proxy_->Log(e);
    type_.clear();
  }

  // After the last response: stop sending, then read (and drop) what the
  // client still sends for a short while, so that unread request bytes do not
  // make the kernel reset the connection before the client has the response.
  void GracefulClose() {
    beast::error_code ignored;
    client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    client_.expires_after(kLinger);
    Drain();
  }

  void Drain() {
    if (closing_) return;
    client_.async_read_some(net::buffer(c2u_), [self = Self()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerBytes) return self->DoClose();
      self->Drain();
    });
  }

  void DoClose() {
    if (closing_) return;
    closing_ = true;
    if (tunnel_) {  // however it ends (either side, idle timeout, Stop): one line
      tunnel_ = false;
      LogLine("TCP_TUNNEL", status_, bytes_ + tunnel_reply_.size(), "HIER_DIRECT");
    }
    beast::error_code ignored;
    resolver_.cancel();
    if (resolve_timer_) resolve_timer_->cancel();
    client_.socket().close(ignored);
    if (upstream_) upstream_->socket().close(ignored);
  }

  ForwardProxy::Impl* proxy_;
  const ForwardProxyOptions& options_;
  std::uint64_t id_;
  beast::tcp_stream client_;
  tcp::resolver resolver_;
  std::optional<net::steady_timer> resolve_timer_;
  bool resolve_timed_out_ = false;
  Clock::time_point connect_deadline_;
  std::optional<beast::tcp_stream> upstream_;
  beast::flat_buffer cbuf_, upbuf_;
  std::optional<http::request_parser<http::string_body>> req_parser_;
  std::optional<http::response_parser<http::string_body>> res_parser_;
  http::request<http::string_body> out_req_;
  std::optional<http::response<http::string_body>> res_;
  NormalizedUrl nurl_;
  std::string continue_text_, tunnel_reply_, early_;
  std::array<char, kTunnelChunk> c2u_{}, u2c_{};
  std::string client_ip_, method_, url_, peer_, type_;
  Clock::time_point start_ = Clock::now();
  std::uint64_t bytes_ = 0;
  std::uint64_t served_ = 0;
  int status_ = 0;
  bool client_keep_alive_ = false;
  bool head_request_ = false;
  bool tunnel_ = false;
  bool denied_client_ = false;
  std::size_t drained_ = 0;
  bool closing_ = false;
};

}  // namespace

void ForwardProxy::Impl::Accept() {
  core->acceptor().async_accept(net::make_strand(core->ioc()), beast::bind_front_handler(&Impl::OnAccept, this));
}

void ForwardProxy::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;
  if (ec) {
    spdlog::warn("proxy: accept failed: {}", ec.message());
    if (core->Stopping()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // fd exhaustion: do not spin
    Accept();
    return;
  }
  if (core->connections() >= options.max_connections) {
    static const std::string kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(kBusy), ignored);
    socket.close(ignored);
    Accept();
    return;
  }
  std::shared_ptr<SessionBase> session = core->Register(
      [&](std::uint64_t id) { return std::make_shared<Session>(this, id, std::move(socket)); });
  if (!session) return;
  session->Run();
  Accept();
}

ForwardProxy::ForwardProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ForwardProxy::~ForwardProxy() { Stop(); }
void ForwardProxy::Stop() {
  if (impl_) impl_->Stop();
}
std::uint16_t ForwardProxy::port() const { return impl_->port; }

Status ForwardProxy::Start(const ForwardProxyOptions& options, const SnapshotPublisher* snapshots,
                           std::unique_ptr<ForwardProxy>* out) {
  if (snapshots == nullptr) return Status::InvalidArgument("proxy: no snapshot publisher");
  if (options.threads < 1 || options.threads > 256) return Status::InvalidArgument("proxy: threads must be 1..256");
  if (options.header_timeout_ms <= 0 || options.idle_timeout_ms <= 0 || options.connect_timeout_ms <= 0) {
    return Status::InvalidArgument("proxy: timeouts must be positive");
  }
  if (options.max_connections < 1) return Status::InvalidArgument("proxy: max_connections must be at least 1");
  if (options.max_header_bytes < 256) return Status::InvalidArgument("proxy: max_header_bytes must be at least 256");
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options.listen.address, ec);
  if (ec) {
    return Status::InvalidArgument("proxy listen address '" + options.listen.address +
                                   "' is not a numeric IP address");
  }
  for (const auto& [name, ip] : options.hosts) {
    net::ip::make_address(ip, ec);
    if (ec) return Status::InvalidArgument("proxy hosts entry '" + name + "': '" + ip + "' is not an IP address");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->snapshots = snapshots;
  impl->core = std::make_unique<saring::net::ServerCore>(options.threads, "proxy: unexpected exception");
  tcp::endpoint endpoint(address, options.listen.port);
  auto fail = [&](std::string_view step) {
    return Status::IOError("proxy cannot listen on " + options.listen.ToString() + " (" + std::string(step) +
                           "): " + ec.message());
  };
  if (const char* step = impl->core->Listen(endpoint, &impl->port, &ec)) return fail(step);
  spdlog::info("proxy: listening on {}:{}", options.listen.address, impl->port);
  impl->Accept();
  // Each proxy thread reads snapshots through its own reader.
  impl->core->StartThreads(options.threads, 0, [snapshots](const std::function<void()>& run_loop) {
    SnapshotReader reader(snapshots);
    t_reader = &reader;
    t_reader_of = snapshots;
    run_loop();
    t_reader = nullptr;
    t_reader_of = nullptr;
  });
  out->reset(new ForwardProxy(std::move(impl)));
  return Status::OK();
}

}  // namespace saring::proxy
