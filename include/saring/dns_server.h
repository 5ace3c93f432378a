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

  // The most blocked query names and the rules that blocked most. Each worker
  // keeps its own fixed-size Space-Saving table (128 slots) and publishes a
  // copy about once a second; these are the workers' latest copies merged
  // (counts summed per value). So the figures are up to ~1 s old and
  // approximate: once a worker has seen more distinct values than slots, a
  // count may overestimate, by at most that worker's lowest count in the
  // table, and a rare value may be missing; any value making up more than
  // 1/128 of a worker's blocks is certainly counted. Names and rule texts
  // only, never a client. A CNAME-blocked answer counts the name asked for
  // and the rule that matched its CNAME target.
  struct TopEntry {
    std::string value;  // the query name, or the rule's value (the matched domain, the pattern)
    std::uint16_t class_id = 0;  // the deciding rule's class (for a name: the latest one seen)
    std::uint64_t count = 0;
  };
  std::vector<TopEntry> top_blocked_names;  // most first, at most 20
  std::vector<TopEntry> top_blocked_rules;  // most first, at most 20; rules of another class
                                            // with the same text are separate entries

  // The configured upstreams, in configuration order. Live (relaxed reads of
  // each worker's figures), summed over workers.
  struct Upstream {
    std::string address;      // as configured, e.g. "9.9.9.9:53"
    bool healthy = true;      // now, in at least one worker (a worker takes an upstream out
                              // for 5 s after 3 timeouts in a row)
    std::uint64_t queries = 0;   // attempts sent (a retry is another attempt; TCP retries too)
    std::uint64_t answers = 0;   // answers accepted
    std::uint64_t failures = 0;  // attempts that timed out
    double srtt_ms = 0;  // smoothed round-trip time, averaged over workers weighted by
                         // answers; 0 before the first answer
  };
  std::vector<Upstream> upstreams;

  // The answer caches of all workers (live): answers held, and the bytes of
  // answer storage they take (whole 128-byte chunks; the caches' index
  // memory is not included).
  std::uint64_t cache_entries = 0;
  std::uint64_t cache_bytes = 0;
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
