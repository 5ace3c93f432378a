#include "proxy/http_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <limits>
#include <memory_resource>
#include <optional>

#include "core/ascii.h"
#include "proxy/block_page.h"
#include "proxy/head_writer.h"
#include "proxy/session_base.h"
#include "proxy/upstream_pool.h"
#include "saring/reference.h"

namespace saring::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto kPageWriteTimeout = std::chrono::milliseconds(5000);
constexpr std::size_t kBodyChunk = 16384;
constexpr std::size_t kFieldsArena = 4096;  // a usual request and response head; more goes to the heap
using FieldsAllocator = std::pmr::polymorphic_allocator<char>;
constexpr std::uint32_t kMaxResponseHeader = 64u << 10;
// Bodies are streamed, so no limit of ours. (Not boost::none: Boost 1.74's
// parser compares a Content-Length with the optional itself, and anything
// is greater than none.)
constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();

std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

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

// "host:port" into *out (replacing it), without a temporary.
void AppendAuthority(std::string_view host, std::uint16_t port, std::string* out) {
  char digits[5];
  char* end = digits + sizeof digits;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + port % 10);
    port /= 10;
  } while (port != 0);
  out->assign(host);
  out->push_back(':');
  out->append(p, end);
}

// Hop-by-hop fields (RFC 9110 §7.6.1) and those the Connection field names.
// Transfer-Encoding stays: the relay re-frames what it says. `named` is
// scratch space the caller keeps.
template <class Fields>
void StripHopByHop(Fields& fields, std::vector<std::string>& named) {
  named.clear();
  for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
       ++it) {
    for (auto token : http::token_list(it->value())) {
      if (!EqualsIgnoreCase(Std(token), "transfer-encoding")) named.emplace_back(Std(token));
    }
  }
  for (const auto& n : named) fields.erase(beast::string_view(n.data(), n.size()));
  for (auto f : {http::field::connection, http::field::proxy_connection, http::field::keep_alive, http::field::te,
                 http::field::trailer, http::field::upgrade, http::field::proxy_authorization,
                 http::field::proxy_authenticate}) {
    fields.erase(f);
  }
}

class HttpSession : public ProxySession {
 public:
  HttpSession(ProxyContext* ctx, std::uint64_t id, ProxySocket socket, ListenerKind listener,
              const tcp::endpoint& original)
      : ProxySession(ctx, id, std::move(socket)), listener_(listener), original_(original) {
    if (listener_ == ListenerKind::kTransparentHttp) {
      original_host_ = original_.address().is_v6() ? "[" + original_.address().to_string() + "]"
                                                   : original_.address().to_string();
    }
  }

 private:
  std::shared_ptr<HttpSession> Self() { return std::static_pointer_cast<HttpSession>(shared_from_this()); }

  void Begin() override { ReadHead(options_.header_timeout_ms); }
  // A client outside allow_clients gets its 403 once its request head is in
  // (answering before would race the request and could reset the page).
  void Denied() override {
    denied_ = true;
    ReadHead(options_.header_timeout_ms);
  }

  // ---- request head ----

