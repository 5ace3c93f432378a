// Upstreams: the forwarders a worker sends queries to, with their health.
// One per worker thread (no locks): each worker learns health on its own.
#ifndef SARING_DNS_UPSTREAMS_H_
#define SARING_DNS_UPSTREAMS_H_

#include <boost/asio/ip/udp.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "saring/server_config.h"

namespace saring::dns {

class Upstreams {
 public:
  explicit Upstreams(const std::vector<Endpoint>& servers);

  std::size_t size() const { return servers_.size(); }
  const boost::asio::ip::udp::endpoint& endpoint(std::size_t i) const { return servers_[i].endpoint; }

  // The upstream to try next: a healthy one with the lowest smoothed RTT,
  // skipping `avoid` (the one that just failed) when there is another; when
  // all are down, the one that has been down longest (a probe).
  std::size_t Pick(std::int64_t now_ms, std::size_t avoid = SIZE_MAX) const;

  void Succeeded(std::size_t i, std::int64_t rtt_ms);
  // Three timeouts in a row take an upstream out for a while.
  void Failed(std::size_t i, std::int64_t now_ms);
  bool Healthy(std::size_t i, std::int64_t now_ms) const { return servers_[i].down_until_ms <= now_ms; }

 private:
  struct Server {
    boost::asio::ip::udp::endpoint endpoint;
    int consecutive_failures = 0;
    std::int64_t down_until_ms = 0;
    double srtt_ms = 50;
  };
  std::vector<Server> servers_;
};

}  // namespace saring::dns

#endif  // SARING_DNS_UPSTREAMS_H_
