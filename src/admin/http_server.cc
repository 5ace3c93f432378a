#include "admin/http_server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "net/server_core.h"

namespace saring::admin {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// After an error response (or Connection: close) the server stops sending and
// keeps reading for a while, so that a client still sending its request does
// not get a reset that would destroy the response before it reads it.
constexpr auto kLinger = std::chrono::milliseconds(2000);
constexpr std::size_t kLingerBytes = 4u << 20;
constexpr auto kErrorWriteTimeout = std::chrono::milliseconds(5000);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr std::size_t kReadChunk = 8192;

std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

bool IEquals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()), beast::string_view(b.data(), b.size()));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; false on a malformed escape or a decoded NUL.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return false;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out->push_back(c);
  }
  return true;
}

// Splits a request target into its decoded path and query. Accepts the
// origin form ("/a?b"), the absolute form ("http://host/a?b") and "*".
bool ParseTarget(std::string_view target, std::string* path,
                 std::vector<std::pair<std::string, std::string>>* query, std::string* why) {
  auto starts_with_ci = [](std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
  };
  if (target == "*") {
    *path = "*";
    return true;
  }
  std::string rebuilt;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (starts_with_ci(target, scheme)) {
      std::string_view rest = target.substr(scheme.size());
      std::size_t end = rest.find_first_of("/?");
      if (end == std::string_view::npos) {
        target = "/";
      } else if (rest[end] == '?') {  // "http://host?q": the path is "/"
        rebuilt = "/" + std::string(rest.substr(end));
        target = rebuilt;
      } else {
        target = rest.substr(end);
      }
      break;
    }
  }
  if (target.empty() || target.front() != '/') {
    *why = "request target must start with '/'";
    return false;
  }
  std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  std::size_t hash = raw_path.find('#');
  if (hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  if (!PercentDecode(raw_path, false, path)) {
    *why = "malformed percent-encoding in the path";
    return false;
  }
  if (q == std::string_view::npos) return true;
  std::string_view raw_query = target.substr(q + 1);
  hash = raw_query.find('#');
  if (hash != std::string_view::npos) raw_query = raw_query.substr(0, hash);
  while (!raw_query.empty()) {
    std::size_t amp = raw_query.find('&');
    std::string_view piece = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (piece.empty()) continue;
    std::size_t eq = piece.find('=');
    std::string name, value;
    if (!PercentDecode(piece.substr(0, eq), true, &name) ||
        (eq != std::string_view::npos && !PercentDecode(piece.substr(eq + 1), true, &value))) {
      *why = "malformed percent-encoding in the query";
      return false;
    }
    query->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

bool HasControlChars(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string PeerAddress(const tcp::socket& socket) {
  beast::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return "?";
  net::ip::address a = peer.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  }
  return a.to_string();
}

bool ReadableFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return f.good();
}

}  // namespace

// ---------------------------------------------------------------------------
// HttpRequest / JsonError

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

const std::string* HttpRequest::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return &value;
  }
  return nullptr;
}

HttpResponse JsonError(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", std::string(message)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

// ---------------------------------------------------------------------------
// The server's shared state.

using SessionBase = saring::net::ServerSession;

// Declaration order matters: the core (and with it the io_context, and the
// sessions still held by its pending handlers) is destroyed first, the TLS
// context and the options after it.
struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  bool tls = false;
  std::optional<ssl::context> ssl_ctx;
  std::uint16_t port = 0;
  std::string url;

  // The io_context, threads, acceptor (and its retry timer) and sessions.
  std::unique_ptr<saring::net::ServerCore> core;

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Reject(tcp::socket& socket);
  void Unregister(std::uint64_t id) { core->Unregister(id); }
  void Stop() { core->Stop(); }
};

namespace {

// One connection: reads a request, calls the handler, writes the response,
// and again while the connection is kept alive. Every step runs on the
// connection's strand; the session lives as long as a pending operation (or
// the handler call) holds it.
template <class Stream>
class Session : public SessionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  Session(HttpServer::Impl* server, std::uint64_t id, Args&&... args)
      : server_(server),
        options_(server->options),
        id_(id),
        stream_(std::forward<Args>(args)...),
        head_timer_(stream_.get_executor()) {}