  void ReadHead(int timeout_ms) {
    if (closing_) return;
    res_.reset();
    req_.reset();
    fields_arena_.release();
    req_.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(&fields_arena_)));
    req_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    req_->body_limit(kNoBodyLimit);  // streamed: no limit of ours
    SetDeadline(std::chrono::milliseconds(timeout_ms));
    http::async_read_header(client_, cbuf_, *req_,
                            [self = Self()](beast::error_code ec, std::size_t) { self->OnHead(ec); });
  }

  void OnHead(beast::error_code ec) {
    if (closing_) return;
    ec = Timed(ec);
    ClearDeadline();
    start_ = Clock::now();
    method_ = "-";
    url_.clear();
    if (ec && denied_) return DoClose();
    if (ec) {
      if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
          ec == net::error::operation_aborted) {
        ParkUpstream();  // the client is gone; its origin connection may serve another
        return DoClose();
      }
      if (ec == beast::error::timeout) {
        if (cbuf_.size() == 0 && served_ > 0) return DoClose();  // an idle keep-alive connection
        return Refuse(408, "Request Timeout", "The request did not arrive in time.");
      }
      ctx_->stats().bad_requests.fetch_add(1, std::memory_order_relaxed);
      if (ec == http::error::header_limit) {
        return Refuse(431, "Request Header Fields Too Large", "The request head is too large.");
      }
      return Refuse(400, "Bad Request", "Malformed request: " + ec.message());
    }
    auto& req = req_->get();
    method_.assign(Std(req.method_string()));
    url_.assign(Std(req.target()));
    if (denied_) {
      return SendPage(403, RenderErrorPage(403, "Forbidden", "This proxy does not serve your address."), false,
                      "TCP_DENIED");
    }
    client_keep_alive_ = req.keep_alive();
    auto pc = req.find(http::field::proxy_connection);
    if (pc != req.end() && EqualsIgnoreCase(Std(pc->value()), "close")) client_keep_alive_ = false;
    client_http10_ = req.version() < 11;
    upgrade_ = WebSocketUpgrade(req, *req_);

    RequestHead head;
    head.method = Std(req.method_string());
    head.target = Std(req.target());
    head.host = Std(req[http::field::host]);
    head.host_fields = static_cast<int>(req.count(http::field::host));
    head.content_length_fields = static_cast<int>(req.count(http::field::content_length));
    head.transfer_encoding_fields = static_cast<int>(req.count(http::field::transfer_encoding));
    head.original_host = original_host_;
    RequestDecision& d = decision_;
    DecideRequest(head, listener_, ctx_->CurrentSnapshot(), options_.connect_ports, &d);
    if (!d.url.empty()) url_.assign(d.url);
    auto& stats = ctx_->stats();
    switch (d.kind) {
      case RequestDecision::Kind::kRefuse:
        if (d.status == 400) stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
        return Refuse(d.status, StatusTitle(d.status), d.reason);
      case RequestDecision::Kind::kBlock: {
        stats.requests.fetch_add(1, std::memory_order_relaxed);
        stats.blocked.fetch_add(1, std::memory_order_relaxed);
        ctx_->Count(zone_, true);
        BlockPageInfo info;
        std::string reference = EncodeReference(d.serial, d.verdict.class_id, d.verdict.kind);
        bool connect = req.method() == http::verb::connect;
        info.host = d.host;
        info.url = connect ? std::string_view() : std::string_view(d.url);
        info.rule = d.rule;
        info.source = d.verdict.source;
        info.category = d.verdict.category;
        info.reference = reference;
        info.report_url = options_.report_url;
        info.kind = d.verdict.kind;
        std::string page = RenderBlockPage(
            info, PickLanguage(Std(req[http::field::accept_language]), QueryParam(d.query, "lang")));
        // The body (if any) is not read: the connection closes after the page
        // unless the request has none.
        bool has_body = req_->chunked() || (req_->content_length() && *req_->content_length() > 0);
        return SendPage(403, std::move(page), client_keep_alive_ && !has_body && !connect, "TCP_DENIED");
      }
      case RequestDecision::Kind::kTunnel:
        stats.requests.fetch_add(1, std::memory_order_relaxed);
        ctx_->Count(zone_, false);
        return OnConnect(d);
      case RequestDecision::Kind::kForward:
        break;
    }
    stats.requests.fetch_add(1, std::memory_order_relaxed);
    ctx_->Count(zone_, false);
    if (listener_ == ListenerKind::kBlockPage) {
      return SendPage(404,
                      RenderErrorPage(404, "Not Blocked",
                                      "This is saring's block-page server and " + d.host +
                                          " is not blocked (any more): reload the page in a minute."),
                      client_keep_alive_, "TCP_MISS");
    }
    Forward(d);
  }

  static std::string_view StatusTitle(int status) {
    switch (status) {
      case 400: return "Bad Request";
      case 403: return "Forbidden";
      case 501: return "Not Implemented";
      case 503: return "Service Unavailable";
      default: return "Error";
    }
  }

  // ---- forwarding ----

  void Forward(const RequestDecision& d) {
    auto& req = req_->get();
    // Rewrite the head for the origin: origin-form target, one Host, no
    // hop-by-hop fields, our Via; the body's framing is kept.
    // An absolute-form target names the host the rules were asked about;
    // the origin must see that one, not a Host field saying something else
    // (RFC 9112 §3.2.2), on every listener.
    bool absolute = !Std(req.target()).starts_with("/");
    req.target(d.origin_target);
    if (listener_ == ListenerKind::kExplicit || absolute) {
      if (d.port == 80) {
        req.set(http::field::host, d.host);
      } else {
        AppendAuthority(d.host, d.port, &scratch_);
        req.set(http::field::host, scratch_);
      }
    }
    bool expect_continue = false;
    auto expect = req.find(http::field::expect);
    if (expect != req.end()) {
      expect_continue = EqualsIgnoreCase(Std(expect->value()), "100-continue");
      req.erase(http::field::expect);  // answered here
    }
    StripHopByHop(req, named_scratch_);
    req.set(http::field::via, options_.via);
    req.keep_alive(true);
    if (upgrade_) {  // asked for again, hop by hop
      req.set(http::field::connection, "Upgrade");
      req.set(http::field::upgrade, "websocket");
    }
    head_request_ = req.method() == http::verb::head;
    request_has_body_ = !req_->is_done();

    std::string& key = scratch_;
    tcp::endpoint direct;
    if (listener_ == ListenerKind::kTransparentHttp) {
      direct = original_;
      if (transparent_key_.empty()) {  // the session's one destination
        AppendAuthority("=" + original_.address().to_string(), original_.port(), &transparent_key_);
      }
      key = transparent_key_;
    } else {
      AppendAuthority(d.host, d.port, &key);
    }
    auto send = [self = Self(), expect_continue] {
      if (!expect_continue) return self->SendRequest();
      self->continue_text_ = "HTTP/1.1 100 Continue\r\n\r\n";
      self->SetDeadline(kPageWriteTimeout);
      net::async_write(self->client_, net::buffer(self->continue_text_), [self](beast::error_code ec, std::size_t) {
        if (ec) return self->DoClose();
        self->SendRequest();
      });
    };
    // The session's own connection is reused unchecked: a bodiless request
    // is retried if the origin had closed it. One with a body cannot be
    // (part of the body may be gone), so it checks first, as the pool does.
    if (upstream_ && upstream_->is_open() && key == upstream_key_) {
      if (!request_has_body_ || StillIdle(upstream_->native_handle())) {
        reused_ = true;
        return send();
      }
      upstream_.reset();  // the origin closed it meanwhile
      upstream_key_.clear();
    }
    ParkUpstream();  // kept for its origin, which this request does not go to
    upstream_key_ = key;
    ubuf_.clear();  // nothing of an earlier upstream connection may be parsed as this one's
    if (UpstreamPool* pool = ThreadPool()) {
      if (std::optional<UpstreamPool::Connection> idle = pool->Take(key)) {
        upstream_.emplace(std::move(idle->socket));
        peer_ = std::move(idle->peer);
        reused_ = true;
        return send();
      }
    }
    reused_ = false;
    auto connected = [self = Self(), send](beast::error_code ec) {
      if (ec) return self->UpstreamFailed(ec);
      send();
    };
    if (listener_ == ListenerKind::kTransparentHttp) {
      connect_host_.clear();
      ConnectEndpoints({direct}, connected);
    } else {
      connect_host_ = d.host;
      connect_port_ = d.port;
      ConnectUpstream(d.host, d.port, connected);
    }
  }

  // Between requests upstream_ is either gone or idle and reusable
  // (ResponseDone drops the others): it goes to the thread's pool.
  void ParkUpstream() {
    UpstreamPool* pool = ThreadPool();
    if (upstream_ && pool != nullptr && !upstream_key_.empty() && upstream_->is_open()) {
      pool->Park(upstream_key_, std::move(*upstream_), peer_);
    }
    upstream_.reset();
    upstream_key_.clear();
  }

  // Writes the request head and streams its body to the origin.
  void SendRequest() {
    if (closing_) return;
    StartOutput(req_->get());
    RelayStep(true);
  }

  // The head goes out with the first piece of body; chunked framing is
  // redone around each piece when the outgoing head says chunked.
  template <class Header>
  void StartOutput(const Header& head) {
    WriteHead(head, &out_head_);
    out_head_pending_ = true;
    out_chunked_ = head.chunked();
  }

  // One step of a body relay: read what the source has (the client for the
  // request, the origin for the response) into the body buffer, then write
  // it (the head first) to the other side.
  void RelayStep(bool request) {
    if (closing_) return;
    auto& body = request ? req_->get().body() : res_->get().body();
    bool done = request ? req_->is_done() : res_->is_done();
    if (done) {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
      return RelayWrite(request);
    }
    body.data = body_buf_.data();
    body.size = body_buf_.size();
    // Body bytes that came with the head (a small response usually is all
    // there) are parsed here rather than by a read that would only go round
    // the io_context to find them.
    beast::flat_buffer& buffered = request ? cbuf_ : ubuf_;
    for (int i = 0; i < 4 && buffered.size() > 0 && body.size == body_buf_.size() && !done; ++i) {
      beast::error_code ec;
      std::size_t used = request ? req_->put(buffered.data(), ec) : res_->put(buffered.data(), ec);
      buffered.consume(used);
      if (ec == http::error::need_more || ec == http::error::need_buffer) ec = {};
      if (ec) return request ? DoClose() : UpstreamBroken(ec);
      done = request ? req_->is_done() : res_->is_done();
      if (used == 0) break;
    }
    if (body.size != body_buf_.size() || done) {
      body.size = body_buf_.size() - body.size;
      body.data = body_buf_.data();
      body.more = !done;
      return RelayWrite(request);
    }
    SetDeadline(std::chrono::milliseconds(options_.idle_timeout_ms));
    auto on_read = [self = Self(), request](beast::error_code ec, std::size_t) {
      if (self->closing_) return;
      ec = self->Timed(ec);
      if (ec == http::error::need_buffer) ec = {};
      auto& b = request ? self->req_->get().body() : self->res_->get().body();
      if (ec) {
        if (request) return self->DoClose();  // the client went away mid-body
        return self->UpstreamBroken(ec);
      }
      std::size_t got = self->body_buf_.size() - b.size;
      b.data = self->body_buf_.data();
      b.size = got;
      b.more = !(request ? self->req_->is_done() : self->res_->is_done());
      if (got == 0 && b.more) return self->RelayStep(request);  // only framing was read
      self->RelayWrite(request);
    };
    if (request) {
      http::async_read_some(client_, cbuf_, *req_, std::move(on_read));
    } else {
      http::async_read_some(*upstream_, ubuf_, *res_, std::move(on_read));
    }
  }

  // Writes what RelayStep left in the body buffer (none once the body is
  // done), with the head if it has not gone out yet, in one gathered write.
  void RelayWrite(bool request) {
    const auto& body = request ? req_->get().body() : res_->get().body();
    std::size_t size = body.data != nullptr ? body.size : 0;
    std::array<net::const_buffer, 5> out;  // copied into the write; unused ones stay empty
    std::size_t n = 0;
    if (out_head_pending_) out[n++] = net::buffer(out_head_);
    if (out_chunked_ && size > 0) out[n++] = net::buffer(ChunkSizeLine(size, &chunk_line_));
    if (size > 0) out[n++] = net::const_buffer(body.data, size);
    if (out_chunked_ && size > 0) out[n++] = net::buffer(kChunkEnd);
    if (out_chunked_ && !body.more) out[n++] = net::buffer(kLastChunk);
    bool more = body.more;
    SetDeadline(std::chrono::milliseconds(options_.idle_timeout_ms));
    auto on_write = [self = Self(), request, more](beast::error_code ec, std::size_t written) {
      if (self->closing_) return;
      ec = self->Timed(ec);
      if (ec) {
        if (request) return self->UpstreamBroken(ec);
        return self->DoClose();  // the client went away
      }
      self->out_head_pending_ = false;
      if (!request) self->bytes_ += written;
      if (more) return self->RelayStep(request);
      if (request) return self->ReadResponseHead();
      self->ResponseDone();
    };
    Socket& to = request ? *upstream_ : client_;
    net::async_write(to, out, std::move(on_write));
  }

  // A reused upstream connection the origin had closed fails on the first
  // write or before any response byte: retried once on a new connection when
  // the request had no body (nothing of it is lost).
  void UpstreamBroken(beast::error_code ec) {
    if (reused_ && !request_has_body_ && !response_started_) {
      reused_ = false;
      upstream_.reset();
      ubuf_.clear();
      auto retry = [self = Self()](beast::error_code cec) {
        if (cec) return self->UpstreamFailed(cec);
        self->SendRequest();
      };
      if (listener_ == ListenerKind::kTransparentHttp) return ConnectEndpoints({original_}, retry);
      return ConnectUpstream(connect_host_, connect_port_, retry);
    }
    if (response_started_) return DoClose();  // part of the response is out: nothing else to say
    UpstreamFailed(ec);
  }

  void UpstreamFailed(beast::error_code ec) {
    upstream_.reset();
    upstream_key_.clear();
    if (!dns_blocked_by_.empty()) return BlockedByDns();
    ctx_->stats().upstream_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("proxy: upstream for {} failed: {}", url_, ec.message());
    // A request body left unread makes the connection unusable.
    bool keep = client_keep_alive_ && !(request_has_body_ && !req_->is_done());
    if (ec == beast::error::timeout) {
      return SendPage(504, RenderErrorPage(504, "Gateway Timeout", "The site did not answer in time."), keep,
                      "TCP_MISS");
    }
    SendPage(502, RenderErrorPage(502, "Bad Gateway", "The site could not be reached: " + ec.message()), keep,
             "TCP_MISS");
  }

  // The rules passed the name, but saringd's DNS blocked where it leads (a
  // CNAME to a blocked name): the block page, with what the DNS said
  // ("blocked by SOURCE (CATEGORY), ref SRG-…", policy.h).
  void BlockedByDns() {
    ctx_->stats().blocked.fetch_add(1, std::memory_order_relaxed);
    ctx_->CountLateBlock(zone_);
    std::string why = std::move(dns_blocked_by_);
    dns_blocked_by_.clear();  // the next failure on this session is its own
    std::string_view source = why, category, reference;
    if (std::size_t ref = source.rfind(", ref "); ref != std::string_view::npos) {
      reference = source.substr(ref + 6);
      source = source.substr(0, ref);
    }
    if (source.starts_with("blocked by ")) source.remove_prefix(11);
    if (std::size_t open = source.rfind(" ("); open != std::string_view::npos && source.ends_with(")")) {
      category = source.substr(open + 2, source.size() - open - 3);
      source = source.substr(0, open);
    }
    const RequestDecision& d = decision_;
    bool connect = d.kind == RequestDecision::Kind::kTunnel;
    BlockPageInfo info;
    info.host = d.host;
    info.url = connect ? std::string_view() : std::string_view(d.url);
    info.source = source;
    info.category = category;
    info.reference = reference;
    info.report_url = options_.report_url;
    auto& req = req_->get();
    std::string page = RenderBlockPage(
        info, PickLanguage(Std(req[http::field::accept_language]), QueryParam(d.query, "lang")));
    bool keep = client_keep_alive_ && !connect && !(request_has_body_ && !req_->is_done());
    SendPage(403, std::move(page), keep, "TCP_DENIED");
  }

  void ReadResponseHead() {
    if (closing_) return;
    res_.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(&fields_arena_)));
    res_->header_limit(kMaxResponseHeader);
    res_->body_limit(kNoBodyLimit);
    if (head_request_) res_->skip(true);
    SetDeadline(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_read_header(*upstream_, ubuf_, *res_, [self = Self()](beast::error_code ec, std::size_t) {
      if (self->closing_) return;
      ec = self->Timed(ec);
      if (ec) return self->UpstreamBroken(ec);
      auto& res = self->res_->get();
      int status = res.result_int();
      if (status >= 100 && status < 200) {
        // Interim answers are dropped (Expect was answered here); a 101 only
        // answers a WebSocket upgrade this proxy asked for.
        if (status == 101) {
          if (self->upgrade_ && self->IsWebSocket(res)) return self->Upgraded();
          return self->UpstreamFailed(http::error::bad_version);
        }
        return self->ReadResponseHead();
      }
      self->response_started_ = true;
      self->RelayResponse();
    });
  }

  void RelayResponse() {
    auto& res = res_->get();
    upstream_reusable_ = res_->keep_alive() && !res_->need_eof();
    StripHopByHop(res, named_scratch_);
    res.set(http::field::via, options_.via);
    res.version(11);
    status_ = res.result_int();
    type_.assign(Std(res[http::field::content_type]));
    bool response_keep_alive = client_keep_alive_;
    bool has_body = !head_request_ && !res_->is_done();
    if (has_body && !res_->chunked() && !res_->content_length()) {
      // Delimited by the origin closing: re-framed as chunked for an HTTP/1.1
      // client so its connection survives; an HTTP/1.0 one gets a close.
      if (client_http10_) response_keep_alive = false;
      else res.chunked(true);
    }
    if (client_http10_ && res_->chunked()) {
      res.chunked(false);  // HTTP/1.0 has no chunked: the body ends with the connection
      response_keep_alive = false;
    }
    res.keep_alive(response_keep_alive);
    client_keep_alive_ = response_keep_alive;
    bytes_ = 0;
    StartOutput(res);
    if (head_request_ || (res_->is_done() && !res.chunked())) {
      // No body follows (HEAD, 204, 304, or empty): the head alone.
      out_chunked_ = false;
      auto& body = res.body();
      body.data = nullptr;
      body.more = false;
      return RelayWrite(false);
    }
    RelayStep(false);
  }

  void ResponseDone() {
    ctx_->stats().forwarded.fetch_add(1, std::memory_order_relaxed);
    LogLine("TCP_MISS", status_, bytes_, "HIER_DIRECT");
    ++served_;
    response_started_ = false;
    res_.reset();
    if (!upstream_reusable_ && upstream_) {
      beast::error_code ignored;
      upstream_->shutdown(tcp::socket::shutdown_both, ignored);
      upstream_.reset();
      upstream_key_.clear();
    }
    if (!client_keep_alive_) return GracefulClose();
    ReadHead(options_.idle_timeout_ms);
  }

  // ---- WebSocket upgrade ----

  // A client's WebSocket handshake (RFC 6455 §4.1): GET, HTTP/1.1, no body,
  // Upgrade naming websocket and Connection naming upgrade. Other upgrades
  // (h2c, TLS) are dropped with the other hop-by-hop fields, so the origin
  // answers the plain request.
  template <class Request, class Parser>
  static bool WebSocketUpgrade(const Request& req, const Parser& parser) {
    if (req.method() != http::verb::get || req.version() != 11 || !parser.is_done()) return false;
    if (!IsWebSocket(req)) return false;
    for (auto it = req.find(http::field::connection); it != req.end() && it->name() == http::field::connection;
         ++it) {
      for (auto token : http::token_list(it->value())) {
        if (EqualsIgnoreCase(Std(token), "upgrade")) return true;
      }
    }
    return false;
  }

  template <class Fields>
  static bool IsWebSocket(const Fields& fields) {
    return EqualsIgnoreCase(Std(fields[http::field::upgrade]), "websocket");
  }

  // The origin switched protocols: its 101 goes to the client with whatever
  // of the new protocol came with it, then the two connections are spliced
  // like a CONNECT tunnel (the handshake's URL was what the rules judged).
  void Upgraded() {
    auto& res = res_->get();
    response_started_ = true;
    StripHopByHop(res, named_scratch_);
    res.set(http::field::via, options_.via);
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::upgrade, "websocket");
    WriteHead(res, &out_head_);
    if (ubuf_.size() > 0) {
      out_head_.append(static_cast<const char*>(ubuf_.data().data()), ubuf_.size());
      ubuf_.consume(ubuf_.size());
    }
    hello_.assign(static_cast<const char*>(cbuf_.data().data()), cbuf_.size());  // sent early by the client
    cbuf_.consume(cbuf_.size());
    upstream_key_.clear();  // never back to the pool
    ctx_->stats().tunnels.fetch_add(1, std::memory_order_relaxed);
    SetDeadline(std::chrono::milliseconds(options_.idle_timeout_ms));
    net::async_write(client_, net::buffer(out_head_), [self = Self()](beast::error_code ec, std::size_t) {
      if (self->closing_) return;
      if (ec) return self->DoClose();
      self->StartSplice(101);
    });
  }

  // ---- CONNECT ----

  void OnConnect(const RequestDecision& d) {
    std::string host = d.host;
    std::string early = cbuf_.size() > 0 ? beast::buffers_to_string(cbuf_.data()) : std::string();
    cbuf_.consume(cbuf_.size());
    ParkUpstream();  // a tunnel gets its own connection
    ConnectUpstream(host, d.port, [self = Self(), host, early = std::move(early)](beast::error_code ec) mutable {
      if (ec) {
        self->client_keep_alive_ = false;
        return self->UpstreamFailed(ec);
      }
      self->tunnel_reply_ = "HTTP/1.1 200 Connection established\r\nVia: " + self->options_.via + "\r\n\r\n";
      self->SetDeadline(kPageWriteTimeout);
      net::async_write(self->client_, net::buffer(self->tunnel_reply_),
                       [self, host, early = std::move(early)](beast::error_code wec, std::size_t) mutable {
                         if (self->closing_) return;
                         if (wec) return self->DoClose();
                         self->GateOnSni(std::move(early), host, [self] {
                           self->ctx_->stats().tunnels.fetch_add(1, std::memory_order_relaxed);
                           self->StartSplice();
                         });
                       });
    });
  }

  // ---- answering with a page ----

  void Refuse(int status, std::string_view title, const std::string& detail) {
    SendPage(status, RenderErrorPage(status, title, detail), false, status == 403 ? "TCP_DENIED" : "TCP_MISS");
  }

  void SendPage(int status, std::string html, bool keep_alive, std::string_view code) {
    if (closing_) return;
    status_ = status;
    type_ = "text/html";
    page_.emplace(static_cast<http::status>(status), 11);
    page_->set(http::field::server, "saring");
    page_->set(http::field::content_type, "text/html; charset=utf-8");
    page_->set(http::field::cache_control, "no-store");
    page_->body() = std::move(html);
    page_->keep_alive(keep_alive);
    page_->prepare_payload();
    SetDeadline(kPageWriteTimeout);
    http::async_write(client_, *page_,
                      [self = Self(), keep_alive, code = std::string(code)](beast::error_code ec, std::size_t n) {
                        self->LogLine(code, self->status_, n, "HIER_NONE");
                        self->page_.reset();
                        ++self->served_;
                        if (self->closing_) return;
                        if (ec || !keep_alive) return self->GracefulClose();
                        self->ReadHead(self->options_.idle_timeout_ms);
                      });
  }

  const ListenerKind listener_;
  const tcp::endpoint original_;
  std::string original_host_;
  beast::flat_buffer cbuf_, ubuf_;
  // The two heads' fields live in a per-request arena (released when the
  // next request head is read): no heap allocation for a usual head.
  std::array<std::byte, kFieldsArena> fields_arena_buffer_;
  std::pmr::monotonic_buffer_resource fields_arena_{fields_arena_buffer_.data(), fields_arena_buffer_.size()};
  std::optional<http::request_parser<http::buffer_body, FieldsAllocator>> req_;
  std::optional<http::response_parser<http::buffer_body, FieldsAllocator>> res_;
  RequestDecision decision_;  // the current request's (kept for its strings' capacity)
  std::string scratch_, transparent_key_;
  std::vector<std::string> named_scratch_;
  std::optional<http::response<http::string_body>> page_;
  std::array<char, kBodyChunk> body_buf_{};
  std::string out_head_;  // the head being written, serialized (capacity reused)
  bool out_head_pending_ = false, out_chunked_ = false;
  std::array<char, 20> chunk_line_{};
  std::string upstream_key_, connect_host_, continue_text_, tunnel_reply_;
  std::uint16_t connect_port_ = 0;
  std::uint64_t bytes_ = 0, served_ = 0;
  bool denied_ = false;
  bool client_keep_alive_ = false, client_http10_ = false;
  bool head_request_ = false, request_has_body_ = false;
  bool reused_ = false, response_started_ = false, upstream_reusable_ = false;
  bool upgrade_ = false;  // the current request is a WebSocket handshake
};

