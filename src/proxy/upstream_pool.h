// Internal to src/proxy: UpstreamPool, the idle upstream connections of one
// proxy thread, so a client that moves on to another site (or goes away)
// leaves its kept-alive origin connection for the next request to that
// origin from any client served by the same thread. Thread-confined: each
// proxy thread has its own (ThreadPool()), and a session only ever runs on
// its thread, so there is no lock.
#ifndef SARING_PROXY_UPSTREAM_POOL_H_
#define SARING_PROXY_UPSTREAM_POOL_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/proxy_context.h"

namespace saring::proxy {

class UpstreamPool {
 public:
  struct Connection {
    ProxySocket socket;
    std::string peer;  // the origin's address, for the log
  };

  static constexpr std::size_t kMaxIdle = 64;                  // per thread; the oldest goes first
  static constexpr std::chrono::seconds kMaxIdleTime{15};      // older ones are closed, not reused

  // Keeps `socket` (idle: its last response fully read, keep-alive) for `key`
  // ("host:port" as the session names its origin).
  void Park(const std::string& key, ProxySocket socket, std::string peer);
  // The most recently parked live connection for `key`, if any. One that the
  // origin has closed meanwhile (or that holds unexpected bytes) is dropped.
  std::optional<Connection> Take(const std::string& key);
  std::size_t size() const { return idle_.size(); }

 private:
  struct Idle {
    std::string key;
    Connection connection;
    std::chrono::steady_clock::time_point parked;
  };
  void DropExpired(std::chrono::steady_clock::time_point now);
  std::vector<std::unique_ptr<Idle>> idle_;  // oldest first
};

// Open, and nothing unread: a peek finds no data and no end of stream (one
// syscall). A connection the origin closed while idle fails this.
bool StillIdle(int fd);

// The calling proxy thread's pool (set up by ProxyContext::RunWithReader);
// null on any other thread.
UpstreamPool* ThreadPool();

}  // namespace saring::proxy

#endif  // SARING_PROXY_UPSTREAM_POOL_H_
