// ProxyServer: saringd's HTTP/HTTPS filtering proxy. Up to four listeners
// share one set of threads and the published rule snapshot:
//   - explicit ("set the browser's proxy to saring:3128"): absolute-form HTTP
//     checked on the normalized URL, CONNECT checked by name and then by the
//     TLS ClientHello's SNI before bytes pass;
//   - transparent HTTP (port-80 traffic redirected by nftables): origin-form,
//     decided on Host + URL, forwarded to the original destination;
//   - transparent HTTPS (port-443 traffic redirected): the ClientHello's SNI
//     decides; the connection is spliced to the original destination or
//     refused with a TLS alert;
//   - block page: the page server DNS sinkhole answers point browsers to.
// Plain-HTTP blocks get the block page (block_page.h); every request leaves
// one Squid-format access log line (access_log.h).
//
// Built on Boost.Beast, which stays out of this header.
#ifndef SARING_PROXY_PROXY_SERVER_H_
#define SARING_PROXY_PROXY_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saring/server_config.h"
#include "saring/snapshot.h"
#include "saring/status.h"

namespace saring::proxy {

struct ProxyOptions {
  // Listeners; an empty address = that listener is off. Port 0 = ephemeral
  // (see ProxyServer::ports()).
  Endpoint listen;             // explicit proxy
  Endpoint transparent_http;   // redirected port-80 traffic
  Endpoint transparent_https;  // redirected port-443 traffic
  Endpoint block_page;         // DNS sinkhole page server
  // Clients allowed to use the proxy; any other gets a 403 (TLS: an alert)
  // and the connection is closed (never an open proxy). Empty = loopback only.
  std::vector<Subnet> allow_clients;
  std::vector<std::uint16_t> connect_ports{443};  // CONNECT to any other port: 403
  int threads = 2;
  std::size_t max_header_bytes = 16u << 10;  // request head; larger: 431 and close
  int header_timeout_ms = 10000;   // a request head (or a ClientHello) must arrive within this
  int idle_timeout_ms = 60000;     // keep-alive wait for the next request; each body read/write
                                   // and a tunnel without traffic in either direction
  int connect_timeout_ms = 5000;   // resolve + connect to the origin; then 504
  int max_connections = 4096;      // beyond: 503 (TLS: an alert) and close
  // No SNI in a ClientHello (or not TLS at all), and an SNI naming another
  // host than the CONNECT target: refused with a TLS alert unless allowed.
  bool allow_no_sni = false;
  bool allow_sni_mismatch = false;
  // Where names are resolved: saringd's own DNS listener, so a blocked name
  // never gets an address from the proxy either. Unset: the system resolver
  // (tests and tools only). `hosts` is consulted first.
  std::optional<Endpoint> dns;
  std::map<std::string, std::string> hosts;  // NormalizeDomain'd name → numeric IP
  std::string report_url;          // the block page's report form ("" = no form)
  std::string via = "1.1 saring";  // the Via header added to forwarded messages
  // Receives one Squid-format access log line (with its '\n') per request;
  // called from the proxy's threads, possibly concurrently. Empty = no log.
  std::function<void(std::string_view line)> access_log;
  bool log_client_address = true;  // false: "-" instead of the client's IP (privacy)
  std::vector<ClientZone> zones;   // client subnets named for the counters
};

// Aggregate counters (relaxed snapshots of live figures).
struct ProxyCounters {
  std::uint64_t requests = 0;         // HTTP requests and CONNECTs/TLS connections decided
  std::uint64_t blocked = 0;          // refused by a rule (block page or TLS alert)
  std::uint64_t forwarded = 0;        // plain-HTTP requests forwarded
  std::uint64_t tunnels = 0;          // tunnels spliced (CONNECT, transparent TLS, WebSocket upgrades)
  std::uint64_t sni_refused = 0;      // TLS refused for no SNI / SNI mismatch / not TLS
  std::uint64_t denied_clients = 0;   // connections from outside allow_clients
  std::uint64_t bad_requests = 0;     // refused as malformed (4xx of the proxy's own)
  std::uint64_t upstream_errors = 0;  // 502/504
  struct Zone {
    std::string name;
    std::uint64_t requests = 0;
    std::uint64_t blocked = 0;
  };
  std::vector<Zone> zones;  // the options' zones, then "other"
};

// The listeners and their connections. Start/Stop/the destructor from one
// owning thread; ports() and counters() from any thread.
class ProxyServer {
 public:
  // Binds every configured listener and starts options.threads threads.
  // `snapshots` must outlive the server; before its first Publish every
  // request is refused (503 / TLS alert: fail closed). Errors: bad option or
  // address → InvalidArgument; cannot bind → IOError; on error *out is untouched.
  static Status Start(const ProxyOptions& options, const SnapshotPublisher* snapshots,
                      std::unique_ptr<ProxyServer>* out);
  ~ProxyServer();  // Stop()

  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Closes the listeners and every connection (tunnels included) and joins
  // the threads. Idempotent.
  void Stop();

  struct Ports {
    std::uint16_t listen = 0, transparent_http = 0, transparent_https = 0, block_page = 0;  // 0 = off
  };
  Ports ports() const;
  ProxyCounters counters() const;

  struct Impl;  // in proxy_server.cc

 private:
  explicit ProxyServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace saring::proxy

#endif  // SARING_PROXY_PROXY_SERVER_H_
