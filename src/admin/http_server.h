// The admin API's transport: a small HTTP/1.1 server (optionally HTTPS only)
// that reads whole requests within fixed limits and hands each one to a single
// handler function. The routes (JSON endpoints, authentication) live above it;
// this layer only speaks HTTP: keep-alive and pipelining, Expect:
// 100-continue, timeouts against slow clients, a connection limit, and a
// well-formed JSON error for anything it refuses.
//
// Built on Boost.Beast, which stays out of this header (it is included by the
// routes and saringd): everything Beast is in http_server.cc.
#ifndef SARING_ADMIN_HTTP_SERVER_H_
#define SARING_ADMIN_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "saring/server_config.h"
#include "saring/status.h"

namespace saring::admin {

// One request as the handler sees it: plain data, owned by the server for the
// duration of the handler call (copy what must outlive it). The body is
// complete and within HttpServerOptions::max_body_bytes.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...; a HEAD request arrives as "GET" (the server drops the body)
  std::string target;  // the raw request target, as sent ("/v1/check?name=a%2Eb")
  std::string path;    // percent-decoded path without the query ("/v1/check")
  std::vector<std::pair<std::string, std::string>> query;  // decoded ('+' = space), in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::string client_address;  // numeric IP of the peer (IPv4-mapped IPv6 shown as IPv4)
  bool tls = false;            // arrived over HTTPS

  // The first value of the header `lower_name` (lower case), or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
  // The first value of the query parameter `name`, or nullptr when absent.
  const std::string* Query(std::string_view name) const;
};

// What the handler answers. The server adds Content-Length, Server,
// Cache-Control: no-store and Connection itself; `headers` are extra ones
// (Content-Type, Server or Cache-Control given here replace the server's;
// Content-Length, Transfer-Encoding and Connection are ignored, and a header
// with CR, LF or NUL is dropped). 204 and 304 are sent without a body.
struct HttpResponse {
  int status = 200;  // 200..599; anything else becomes a 500
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Called once per request, on one of the server's threads (HttpServerOptions::
// threads), possibly on several threads at once for different connections:
// it must be thread-safe. It may block (a bulk import); while it runs its
// connection waits and the thread serves nothing else. An exception thrown
// by it is logged and answered with a 500; the server keeps serving.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// How the server listens and what it tolerates. Plain data.
struct HttpServerOptions {
  Endpoint listen;  // numeric address; port 0 = ephemeral (see HttpServer::port())
  // Both set = this listener speaks HTTPS only (TLS 1.2+); both empty = plain HTTP.
  std::string tls_cert_file;  // PEM certificate chain, leaf first
  std::string tls_key_file;   // PEM private key of the leaf
  int threads = 2;  // handler calls may block (a bulk import): they run on these threads
  std::size_t max_body_bytes = 64u << 20;   // larger: 413
  std::size_t max_header_bytes = 16u << 10; // request line + headers; larger: 431
  int header_timeout_ms = 10000;  // the whole request head must arrive within this (slowloris),
                                  // counted from the connection's start (after the TLS handshake,
                                  // which gets as long) or, on a kept-alive connection, from the
                                  // request's first byte; then 408 (over HTTPS just closed)
  int body_timeout_ms = 120000;   // the whole body must arrive within this; also bounds the
                                  // writing of one response
  int idle_timeout_ms = 60000;    // keep-alive: the next request must start within this
  int max_connections = 256;      // beyond: accepted and closed at once with a 503 (over HTTPS
                                  // just closed: no handshake is spent on it)
  std::string server_name = "saring";  // the Server header
  // Added to the nice value of the server's threads: the admin API runs
  // imports and feed syncs, and a busy box must answer DNS first.
  int nice = 0;
};

// The listener and its connections. Start binds and starts serving; Stop (or
// the destructor) closes the listener and every connection and joins the
// threads. Each connection is served by one asynchronous session, one request
// at a time in order (pipelined requests are answered in order); a
// connection's events never run concurrently.
//
// Start/Stop/the destructor from one owning thread, never from inside the
// handler (Stop waits for the threads, including one running the handler).
// port() and url() from any thread.
class HttpServer {
 public:
  // Binds options.listen, loads the TLS certificate and key when given, and
  // starts options.threads threads. Errors (no exception is thrown): a bad
  // option, unreadable or mismatched certificate/key files, or a bad address
  // → InvalidArgument; an address that cannot be bound (in use, not local)
  // → IOError. On error *out is left untouched.
  static Status Start(const HttpServerOptions& options, HttpHandler handler,
                      std::unique_ptr<HttpServer>* out);
  ~HttpServer();  // Stop()

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listener and every connection (a response being written is cut
  // off), waits for running handler calls to return and joins the threads.
  // Idempotent.
  void Stop();

  std::uint16_t port() const;  // the bound port
  // "http://127.0.0.1:PORT" or "https://...": the listen address, with an
  // unspecified one (0.0.0.0, ::) replaced by loopback.
  std::string url() const;

  struct Impl;  // in http_server.cc

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Convenience for handlers: {"error": message} with the given status.
HttpResponse JsonError(int status, std::string_view message);

}  // namespace saring::admin

#endif  // SARING_ADMIN_HTTP_SERVER_H_
