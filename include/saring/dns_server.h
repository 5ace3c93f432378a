// DnsServer: saringd's DNS front end. Worker threads (one per core by
// default) answer UDP and TCP queries on the configured addresses: blocked
// names from the published rule snapshot, the rest forwarded to upstream
// resolvers and cached.
//
// Start it only once a snapshot is published: a worker that finds none
// answers nothing (it never fails open). Start/Stop/Reload from one thread;
// counters() from any.
#ifndef SARING_DNS_SERVER_H_
#define SARING_DNS_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "saring/server_config.h"
#include "saring/snapshot.h"
#include "saring/status.h"

namespace saring {

// Aggregate counters (no per-client records).
struct DnsCounters {
  std::uint64_t queries = 0;
  std::uint64_t blocked = 0;
  std::uint64_t allowed = 0;  // an allow rule matched
  std::uint64_t forwarded = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t stale_answers = 0;
  std::uint64_t servfail = 0;
  std::uint64_t refused = 0;  // clients outside allow_clients
  std::uint64_t formerr = 0;  // malformed queries answered FORMERR/NOTIMP/BADVERS
  std::uint64_t dropped = 0;  // not answered at all (garbage, no snapshot yet)
  std::uint64_t cname_blocked = 0;  // upstream answers whose CNAME chain was blocked
  struct Zone {
    std::string name;
    std::uint64_t queries = 0;
    std::uint64_t blocked = 0;
  };
  std::vector<Zone> zones;  // the config's zones, then "other"
  // Blocked answers by the deciding rule's class id (see store.h: the store's
  // Classes() names each one's source and category); trailing zeros cut.
  std::vector<std::uint64_t> blocked_by_class;
};

class DnsServer {
 public:
  static Status Start(const ServerConfig& config, const SnapshotPublisher* snapshots,
                      std::unique_ptr<DnsServer>* out);
  ~DnsServer();  // stops
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Applies what can change without new sockets: clients allowed, block
  // answers, zones' subnets, query log. Listen addresses, workers and
  // upstreams need a restart (the result says so).
  Status Reload(const ServerConfig& config);
  void Stop();
  int workers() const;
  DnsCounters counters() const;

 private:
  struct Rep;
  explicit DnsServer(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring

#endif  // SARING_DNS_SERVER_H_
