// The figures saringd reports: one JSON document (`saringctl stats --json`,
// GET /v1/stats) and the Prometheus text exposition (GET /metrics), built
// from the same sources so they never disagree. Aggregates only.
#ifndef SARING_ADMIN_STATS_H_
#define SARING_ADMIN_STATS_H_

#include <string>

#include "saring/status.h"

namespace saring {
class DnsServer;
class Engine;
class FeedService;
}  // namespace saring
namespace saring::proxy {
class ProxyServer;
}  // namespace saring::proxy

namespace saring::admin {

// Counters of the admin API itself, kept by its router.
struct ApiCounters {
  std::uint64_t requests = 0, unauthorized = 0, forbidden = 0, bad_requests = 0, reports_filed = 0,
                reports_limited = 0;
};

// `dns`, `proxy` and `feeds` may be null (saringctl on a stopped store, a
// saringd without a proxy).
Status StatsJson(Engine& engine, const DnsServer* dns, const proxy::ProxyServer* proxy, const FeedService* feeds,
                 std::string* out);
Status PrometheusMetrics(Engine& engine, const DnsServer* dns, const proxy::ProxyServer* proxy,
                         const FeedService* feeds, const ApiCounters* api, std::string* out);

}  // namespace saring::admin

#endif  // SARING_ADMIN_STATS_H_
