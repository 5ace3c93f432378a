#include "saring/dns_server.h"

#include <thread>

#include "dns/policy.h"
#include "dns/top_names.h"
#include "dns/worker.h"

namespace saring {
namespace {

constexpr std::size_t kTopEntries = 20;  // of DnsCounters::top_blocked_names and _rules

}  // namespace

struct DnsServer::Rep {
  ServerConfig config;
  std::vector<std::string> zone_names;  // as the counters were laid out at start
  Publisher<dns::Policy> policy;
  std::vector<std::unique_ptr<dns::Worker>> workers;
  std::vector<std::thread> threads;

  ~Rep() { StopAll(); }

  void StopAll() {
    for (auto& w : workers) w->Stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
  }
};

DnsServer::DnsServer(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
DnsServer::~DnsServer() = default;

Status DnsServer::Start(const ServerConfig& config, const SnapshotPublisher* snapshots,
                        std::unique_ptr<DnsServer>* out) {
  auto rep = std::make_unique<Rep>();
  rep->config = config;
  for (const ClientZone& z : config.zones) rep->zone_names.push_back(z.name);
  rep->policy.Publish(std::make_shared<const dns::Policy>(dns::Policy::FromConfig(config)));
  int n = config.workers > 0 ? config.workers
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  dns::WorkerSetup setup;
  setup.snapshots = snapshots;
  setup.policy = &rep->policy;
  setup.listen = config.dns_listen;
  setup.upstreams = config.upstreams;
  setup.upstream_timeout_ms = config.upstream_timeout_ms;
  setup.query_timeout_ms = config.query_timeout_ms;
  setup.cache_bytes = std::max<std::size_t>(1u << 20, config.cache_bytes / n);
  // Every socket is bound before any thread starts: a bad address fails the
  // start as a whole instead of leaving a server that half listens.
  for (int i = 0; i < n; ++i) {
    auto worker = std::make_unique<dns::Worker>(i, setup);
    SARING_RETURN_IF_ERROR(worker->Open());
    rep->workers.push_back(std::move(worker));
  }
  for (auto& w : rep->workers) rep->threads.emplace_back([w = w.get()] { w->Run(); });
  out->reset(new DnsServer(std::move(rep)));
  return Status::OK();
}

Status DnsServer::Reload(const ServerConfig& config) {
  const ServerConfig& old = rep_->config;
  bool needs_restart = config.workers != old.workers ||
                       config.dns_listen.size() != old.dns_listen.size() ||
                       config.upstreams.size() != old.upstreams.size();
  for (std::size_t i = 0; !needs_restart && i < config.dns_listen.size(); ++i) {
    needs_restart = config.dns_listen[i].ToString() != old.dns_listen[i].ToString();
  }
  for (std::size_t i = 0; !needs_restart && i < config.upstreams.size(); ++i) {
    needs_restart = config.upstreams[i].ToString() != old.upstreams[i].ToString();
  }
  rep_->policy.Publish(std::make_shared<const dns::Policy>(dns::Policy::FromConfig(config)));
  std::vector<std::string> new_zones;
  for (const ClientZone& z : config.zones) new_zones.push_back(z.name);
  needs_restart |= new_zones != rep_->zone_names;  // counters are laid out per zone at start
  rep_->config = config;
  if (needs_restart) {
    return Status::FailedPrecondition(
        "applied blocking, clients and query log; listen addresses, workers, upstreams and zone "
        "names take effect after a restart");
  }
  return Status::OK();
}

void DnsServer::Stop() { rep_->StopAll(); }

int DnsServer::workers() const { return static_cast<int>(rep_->workers.size()); }

DnsCounters DnsServer::counters() const {
  DnsCounters total;
  for (const auto& w : rep_->workers) w->AddCounters(&total);
  // The top tables: each worker's latest published copy (up to ~1 s old;
  // approximate, see DnsCounters::TopEntry), merged.
  std::vector<std::shared_ptr<const dns::WorkerTops>> tops;
  std::vector<const dns::TopTable*> names, rules;
  for (const auto& w : rep_->workers) {
    std::shared_ptr<const dns::WorkerTops> t = w->Tops();
    if (!t) continue;
    names.push_back(&t->names);
    rules.push_back(&t->rules);
    tops.push_back(std::move(t));
  }
  total.top_blocked_names = dns::MergeTop(names, kTopEntries);
  total.top_blocked_rules = dns::MergeTop(rules, kTopEntries);
  for (std::size_t i = 0; i < total.zones.size(); ++i) {
    total.zones[i].name = i < rep_->zone_names.size() ? rep_->zone_names[i] : "other";
  }
  return total;
}

}  // namespace saring
