// AdminApi: the routes of the admin API (/v1/..., /metrics, /healthz,
// /readyz; docs/API.md) over saringd's engine, feeds, reports and DNS
// counters. It turns an HttpRequest into an HttpResponse: authentication
// (bearer tokens, roles), validation (unknown fields, bad names, regexes
// Hyperscan refuses: 400 and nothing applied), then one call into the
// engine or a service. The transport is HttpServer.
//
// Thread safety: Handle may run on several threads at once.
#ifndef SARING_ADMIN_API_H_
#define SARING_ADMIN_API_H_

#include <memory>
#include <string>

#include "admin/http_server.h"

namespace saring {
class DnsServer;
class Engine;
class FeedService;
}  // namespace saring
namespace saring::proxy {
class ProxyServer;
}  // namespace saring::proxy

namespace saring::admin {

struct AdminApiOptions {
  std::size_t max_rules_per_request = 10000;
  int reports_per_minute = 5;         // per client address
  int reports_per_minute_total = 120; // all clients together
  bool metrics_public = false;        // /metrics without a token
  std::string release_source = "city";  // where a released report's allow rule goes
};

class AdminApi {
 public:
  // `dns`, `proxy` and `feeds` may be null; all must outlive the AdminApi.
  AdminApi(Engine* engine, FeedService* feeds, const DnsServer* dns, const proxy::ProxyServer* proxy,
           AdminApiOptions options);
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring::admin

#endif  // SARING_ADMIN_API_H_
