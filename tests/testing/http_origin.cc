#include "testing/http_origin.h"

#include <zlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include "testing/subprocess.h"

namespace saring::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Named (not anonymous) because HttpOrigin::Impl holds these types.
namespace origin_internal {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Gzip(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(zs.total_out);
  return out;
}

bool EtagMatches(const std::string& if_none_match, const std::string& etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  // A comma-separated list of entity tags; weak comparison is fine here.
  auto strip_weak = [](std::string s) { return s.rfind("W/", 0) == 0 ? s.substr(2) : s; };
  std::string want = strip_weak(etag);
  size_t start = 0;
  while (start <= if_none_match.size()) {
    size_t comma = if_none_match.find(',', start);
    std::string item = if_none_match.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos && strip_weak(item.substr(b, e - b + 1)) == want) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

// A response as bytes on the wire, and how much of it to send.
struct Wire {
  std::string bytes;
  std::size_t send = 0;  // bytes to send (all, or up to a cut)
  bool keep_alive = true;
  bool truncate = false;
  bool stall = false;
  bool close_after = false;
  int delay_ms = 0;
};

bool HasHeader(const HttpResponse& r, const char* name) {
  for (const auto& [n, v] : r.headers) {
    if (Lower(n) == name) return true;
  }
  return false;
}

Wire Encode(const HttpRequest& req, const HttpResponse& in) {
  HttpResponse r = in;
  Wire w;
  w.delay_ms = r.delay_ms;
  w.close_after = r.close_after;
  w.keep_alive = Lower(req.Header("connection")) != "close";
  bool not_modified = (!r.etag.empty() && EtagMatches(req.Header("if-none-match"), r.etag)) ||
                      (!r.last_modified.empty() && req.Header("if-modified-since") == r.last_modified);
  std::vector<std::pair<std::string, std::string>> extra;
  if (!r.etag.empty()) extra.emplace_back("ETag", r.etag);
  if (!r.last_modified.empty()) extra.emplace_back("Last-Modified", r.last_modified);
  if (not_modified) {
    r.status = 304;
    r.body.clear();
    r.truncate_after.reset();
    r.stall_after.reset();
    r.chunked = false;
  } else if (r.gzip && req.Header("accept-encoding").find("gzip") != std::string::npos) {
    r.body = Gzip(r.body);
    extra.emplace_back("Content-Encoding", "gzip");
  }
  if (r.gzip) extra.emplace_back("Vary", "Accept-Encoding");

  const bool no_body = r.status == 304 || r.status == 204 || (r.status >= 100 && r.status < 200);
  std::string body_wire;
  bool custom_framing = HasHeader(r, "content-length") || HasHeader(r, "transfer-encoding");
  if (!no_body && !custom_framing) {
    if (r.chunked) {
      extra.emplace_back("Transfer-Encoding", "chunked");
      constexpr std::size_t kChunk = 16384;
      for (std::size_t i = 0; i < r.body.size(); i += kChunk) {
        std::size_t n = std::min(kChunk, r.body.size() - i);
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        body_wire += size_line;
        body_wire.append(r.body, i, n);
        body_wire += "\r\n";
      }
      body_wire += "0\r\n\r\n";
    } else {
      extra.emplace_back("Content-Length", std::to_string(r.body.size()));
      body_wire = r.body;
    }
  } else if (!no_body) {
    body_wire = r.body;
  }
  if (!w.keep_alive) extra.emplace_back("Connection", "close");

  std::string reason(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(r.status))));
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + (reason.empty() ? "Status" : reason) + "\r\n";
  for (const auto& [n, v] : r.headers) head += n + ": " + v + "\r\n";
  for (const auto& [n, v] : extra) head += n + ": " + v + "\r\n";
  head += "\r\n";
  if (req.method == "HEAD") body_wire.clear();

