// ForwardProxy: the explicit HTTP/HTTPS forward proxy ("set the browser's
// proxy to saring:3128"). Plain-HTTP requests arrive in absolute-form and are
// checked against the published rule snapshot (Snapshot::CheckUrl on the
// normalized URL, see url.h) before they are forwarded; HTTPS arrives as
// CONNECT host:port and is checked by name (Snapshot::CheckName) before a TCP
// tunnel is spliced. A refused plain-HTTP request gets the block page
// (block_page.h); every request leaves one Squid-format access log line
// (access_log.h).
//
// Built on Boost.Beast, which stays out of this header, like admin/http_server.h.
//
// First version; known limits (see forward_proxy.cc for details):
//  - request and response bodies are read whole before being passed on
//    (bounded by max_body_bytes / max_response_bytes), not streamed;
//  - each forwarded request opens its own upstream connection (no upstream
//    keep-alive pool); the client connection is kept alive;
//  - names are resolved with the system resolver (boost::asio); resolution
//    through saringd's own DNS path comes next. `hosts` is consulted first.
#ifndef SARING_PROXY_FORWARD_PROXY_H_
#define SARING_PROXY_FORWARD_PROXY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "saring/server_config.h"
#include "saring/snapshot.h"
#include "saring/status.h"

namespace saring::proxy {

struct ForwardProxyOptions {
  Endpoint listen;  // numeric address; port 0 = ephemeral (see ForwardProxy::port())
  // Clients allowed to use the proxy; any other gets a 403 and the connection
  // is closed (never an open proxy). Empty = loopback clients only.
  std::vector<Subnet> allow_clients;
  std::vector<std::uint16_t> connect_ports{443};  // CONNECT to any other port: 403
  int threads = 2;
  std::size_t max_header_bytes = 16u << 10;    // request head; larger: 431 and close
  std::size_t max_body_bytes = 16u << 20;      // request body; larger: 413 and close
  std::size_t max_response_bytes = 64u << 20;  // origin response body; larger: 502
  int header_timeout_ms = 10000;   // the first request head must arrive within this (408)
  int idle_timeout_ms = 60000;     // keep-alive wait for the next request; also each upstream
                                   // read/write and a tunnel without traffic in either direction
  int connect_timeout_ms = 5000;   // resolve + connect to the origin; then 504
  int max_connections = 4096;      // beyond: 503 and close
  std::string report_url;          // the block page's report form ("" = no form)
  std::string via = "1.1 saring";  // the Via header added to forwarded messages
  // Static hosts table: name (as NormalizeDomain spells it) → numeric IP,
  // consulted before DNS. For tests and for pinning internal names.
  std::map<std::string, std::string> hosts;
  // Receives one Squid-format access log line (with its '\n') per request;
  // called from the proxy's threads, possibly concurrently. Empty = no log.
  std::function<void(std::string_view line)> access_log;
};

// The listener and its connections. Start/Stop/the destructor from one owning
// thread; port() from any thread.
class ForwardProxy {
 public:
  // Binds options.listen and starts options.threads threads. `snapshots` must
  // outlive the proxy; before its first Publish every request is refused
  // with a 503 (fail closed). Errors: bad option or address → InvalidArgument;
  // cannot bind → IOError; on error *out is untouched.
  static Status Start(const ForwardProxyOptions& options, const SnapshotPublisher* snapshots,
                      std::unique_ptr<ForwardProxy>* out);
  ~ForwardProxy();  // Stop()

  ForwardProxy(const ForwardProxy&) = delete;
  ForwardProxy& operator=(const ForwardProxy&) = delete;

  // Closes the listener and every connection (tunnels included) and joins the
  // threads. Idempotent.
  void Stop();
  std::uint16_t port() const;

  struct Impl;  // in forward_proxy.cc

 private:
  explicit ForwardProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace saring::proxy

#endif  // SARING_PROXY_FORWARD_PROXY_H_
