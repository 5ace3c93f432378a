// Worker: one DNS worker thread and everything it owns: its own UDP socket per
// listen address (SO_REUSEPORT spreads clients over workers), its own TCP
// acceptors, upstream sockets, pending-query table, answer cache, counters and
// readers of the published snapshot and policy. Nothing on the query path is
// shared with another worker, so nothing there takes a lock.
// Internal to src/dns.
#ifndef SARING_DNS_WORKER_H_
#define SARING_DNS_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dns/policy.h"
#include "saring/dns_server.h"
#include "saring/server_config.h"
#include "saring/snapshot.h"
#include "saring/status.h"

namespace saring::dns {

// What all workers share, read-only.
struct WorkerTops;

struct WorkerSetup {
  const SnapshotPublisher* snapshots = nullptr;
  const Publisher<Policy>* policy = nullptr;
  std::vector<Endpoint> listen;
  std::vector<Endpoint> upstreams;
  int upstream_timeout_ms = 1500;
  int query_timeout_ms = 3000;
  std::size_t cache_bytes = 32u << 20;  // this worker's share
};

class Worker {
 public:
  Worker(int index, const WorkerSetup& setup);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens and binds every socket; the thread has not started yet.
  Status Open();
  // The thread body: serves until Stop.
  void Run();
  // Any thread: makes Run return soon.
  void Stop();

  // Adds this worker's counters to `total` (relaxed reads: figures, not a cut),
  // its upstreams' figures and its cache's size; not the top tables.
  void AddCounters(DnsCounters* total) const;
  // Any thread: the copy of its top tables the worker last published (about
  // once a second while blocks come, and when it stops); null before its first
  // block.
  std::shared_ptr<const WorkerTops> Tops() const;

  // Defined in worker.cc, where the connection objects need to reach it.
  struct Rep;

 private:
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring::dns

#endif  // SARING_DNS_WORKER_H_