  w.bytes = head + body_wire;
  w.send = w.bytes.size();
  if (r.truncate_after) {
    w.truncate = true;
    w.send = head.size() + std::min(*r.truncate_after, body_wire.size());
  } else if (r.stall_after) {
    w.stall = true;
    w.send = head.size() + std::min(*r.stall_after, body_wire.size());
  }
  return w;
}

}  // namespace origin_internal

using origin_internal::Lower;

std::string HttpRequest::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

HttpResponse HttpResponse::Ok(std::string body, std::string content_type) {
  HttpResponse r;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.emplace_back("Content-Type", std::move(content_type));
  return r;
}

HttpResponse HttpResponse::Code(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Redirect(std::string location, int status) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Location", std::move(location));
  r.body = "moved\n";
  return r;
}

namespace origin_internal {

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Close() = 0;
};

// What a session asks for the answer to a request (the origin).
class Responder {
 public:
  virtual ~Responder() = default;
  virtual HttpResponse Answer(const HttpRequest& req) = 0;
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  Session(Responder* origin, Stream stream)
      : origin_(origin), stream_(std::move(stream)), timer_(stream_.get_executor()) {}

  void Start() {
    if constexpr (kTls) {
      auto self = this->shared_from_this();
      stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return self->Close();
        self->Read();
      });
    } else {
      Read();
    }
  }

  void Close() override {
    beast::error_code ec;
    timer_.cancel();
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_.lowest_layer().close(ec);
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(64 << 20);
    auto self = this->shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->OnRequest();
    });
  }

  void OnRequest() {
    const auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& field : msg) {
      req.headers[Lower(std::string(field.name_string()))] = std::string(field.value());
    }
    req.body = msg.body();
    try {
      wire_ = Encode(req, origin_->Answer(req));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "HttpOrigin: handler for %s failed: %s\n", req.path.c_str(), e.what());
      wire_ = Encode(req, HttpResponse::Code(500, "handler failed\n"));
    }
    if (wire_.delay_ms > 0) {
      auto self = this->shared_from_this();
      timer_.expires_after(std::chrono::milliseconds(wire_.delay_ms));
      timer_.async_wait([self](beast::error_code ec) {
        if (ec) return self->Close();
        self->Write();
      });
    } else {
      Write();
    }
  }

  void Write() {
    auto self = this->shared_from_this();
    asio::async_write(stream_, asio::buffer(wire_.bytes.data(), wire_.send),
                      [self](beast::error_code ec, std::size_t) {
                        if (ec) return self->Close();
                        self->OnWritten();
                      });
  }

  void OnWritten() {
    if (wire_.truncate || wire_.close_after) return Close();  // abrupt, unannounced
    if (wire_.stall) return Drain();
    if (wire_.keep_alive) return Read();
    beast::error_code ec;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_send, ec);
    Drain();  // until the client closes its side too
  }

  // Reads and drops whatever comes, until the peer closes or Close() runs.
  void Drain() {
    auto self = this->shared_from_this();
    stream_.async_read_some(asio::buffer(sink_), [self](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->Drain();
    });
  }

  Responder* origin_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Wire wire_;
  char sink_[4096];
};

}  // namespace origin_internal

struct HttpOrigin::Impl : origin_internal::Responder {
  struct Script {
    std::vector<HttpResponse> responses;
    std::size_t next = 0;
    HttpHandler handler;
  };

  asio::io_context ioc;
  std::optional<asio::ssl::context> ssl;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  bool running = false;
  std::vector<std::weak_ptr<origin_internal::SessionBase>> sessions;  // touched on the origin's thread only

  mutable std::mutex mu;
  std::map<std::string, Script> routes;
  std::map<std::string, int> counts;
  std::map<std::string, HttpRequest> last;
  int total = 0;
  int connections = 0;

  HttpResponse Answer(const HttpRequest& req) override {
    HttpHandler handler;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++counts[req.path];
      ++total;
      last[req.path] = req;
      auto it = routes.find(req.path);
      if (it == routes.end()) return HttpResponse::Code(404, "not found\n");
      Script& s = it->second;
      if (!s.handler) {
        HttpResponse r = s.responses[std::min(s.next, s.responses.size() - 1)];
        ++s.next;
        return r;
      }
      handler = s.handler;
    }
    return handler(req);  // outside the lock: it may call back into the origin
  }

  void Accept();
};


