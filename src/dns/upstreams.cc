#include "dns/upstreams.h"

#include <boost/asio/ip/address.hpp>

namespace saring::dns {
namespace {

constexpr int kFailuresBeforeDown = 3;
constexpr std::int64_t kDownForMs = 5000;

}  // namespace

Upstreams::Upstreams(const std::vector<Endpoint>& servers) {
  for (const Endpoint& e : servers) {
    Server s;
    s.endpoint = {boost::asio::ip::make_address(e.address), e.port};
    servers_.push_back(s);
  }
}

std::size_t Upstreams::Pick(std::int64_t now_ms, std::size_t avoid) const {
  std::size_t best = SIZE_MAX;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (i == avoid && servers_.size() > 1) continue;
    if (!Healthy(i, now_ms)) continue;
    if (best == SIZE_MAX || servers_[i].srtt_ms < servers_[best].srtt_ms) best = i;
  }
  if (best != SIZE_MAX) return best;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (i == avoid && servers_.size() > 1) continue;
    if (best == SIZE_MAX || servers_[i].down_until_ms < servers_[best].down_until_ms) best = i;
  }
  return best == SIZE_MAX ? 0 : best;
}

void Upstreams::Succeeded(std::size_t i, std::int64_t rtt_ms) {
  Server& s = servers_[i];
  s.consecutive_failures = 0;
  s.down_until_ms = 0;
  s.srtt_ms = 0.8 * s.srtt_ms + 0.2 * static_cast<double>(rtt_ms);
}

void Upstreams::Failed(std::size_t i, std::int64_t now_ms) {
  Server& s = servers_[i];
  if (++s.consecutive_failures >= kFailuresBeforeDown) s.down_until_ms = now_ms + kDownForMs;
}

}  // namespace saring::dns
