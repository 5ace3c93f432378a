// HttpOrigin: a scripted HTTP/1.1 (optionally HTTPS) server on 127.0.0.1 for
// tests that download from a real socket: feed fetches, saringd's updater.
// Each path answers with scripted responses, including the misbehaviours a
// real mirror shows (5xx, truncated bodies, stalls, redirect loops), and the
// origin records what it was asked.
//
// The origin owns one thread that serves every connection; Stop() (or the
// destructor) closes them all, stalled ones included, and joins it. Route,
// Requests and LastRequestHeader may be called from any thread while it runs.
#ifndef SARING_TESTS_TESTING_HTTP_ORIGIN_H_
#define SARING_TESTS_TESTING_HTTP_ORIGIN_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "saring/status.h"
#include "testing/self_signed_cert.h"

namespace saring::testing {

// One request as the origin received it.
struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // target without the query
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  // "" when absent; `name` in any case.
  std::string Header(const std::string& name) const;
};

// One scripted answer. The origin adds Content-Length (or chunked framing),
// and Connection: close when the client asked for it.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::string body;

  // When set: sent as ETag, and a request whose If-None-Match names it (or
  // "*") gets 304 Not Modified without a body.
  std::string etag;
  // When set: sent as Last-Modified, and a request whose If-Modified-Since is
  // exactly this string gets 304.
  std::string last_modified;
  // gzip the body (Content-Encoding: gzip) when the request's Accept-Encoding
  // allows it; otherwise the body goes as is.
  bool gzip = false;
  // Transfer-Encoding: chunked instead of Content-Length.
  bool chunked = false;
  // Send the headers (announcing the whole body) and only this many bytes of
  // the encoded body, then close the connection.
  std::optional<std::size_t> truncate_after;
  // Send the headers and this many bytes of the encoded body, then nothing
  // more until the client closes or the origin stops.
  std::optional<std::size_t> stall_after;
  // Wait this long before answering (the connection stays open meanwhile).
  int delay_ms = 0;
  // After the whole answer, close the connection without having said so (no
  // Connection: close): an origin whose keep-alive timeout ends just then.
  bool close_after = false;

  static HttpResponse Ok(std::string body, std::string content_type = "text/plain");
  static HttpResponse Code(int status, std::string body = "");
  // 302 (or `status`) with Location: `location`.
  static HttpResponse Redirect(std::string location, int status = 302);
};

// Computes the answer to a request; runs on the origin's thread.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpOrigin {
 public:
  struct Options {
    // Both set: serve HTTPS with this certificate chain and key (PEM files).
    std::string cert_file;
    std::string key_file;
    std::uint16_t port = 0;  // 0: an ephemeral port
    std::string address = "127.0.0.1";  // "::" listens on IPv6 and IPv4 both
  };

  HttpOrigin();
  ~HttpOrigin();  // Stop()s
  HttpOrigin(const HttpOrigin&) = delete;
  HttpOrigin& operator=(const HttpOrigin&) = delete;

  // Binds options.address and starts serving; port() is known when this returns.
  saring::Status Start(const Options& options);
  saring::Status Start();  // plain HTTP on an ephemeral port
  // Closes the listener and every connection, then joins the thread. Idempotent.
  void Stop();

  std::uint16_t port() const { return port_; }
  bool tls() const { return tls_; }
  // "http(s)://127.0.0.1:<port>" + path.
  std::string Url(const std::string& path) const;

  // `path` (without query) answers every request with `response`. Replaces
  // any earlier script for it. Unrouted paths get 404.
  void Route(const std::string& path, HttpResponse response);
  // `path` answers with these in turn; the last one repeats.
  void RouteSequence(const std::string& path, std::vector<HttpResponse> responses);
  void RouteHandler(const std::string& path, HttpHandler handler);

  // Requests received for `path` (headers complete) since Start/ResetCounts.
  int Requests(const std::string& path) const;
  int TotalRequests() const;
  // Connections accepted since Start/ResetCounts.
  int Connections() const;
  // Header `name` (any case) of the last request for `path`; "" if none.
  std::string LastRequestHeader(const std::string& path, const std::string& name) const;
  std::optional<HttpRequest> LastRequest(const std::string& path) const;
  void ResetCounts();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
};

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_HTTP_ORIGIN_H_