  ~Session() override { server_->Unregister(id_); }

  void Run() override { net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Begin, Self())); }

  void Close() override {
    net::post(stream_.get_executor(), [self = Self()] { self->DoClose(); });
  }

 private:
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    client_ = PeerAddress(Tcp().socket());
    if (closing_) return;
    if constexpr (kTls) {
      Tcp().expires_after(std::chrono::milliseconds(options_.header_timeout_ms));
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&Session::OnHandshake, Self()));
    } else {
      ReadHead();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (closing_) return;
    if (ec) {
      spdlog::warn("admin: TLS handshake with {} failed: {}", client_, ec.message());
      DoClose();
      return;
    }
    ReadHead();
  }

  // Between requests on a kept-alive connection: waits (idle timeout) for the
  // next request's first bytes unless they are here already (pipelining).
  void AwaitRequest() {
    if (buffer_.size() > 0) {
      ReadHead();
      return;
    }
    Tcp().expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnIdleRead, Self()));
  }

  void OnIdleRead(beast::error_code ec, std::size_t n) {
    if (closing_) return;
    if (ec) {
      spdlog::debug("admin: {} connection ends: {}", client_, ec.message());
      DoClose();
      return;
    }
    buffer_.commit(n);
    ReadHead();
  }

  // The request head, within header_timeout_ms (our own timer rather than the
  // stream's, which would close the socket before we could answer 408).
  void ReadHead() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));
    Tcp().expires_never();
    start_ = Clock::now();
    in_head_ = true;
    head_timed_out_ = false;
    head_timer_.expires_after(std::chrono::milliseconds(options_.header_timeout_ms));
    head_timer_.async_wait(beast::bind_front_handler(&Session::OnHeadTimer, Self()));
    http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnHead, Self()));
  }

  void OnHeadTimer(beast::error_code ec) {
    if (ec || !in_head_ || closing_) return;
    head_timed_out_ = true;
    spdlog::warn("admin: {} did not send a request head within {} ms", client_, options_.header_timeout_ms);
    if constexpr (kTls) {
      DoClose();  // a TLS read cannot be cancelled halfway and then written after
    } else {
      Tcp().cancel();  // OnHead answers 408
    }
  }

  void OnHead(beast::error_code ec, std::size_t) {
    in_head_ = false;
    head_timer_.cancel();
    if (closing_) return;
    if (ec) {
      if (ec == http::error::end_of_stream) {  // closed between requests
        DoClose();
      } else if (head_timed_out_) {
        SendError(408, "request head not received in time");
      } else {
        OnReadError(ec, "request head");
      }
      return;
    }
    auto& req = parser_->get();
    if (req.version() != 10 && req.version() != 11) {
      SendError(505, "HTTP version not supported");
      return;
    }
    bool has_length = req.find(http::field::content_length) != req.end();
    bool has_encoding = req.find(http::field::transfer_encoding) != req.end();
    if (has_length && has_encoding) {
      SendError(400, "both Content-Length and Transfer-Encoding");
      return;
    }
    if (has_encoding && !parser_->chunked()) {
      SendError(400, "unsupported Transfer-Encoding (only chunked is)");
      return;
    }
    auto expect = req.find(http::field::expect);
    if (expect != req.end()) {
      if (!IEquals(Std(expect->value()), "100-continue")) {
        SendError(417, "unsupported Expect: " + std::string(Std(expect->value()).substr(0, 100)));
        return;
      }
      if (!parser_->is_done() && req.version() >= 11) {
        continue_.emplace(http::status::continue_, 11);
        Tcp().expires_after(std::chrono::milliseconds(options_.body_timeout_ms));
        http::async_write(stream_, *continue_, beast::bind_front_handler(&Session::OnContinue, Self()));
        return;
      }
    }
    if (parser_->is_done()) {
      Handle();
    } else {
      ReadBody();
    }
  }

  void OnContinue(beast::error_code ec, std::size_t) {
    if (closing_) return;
    continue_.reset();
    if (ec) {
      spdlog::debug("admin: {} writing 100 Continue: {}", client_, ec.message());
      DoClose();
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Tcp().expires_after(std::chrono::milliseconds(options_.body_timeout_ms));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnBody, Self()));
  }

  void OnBody(beast::error_code ec, std::size_t) {
    if (closing_) return;
    if (ec) {
      OnReadError(ec, "request body");
      return;
    }
    Handle();
  }

  // A failed read: a protocol error gets its status and a JSON error, a
  // broken or timed-out connection just ends.
  void OnReadError(beast::error_code ec, std::string_view what) {
    if (ec == http::error::header_limit) {
      SendError(431, "request header larger than " + std::to_string(options_.max_header_bytes) + " bytes");
    } else if (ec == http::error::body_limit) {
      SendError(413, "request body larger than " + std::to_string(options_.max_body_bytes) + " bytes");
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      SendError(400, "malformed request: " + ec.message());
    } else {
      if (ec == beast::error::timeout) {
        spdlog::warn("admin: {} did not send the {} in time", client_, what);
      } else {
        spdlog::debug("admin: {} reading {}: {}", client_, what, ec.message());
      }
      DoClose();
    }
  }

  void Handle() {
    Tcp().expires_never();
    auto& req = parser_->get();
    bool head = req.method() == http::verb::head;
    HttpRequest request;
    request.method = head ? "GET" : std::string(req.method_string());
    request.target = std::string(req.target());
    std::string why;
    if (!ParseTarget(Std(req.target()), &request.path, &request.query, &why)) {
      // The message itself was well framed: the connection may go on.
      spdlog::warn("admin: {} {} {}: {}", client_, Std(req.method_string()), request.target, why);
      Respond(JsonError(400, why), !req.keep_alive(), head, req.version(), request.target);
      return;
    }
    request.headers.reserve(std::distance(req.begin(), req.end()));
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.client_address = client_;
    request.tls = kTls;

    HttpResponse response;
    try {
      response = server_->handler(request);
    } catch (const std::exception& e) {
      spdlog::warn("admin: handler failed on {} {}: {}", request.method, request.target, e.what());
      response = JsonError(500, "internal server error");
    } catch (...) {
      spdlog::warn("admin: handler failed on {} {}: unknown exception", request.method, request.target);
      response = JsonError(500, "internal server error");
    }
    if (closing_) return;  // Stop() came while the handler ran
    Respond(std::move(response), !req.keep_alive(), head, req.version(),
            head ? "HEAD " + request.target : request.method + " " + request.target);
  }

  // An error the connection does not survive: answer, then linger and close.
  void SendError(int status, std::string message) {
    spdlog::warn("admin: {}: {} {}", client_, status, message);
    error_ = true;
    Respond(JsonError(status, message), true, false, 11, "-");
  }

  void Respond(HttpResponse response, bool close, bool head, unsigned version, const std::string& what) {
    if (response.status < 200 || response.status > 599) {
      spdlog::warn("admin: handler returned status {} for {}", response.status, what);
      response = JsonError(500, "internal server error");
    }
    res_.emplace();
    auto& res = *res_;
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::server, options_.server_name);
    res.set(http::field::content_type, response.content_type);
    res.set(http::field::cache_control, "no-store");
    for (auto& [name, value] : response.headers) {
      if (name.empty() || HasControlChars(name) || HasControlChars(value) ||
          name.find_first_of(": \t") != std::string::npos) {
        spdlog::warn("admin: dropped a malformed response header for {}", what);
        continue;
      }
      http::field f = http::string_to_field(name);
      if (f == http::field::content_length || f == http::field::transfer_encoding ||
          f == http::field::connection) {
        continue;
      }
      if (f == http::field::server || f == http::field::content_type || f == http::field::cache_control) {
        res.set(f, value);
      } else {
        res.insert(name, value);
      }
    }
    std::size_t size = response.body.size();
    bool bodiless = response.status == 204 || response.status == 304;
    if (!bodiless) {
      res.content_length(size);
      if (!head) res.body() = std::move(response.body);
    } else {
      size = 0;
    }
    res.keep_alive(!close);
    if (what != "-") {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
      spdlog::debug("admin: {} {} -> {} ({} bytes, {} ms)", client_, what, response.status, size, ms);
    }
    if (error_) {
      Tcp().expires_after(kErrorWriteTimeout);
    } else {
      Tcp().expires_after(std::chrono::milliseconds(options_.body_timeout_ms));
    }
    http::async_write(stream_, res, beast::bind_front_handler(&Session::OnWrite, Self(), close));
  }

  void OnWrite(bool close, beast::error_code ec, std::size_t) {
    if (closing_) return;
    if (ec) {
      spdlog::debug("admin: {} writing the response: {}", client_, ec.message());
      DoClose();
      return;
    }
    res_.reset();
    parser_.reset();
    if (close) {
      GracefulClose();
    } else {
      AwaitRequest();
    }
  }

  // Stops sending, then reads (and drops) what the client still sends for a
  // short while before closing; over TLS, exchanges close_notify instead.
  void GracefulClose() {
    Tcp().expires_after(kLinger);
    if constexpr (kTls) {
      if (!error_) {
        stream_.async_shutdown([self = Self()](beast::error_code) { self->DoClose(); });
        return;
      }
      // After an error the client may still be sending its request: drain the
      // raw TCP stream (TLS records and all) rather than the TLS one.
    }
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.clear();
    Drain();
  }

  void Drain() {
    Tcp().async_read_some(buffer_.prepare(kReadChunk), [self = Self()](beast::error_code ec, std::size_t n) {
      if (self->closing_) return;
      self->drained_ += n;
      if (ec || self->drained_ > kLingerBytes) {
        self->DoClose();
        return;
      }
      self->Drain();
    });
  }

  void DoClose() {
    if (closing_) return;
    closing_ = true;
    in_head_ = false;
    head_timer_.cancel();
    Tcp().close();
  }

  HttpServer::Impl* server_;
  const HttpServerOptions& options_;
  std::uint64_t id_;
  Stream stream_;
  net::steady_timer head_timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> res_;
  std::string client_;
  Clock::time_point start_ = Clock::now();
  std::size_t drained_ = 0;
  bool in_head_ = false;
  bool head_timed_out_ = false;
  bool error_ = false;    // answering a protocol error: the connection ends after it
  bool closing_ = false;  // DoClose ran: every pending step just returns
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace

