// Upstreams: the forwarders a worker sends queries to, with their health.
// One per worker thread (no locks): each worker learns health on its own.
//
// Only the owning worker calls the non-const methods. Its figures are relaxed
// atomics with that one writer (plain loads and stores on x86, no locked
// instruction), so Figures() may be read from any thread while it works:
// each figure is current, the set is not a cut.
#ifndef SARING_DNS_UPSTREAMS_H_
#define SARING_DNS_UPSTREAMS_H_

#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "saring/server_config.h"

namespace saring::dns {

class Upstreams {
 public:
  explicit Upstreams(const std::vector<Endpoint>& servers);

  std::size_t size() const { return size_; }
  const boost::asio::ip::udp::endpoint& endpoint(std::size_t i) const { return servers_[i].endpoint; }

  // The upstream to try next: a healthy one with the lowest smoothed RTT,
  // skipping `avoid` (the one that just failed) when there is another; when
  // all are down, the one that has been down longest (a probe).
  std::size_t Pick(std::int64_t now_ms, std::size_t avoid = SIZE_MAX) const;

  // An attempt went out to upstream i (counted even if the send failed: it
  // then times out like a lost packet).
  void Sent(std::size_t i);
  void Succeeded(std::size_t i, std::int64_t rtt_ms);
  // Three timeouts in a row take an upstream out for a while.
  void Failed(std::size_t i, std::int64_t now_ms);
  bool Healthy(std::size_t i, std::int64_t now_ms) const {
    return servers_[i].down_until_ms.load(std::memory_order_relaxed) <= now_ms;
  }

  // Any thread.
  struct Figures {
    std::string address;  // as configured (Endpoint::ToString)
    bool healthy = true;
    std::uint64_t queries = 0, answers = 0, failures = 0;
    double srtt_ms = 0;  // meaningful once answers > 0 (before: the 50 ms prior)
  };
  Figures figures(std::size_t i, std::int64_t now_ms) const;

 private:
  struct Server {
    boost::asio::ip::udp::endpoint endpoint;
    std::string address;
    int consecutive_failures = 0;  // the worker's own
    std::atomic<std::int64_t> down_until_ms{0};
    std::atomic<double> srtt_ms{50};
    std::atomic<std::uint64_t> queries{0}, answers{0}, failures{0};
  };
  // One writer: a relaxed load and store, not a locked read-modify-write.
  static void Bump(std::atomic<std::uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::unique_ptr<Server[]> servers_;
  std::size_t size_ = 0;
};

}  // namespace saring::dns

#endif  // SARING_DNS_UPSTREAMS_H_
