#include "proxy/proxy_context.h"

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "proxy/upstream_pool.h"

namespace saring::proxy {

namespace net = boost::asio;

namespace {

constexpr auto kReaderRefresh = std::chrono::milliseconds(50);

// The calling proxy thread's reader (each proxy thread sets it once).
thread_local SnapshotReader* t_reader = nullptr;
thread_local const SnapshotPublisher* t_reader_of = nullptr;
thread_local UpstreamPool* t_pool = nullptr;

std::array<std::uint8_t, 16> Mapped16(const net::ip::address& a) {
  if (a.is_v4()) return net::ip::make_address_v6(net::ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

}  // namespace

net::ip::address Unmapped(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  return a;
}

ProxyContext::ProxyContext(const ProxyOptions& options, const SnapshotPublisher* snapshots)
    : options_(options), snapshots_(snapshots) {
  stats_.zones = std::make_unique<ProxyStats::Zone[]>(options_.zones.size() + 1);
}

const Snapshot* ProxyContext::CurrentSnapshot() const {
  if (t_reader != nullptr && t_reader_of == snapshots_) return t_reader->Get();
  return nullptr;  // not a proxy thread: never happens in a session
}

UpstreamPool* ThreadPool() { return t_pool; }

void ProxyContext::RunWithReader(net::io_context& ioc, const std::function<void()>& run_loop) const {
  SnapshotReader reader(snapshots_);
  UpstreamPool pool;  // its sockets close before the thread's io_context goes
  t_reader = &reader;
  t_reader_of = snapshots_;
  t_pool = &pool;
  // An idle thread would otherwise keep the snapshot it last used (and,
  // during a reload, the old index with it) until its next request. The
  // tick stops once the core stops, so the thread can run out of work.
  net::steady_timer refresh(ioc);
  std::function<void()> tick = [&] {
    refresh.expires_after(kReaderRefresh);
    refresh.async_wait([&](const boost::system::error_code& ec) {
      if (ec || core_->Stopping()) return;
      reader.Get();
      tick();
    });
  };
  tick();
  run_loop();
  t_pool = nullptr;
  t_reader = nullptr;
  t_reader_of = nullptr;
}

bool ProxyContext::ClientAllowed(const net::ip::address& client) const {
  if (options_.allow_clients.empty()) return client.is_loopback();
  auto bytes = Mapped16(client);
  for (const Subnet& s : options_.allow_clients) {
    if (s.Contains(bytes)) return true;
  }
  return false;
}

std::size_t ProxyContext::ZoneOf(const net::ip::address& client) const {
  auto bytes = Mapped16(client);
  for (std::size_t i = 0; i < options_.zones.size(); ++i) {
    for (const Subnet& s : options_.zones[i].subnets) {
      if (s.Contains(bytes)) return i;
    }
  }
  return options_.zones.size();
}

void ProxyContext::Count(std::size_t zone, bool blocked) {
  ProxyStats::Zone& z = stats_.zones[zone];
  z.requests.fetch_add(1, std::memory_order_relaxed);
  if (blocked) z.blocked.fetch_add(1, std::memory_order_relaxed);
}

void ProxyContext::CountLateBlock(std::size_t zone) {
  stats_.zones[zone].blocked.fetch_add(1, std::memory_order_relaxed);
}

void ProxyContext::Log(AccessEntry entry) const {
  if (!options_.access_log) return;
  thread_local std::string line;  // reused: a logged request allocates nothing either
  line.clear();
  AppendSquidLine(entry, &line);
  options_.access_log(line);
}

}  // namespace saring::proxy