// ---------------------------------------------------------------------------
// Accepting and stopping.

void HttpServer::Impl::Accept() {
  core->acceptor().async_accept(net::make_strand(core->ioc()), beast::bind_front_handler(&Impl::OnAccept, this));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;  // Stop closed the acceptor
  if (ec) {
    // Out of file descriptors and the like: retry soon rather than spin.
    spdlog::warn("admin: accept on {} failed: {}", options.listen.ToString(), ec.message());
    if (core->Stopping()) return;
    core->accept_retry().expires_after(kAcceptRetry);
    core->accept_retry().async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && core->acceptor().is_open()) Accept();
    });
    return;
  }
  if (core->connections() >= options.max_connections) {
    Reject(socket);
    Accept();
    return;
  }
  // The session must not be destroyed under the registry's lock (its
  // destructor unregisters): it is started, and possibly finished, after it.
  std::shared_ptr<SessionBase> session = core->Register([&](std::uint64_t id) -> std::shared_ptr<SessionBase> {
    if (tls) return std::make_shared<TlsSession>(this, id, std::move(socket), *ssl_ctx);
    return std::make_shared<PlainSession>(this, id, std::move(socket));
  });
  if (!session) return;  // stopping: the socket closes as it goes
  session->Run();
  Accept();
}

