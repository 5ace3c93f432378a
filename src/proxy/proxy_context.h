// Internal to src/proxy: what every proxy session shares with its server:
// the options, the snapshot source, the counters and the session registry.
// Owned by ProxyServer::Impl, which outlives every session.
#ifndef SARING_PROXY_PROXY_CONTEXT_H_
#define SARING_PROXY_PROXY_CONTEXT_H_

#include <array>
#include <atomic>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/server_core.h"
#include "proxy/access_log.h"
#include "proxy/proxy_server.h"
#include "saring/snapshot.h"

namespace saring::proxy {

// Each session lives on one io_context run by one thread (ServerCore with a
// context per thread), so its sockets carry that context's executor itself:
// no strand, no type-erased executor on every operation.
using ProxyExecutor = boost::asio::io_context::executor_type;
using ProxySocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, ProxyExecutor>;
using ProxyTimer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                     boost::asio::wait_traits<std::chrono::steady_clock>, ProxyExecutor>;

// Live counters: relaxed atomics, one set per server.
struct ProxyStats {
  std::atomic<std::uint64_t> requests{0}, blocked{0}, forwarded{0}, tunnels{0}, sni_refused{0},
      denied_clients{0}, bad_requests{0}, upstream_errors{0};
  struct Zone {
    std::atomic<std::uint64_t> requests{0}, blocked{0};
  };
  std::unique_ptr<Zone[]> zones;  // options.zones.size() + 1 ("other" last)
};

class ProxyContext {
 public:
  ProxyContext(const ProxyOptions& options, const SnapshotPublisher* snapshots);

  const ProxyOptions& options() const { return options_; }
  ProxyStats& stats() { return stats_; }
  saring::net::ServerCore& core() { return *core_; }
  void set_core(saring::net::ServerCore* core) { core_ = core; }

  // The current snapshot through the calling proxy thread's reader: one
  // atomic load, no lock. Valid until this thread's next call. Null before
  // the first publish.
  const Snapshot* CurrentSnapshot() const;
  // Installs the calling thread's snapshot reader and idle-upstream pool
  // (upstream_pool.h) around `run_loop`, and refreshes the reader on `ioc`
  // (the thread's context) every 50 ms, so an idle thread lets go of an old
  // snapshot.
  void RunWithReader(boost::asio::io_context& ioc, const std::function<void()>& run_loop) const;

  bool ClientAllowed(const boost::asio::ip::address& client) const;
  // Index into stats().zones for a client (the last one: "other").
  std::size_t ZoneOf(const boost::asio::ip::address& client) const;
  // A decided request (and whether it was blocked) in `zone`'s counters.
  void Count(std::size_t zone, bool blocked);
  // A request already counted turned out blocked (a CONNECT's SNI).
  void CountLateBlock(std::size_t zone);

  // Writes one access log line (if logging is on).
  void Log(AccessEntry entry) const;

 private:
  ProxyOptions options_;
  const SnapshotPublisher* snapshots_;
  ProxyStats stats_;
  saring::net::ServerCore* core_ = nullptr;
};

// Client addresses as the policy sees them: IPv4-mapped IPv6 as IPv4.
boost::asio::ip::address Unmapped(const boost::asio::ip::address& a);

}  // namespace saring::proxy

#endif  // SARING_PROXY_PROXY_CONTEXT_H_
