#include "dns/upstreams.h"

#include <boost/asio/ip/address.hpp>

namespace saring::dns {
namespace {

constexpr int kFailuresBeforeDown = 3;
constexpr std::int64_t kDownForMs = 5000;
constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

Upstreams::Upstreams(const std::vector<Endpoint>& servers)
    : servers_(std::make_unique<Server[]>(servers.size())), size_(servers.size()) {
  for (std::size_t i = 0; i < size_; ++i) {
    servers_[i].endpoint = {boost::asio::ip::make_address(servers[i].address), servers[i].port};
    servers_[i].address = servers[i].ToString();
  }
}

std::size_t Upstreams::Pick(std::int64_t now_ms, std::size_t avoid) const {
  std::size_t best = SIZE_MAX;
  double best_srtt = 0;
  for (std::size_t i = 0; i < size_; ++i) {
    if (i == avoid && size_ > 1) continue;
    if (!Healthy(i, now_ms)) continue;
    double srtt = servers_[i].srtt_ms.load(kRelaxed);
    if (best == SIZE_MAX || srtt < best_srtt) {
      best = i;
      best_srtt = srtt;
    }
  }
  if (best != SIZE_MAX) return best;
  std::int64_t best_down = 0;
  for (std::size_t i = 0; i < size_; ++i) {
    if (i == avoid && size_ > 1) continue;
    std::int64_t down = servers_[i].down_until_ms.load(kRelaxed);
    if (best == SIZE_MAX || down < best_down) {
      best = i;
      best_down = down;
    }
  }
  return best == SIZE_MAX ? 0 : best;
}

void Upstreams::Sent(std::size_t i) { Bump(servers_[i].queries); }

void Upstreams::Succeeded(std::size_t i, std::int64_t rtt_ms) {
  Server& s = servers_[i];
  s.consecutive_failures = 0;
  s.down_until_ms.store(0, kRelaxed);
  s.srtt_ms.store(0.8 * s.srtt_ms.load(kRelaxed) + 0.2 * static_cast<double>(rtt_ms), kRelaxed);
  Bump(s.answers);
}

void Upstreams::Failed(std::size_t i, std::int64_t now_ms) {
  Server& s = servers_[i];
  Bump(s.failures);
  if (++s.consecutive_failures >= kFailuresBeforeDown) s.down_until_ms.store(now_ms + kDownForMs, kRelaxed);
}

Upstreams::Figures Upstreams::figures(std::size_t i, std::int64_t now_ms) const {
  const Server& s = servers_[i];
  Figures f;
  f.address = s.address;
  f.healthy = Healthy(i, now_ms);
  f.queries = s.queries.load(kRelaxed);
  f.answers = s.answers.load(kRelaxed);
  f.failures = s.failures.load(kRelaxed);
  f.srtt_ms = s.srtt_ms.load(kRelaxed);
  return f;
}

}  // namespace saring::dns