// Beyond max_connections: a 503 written without waiting, then closed.
void HttpServer::Impl::Reject(tcp::socket& socket) {
  spdlog::warn("admin: {} connections open: refusing {}", options.max_connections, PeerAddress(socket));
  static const std::string kReason = "too many connections";
  HttpResponse body = JsonError(503, kReason);
  std::string text;
  if (!tls) {
    http::response<http::string_body> res{http::status::service_unavailable, 11};
    res.set(http::field::server, options.server_name);
    res.set(http::field::content_type, body.content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(false);
    res.body() = body.body;
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    text = out.str();
  }
  // Over TLS there is no handshake to spend on it: the connection is just closed.
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  if (!text.empty()) socket.write_some(net::buffer(text), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

// ---------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (impl_) impl_->Stop();
}

std::uint16_t HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const { return impl_->url; }

Status HttpServer::Start(const HttpServerOptions& options, HttpHandler handler,
                         std::unique_ptr<HttpServer>* out) {
  if (!handler) return Status::InvalidArgument("admin HTTP server: no handler");
  if (options.threads < 1 || options.threads > 64) {
    return Status::InvalidArgument("admin HTTP server: threads must be 1..64");
  }
  if (options.header_timeout_ms <= 0 || options.body_timeout_ms <= 0 || options.idle_timeout_ms <= 0) {
    return Status::InvalidArgument("admin HTTP server: timeouts must be positive");
  }
  if (options.max_connections < 1) {
    return Status::InvalidArgument("admin HTTP server: max_connections must be at least 1");
  }
  if (options.max_header_bytes < 256) {
    return Status::InvalidArgument("admin HTTP server: max_header_bytes must be at least 256");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::InvalidArgument("admin HTTPS needs both a certificate file and a key file");
  }
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options.listen.address, ec);
  if (ec) {
    return Status::InvalidArgument("admin listen address '" + options.listen.address +
                                   "' is not a numeric IP address");
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  impl->tls = !options.tls_cert_file.empty();
  if (impl->tls) {
    for (const std::string* file : {&options.tls_cert_file, &options.tls_key_file}) {
      if (!ReadableFile(*file)) {
        return Status::InvalidArgument("admin TLS file '" + *file + "' cannot be read: " +
                                       std::strerror(errno));
      }
    }
    impl->ssl_ctx.emplace(ssl::context::tls_server);
    ssl::context& ctx = *impl->ssl_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                    ec);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return Status::InvalidArgument("admin TLS certificate '" + options.tls_cert_file +
                                     "' is not a PEM certificate chain: " + ec.message());
    }
    ctx.use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec && ec.message().find("mismatch") != std::string::npos) {
      return Status::InvalidArgument("admin TLS key '" + options.tls_key_file +
                                     "' does not match the certificate '" + options.tls_cert_file + "'");
    }
    if (ec) {
      return Status::InvalidArgument("admin TLS key '" + options.tls_key_file +
                                     "' is not a PEM private key: " + ec.message());
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return Status::InvalidArgument("admin TLS key '" + options.tls_key_file +
                                     "' does not match the certificate '" + options.tls_cert_file + "'");
    }
  }

  impl->core = std::make_unique<saring::net::ServerCore>(options.threads,
                                                         "admin: unexpected exception in the HTTP server");
  tcp::endpoint endpoint(address, options.listen.port);
  auto fail = [&](std::string_view step) {
    return Status::IOError("admin HTTP server cannot listen on " + options.listen.ToString() + " (" +
                           std::string(step) + "): " + ec.message());
  };
  if (const char* step = impl->core->Listen(endpoint, &impl->port, &ec)) return fail(step);
  std::string host;
  if (address.is_unspecified()) {
    host = address.is_v4() ? "127.0.0.1" : "[::1]";
  } else {
    host = address.is_v4() ? address.to_string() : "[" + address.to_string() + "]";
  }
  impl->url = (impl->tls ? "https://" : "http://") + host + ":" + std::to_string(impl->port);

  spdlog::info("admin: listening on {}", impl->url);
  impl->Accept();
  impl->core->StartThreads(options.threads, options.nice);
  out->reset(new HttpServer(std::move(impl)));
  return Status::OK();
}

}  // namespace saring::admin