class TlsSession : public ProxySession {
 public:
  TlsSession(ProxyContext* ctx, std::uint64_t id, ProxySocket socket, const tcp::endpoint& original)
      : ProxySession(ctx, id, std::move(socket)), original_(original) {}

 private:
  std::shared_ptr<TlsSession> Self() { return std::static_pointer_cast<TlsSession>(shared_from_this()); }

  void Denied() override {
    method_ = "CONNECT";
    url_ = Target(original_.address().to_string());
    LogLine("TCP_DENIED", 403, 0, "HIER_NONE");
    RefuseTls(kAlertAccessDenied);
  }

  std::string Target(const std::string& host) const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(original_.port());
  }

  void Begin() override {
    start_ = Clock::now();
    method_ = "CONNECT";
    url_ = Target(original_.address().to_string());
    GateOnSni({}, {}, [self = Self()] {
      auto& stats = self->ctx_->stats();
      stats.requests.fetch_add(1, std::memory_order_relaxed);
      self->ctx_->Count(self->zone_, false);
      if (self->hello_info_.has_sni) self->url_ = self->Target(std::string(self->hello_info_.server_name));
      self->ConnectEndpoints({self->original_}, [self](beast::error_code ec) {
        if (ec) {
          self->ctx_->stats().upstream_errors.fetch_add(1, std::memory_order_relaxed);
          self->LogLine("TCP_MISS", 502, 0, "HIER_NONE");
          return self->RefuseTls(kAlertInternalError);
        }
        self->ctx_->stats().tunnels.fetch_add(1, std::memory_order_relaxed);
        self->StartSplice();
      });
    });
  }

  const tcp::endpoint original_;
};

}  // namespace

std::shared_ptr<saring::net::ServerSession> MakeHttpSession(ProxyContext* context, std::uint64_t id,
                                                            ProxySocket socket, ListenerKind listener,
                                                            const tcp::endpoint& original) {
  return std::make_shared<HttpSession>(context, id, std::move(socket), listener, original);
}

std::shared_ptr<saring::net::ServerSession> MakeTlsSession(ProxyContext* context, std::uint64_t id,
                                                           ProxySocket socket, const tcp::endpoint& original) {
  return std::make_shared<TlsSession>(context, id, std::move(socket), original);
}

}  // namespace saring::proxy
