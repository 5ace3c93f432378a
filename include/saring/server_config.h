// ServerConfig: everything saringd is told by its TOML file and command line.
//
// Plain data, filled by LoadServerConfig and then read-only; a reload (SIGHUP)
// builds a new one. Defaults are what the bundled deploy/saringd.toml says, so
// an empty file is a working loopback-only setup.
#ifndef SARING_SERVER_CONFIG_H_
#define SARING_SERVER_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "saring/feed_source.h"
#include "saring/status.h"

namespace saring {

// An address and port to listen on or send to ("127.0.0.1:53", "[::1]:53").
struct Endpoint {
  std::string address;  // numeric IPv4 or IPv6
  std::uint16_t port = 0;
  std::string ToString() const;
};
Status ParseEndpoint(std::string_view text, std::uint16_t default_port, Endpoint* out);

// A client subnet ("10.1.0.0/16", "fd00::/8"); IPv4 is kept as IPv4-mapped IPv6.
struct Subnet {
  std::array<std::uint8_t, 16> address{};
  std::uint8_t prefix = 0;  // of the 128-bit form
  bool Contains(const std::array<std::uint8_t, 16>& ip) const;
};
Status ParseSubnet(std::string_view text, Subnet* out);

// How a blocked name is answered.
enum class BlockMode : std::uint8_t {
  kNxDomain,  // NXDOMAIN with an SOA in authority (clients cache it)
  kNoData,    // NOERROR, no answer records, SOA in authority
  kSinkhole,  // A/AAAA of the city's block-page server
  kCname,     // a CNAME to a landing host
};
bool ParseBlockMode(std::string_view text, BlockMode* mode);

struct BlockAnswer {
  BlockMode mode = BlockMode::kNxDomain;
  std::array<std::uint8_t, 4> sinkhole_v4{127, 0, 0, 1};
  std::array<std::uint8_t, 16> sinkhole_v6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::string cname_target = "blocked.saring.invalid";
};

// A per-source or per-category answer (the first matching override wins).
struct BlockOverride {
  std::string source;    // "" = any
  std::string category;  // "" = any
  BlockAnswer answer;
};

// A named client zone (hotspot, kelurahan, kecamatan) for the counters.
struct ClientZone {
  std::string name;
  std::vector<Subnet> subnets;
};

struct ServerConfig {
  // [server]
  std::vector<Endpoint> dns_listen;  // default 127.0.0.1:5353
  int workers = 0;                   // 0 = one per core
  std::string db_dir = "var/db";
  std::string rules_dir;             // bundled defaults for a new store; "" = none
  std::vector<Subnet> allow_clients; // default: loopback and private ranges
  // [upstream]
  std::vector<Endpoint> upstreams;   // default: the nameservers of /etc/resolv.conf
  int upstream_timeout_ms = 1500;    // one attempt
  int query_timeout_ms = 3000;       // the whole query: then SERVFAIL (or stale data)
  // [cache]
  std::size_t cache_bytes = 64u << 20;  // all workers together
  bool serve_stale = true;
  // [blocking]
  BlockAnswer block;                  // default answer
  std::vector<BlockOverride> overrides;
  std::uint32_t block_ttl = 300;
  // [[zone]]
  std::vector<ClientZone> zones;
  // [admin]: the admin API listener
  bool admin_enabled = true;
  Endpoint admin_listen{"127.0.0.1", 8053};
  std::string admin_tls_cert, admin_tls_key;  // both set: HTTPS only
  bool metrics_public = false;                // /metrics without a token
  std::size_t admin_max_body_bytes = 64u << 20;
  int reports_per_minute = 5;                 // public block-page reports per client address
  std::string release_source = "city";        // source of the allow rule a released report adds
  // [feeds] and [[feed]]
  std::string feeds_ca_file;   // CA bundle for https feeds ("" = the system's)
  std::string feeds_work_dir;  // downloads ("" = the store's folder)
  bool feeds_schedule = true;  // false: feeds run only when synced by hand
  int feeds_stall_timeout_s = 60;   // a download receiving nothing this long fails
  int feeds_connect_timeout_s = 10;
  int feeds_attempts = 3;           // download tries per run (transient failures)
  std::vector<FeedSource> feeds;  // added to the store at start when it has no feed of that name

  // [proxy]: the HTTP/HTTPS proxy's listeners ("" address = off) and limits
  Endpoint proxy_listen{"127.0.0.1", 3128};  // explicit forward proxy
  Endpoint proxy_transparent_http;           // redirected port-80 traffic
  Endpoint proxy_transparent_https;          // redirected port-443 traffic
  Endpoint proxy_block_page;                 // the page server for [blocking] mode = "sinkhole"
  bool proxy_allow_clients_set = false;      // false: the proxy uses [server] allow_clients
  std::vector<Subnet> proxy_allow_clients;
  std::vector<std::uint16_t> proxy_connect_ports{443};
  int proxy_threads = 2;
  int proxy_max_connections = 4096;
  std::size_t proxy_max_header_bytes = 16u << 10;
  int proxy_header_timeout_s = 10;
  int proxy_idle_timeout_s = 60;
  int proxy_connect_timeout_s = 5;
  bool proxy_allow_no_sni = false;        // TLS without SNI (or not TLS) through CONNECT / port 443
  bool proxy_allow_sni_mismatch = false;  // an SNI naming another host than the CONNECT
  std::string proxy_access_log;           // Squid-format access log file ("" = none)
  bool proxy_log_client_address = true;  // false: "-" for the client (privacy)
  std::string proxy_report_url;           // the block page's report form; "" = the admin API's
  std::vector<std::pair<std::string, std::string>> proxy_hosts;  // name → IP, before DNS

  // [log]
  std::string log_level = "info";
  bool query_log = false;  // one line per query: off unless an investigation needs it

  std::string source_path;  // the file it came from, for reloads
};

// Reads `path` (TOML). A missing file is an error; unknown keys are errors
// (a typo must not silently change nothing).
Status LoadServerConfig(const std::string& path, ServerConfig* config);
// Fills the defaults that depend on the machine (upstreams from resolv.conf,
// listen address) where the file and command line said nothing.
Status FinishServerConfig(ServerConfig* config);

}  // namespace saring

#endif  // SARING_SERVER_CONFIG_H_