void HttpOrigin::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      Accept();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      ++connections;
    }
    sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                  [](const std::weak_ptr<origin_internal::SessionBase>& w) { return w.expired(); }),
                   sessions.end());
    if (ssl) {
      auto s = std::make_shared<origin_internal::Session<asio::ssl::stream<tcp::socket>>>(
          this, asio::ssl::stream<tcp::socket>(std::move(socket), *ssl));
      sessions.push_back(s);
      s->Start();
    } else {
      auto s = std::make_shared<origin_internal::Session<tcp::socket>>(this, std::move(socket));
      sessions.push_back(s);
      s->Start();
    }
    Accept();
  });
}

HttpOrigin::HttpOrigin() : impl_(std::make_unique<Impl>()) {}

HttpOrigin::~HttpOrigin() { Stop(); }

saring::Status HttpOrigin::Start(const Options& options) {
  if (impl_->running || impl_->acceptor.is_open()) return saring::Status::FailedPrecondition("already started");
  try {
    if (!options.cert_file.empty() || !options.key_file.empty()) {
      impl_->ssl.emplace(asio::ssl::context::tls_server);
      impl_->ssl->use_certificate_chain_file(options.cert_file);
      impl_->ssl->use_private_key_file(options.key_file, asio::ssl::context::pem);
      tls_ = true;
    }
    tcp::endpoint endpoint(asio::ip::make_address(options.address), options.port);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    return saring::Status::Unavailable(std::string("HttpOrigin: ") + e.what());
  }
  impl_->Accept();
  impl_->running = true;
  Impl* impl = impl_.get();
  impl_->thread = std::thread([impl] {
    for (;;) {
      try {
        impl->ioc.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "HttpOrigin: %s\n", e.what());
      }
    }
  });
  return saring::Status::OK();
}

saring::Status HttpOrigin::Start() { return Start(Options()); }

void HttpOrigin::Stop() {
  if (!impl_->running) return;
  Impl* impl = impl_.get();
  asio::post(impl->ioc, [impl] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    for (auto& w : impl->sessions) {
      if (auto s = w.lock()) s->Close();
    }
    impl->sessions.clear();
    impl->ioc.stop();  // handlers still queued are dropped with the io_context
  });
  impl->thread.join();
  impl->running = false;
}

std::string HttpOrigin::Url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpOrigin::Route(const std::string& path, HttpResponse response) {
  RouteSequence(path, {std::move(response)});
}

void HttpOrigin::RouteSequence(const std::string& path, std::vector<HttpResponse> responses) {
  if (responses.empty()) responses.push_back(HttpResponse::Code(404, "not found\n"));
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->routes[path] = Impl::Script{std::move(responses), 0, nullptr};
}

void HttpOrigin::RouteHandler(const std::string& path, HttpHandler handler) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->routes[path] = Impl::Script{{}, 0, std::move(handler)};
}

int HttpOrigin::Requests(const std::string& path) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->counts.find(path);
  return it == impl_->counts.end() ? 0 : it->second;
}

int HttpOrigin::TotalRequests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->total;
}

std::string HttpOrigin::LastRequestHeader(const std::string& path, const std::string& name) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->last.find(path);
  return it == impl_->last.end() ? "" : it->second.Header(name);
}

std::optional<HttpRequest> HttpOrigin::LastRequest(const std::string& path) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->last.find(path);
  if (it == impl_->last.end()) return std::nullopt;
  return it->second;
}

int HttpOrigin::Connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->connections;
}

void HttpOrigin::ResetCounts() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->counts.clear();
  impl_->last.clear();
  impl_->total = 0;
  impl_->connections = 0;
}

}  // namespace saring::testing
