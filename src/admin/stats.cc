#include "admin/stats.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "saring/dns_server.h"
#include "saring/engine.h"
#include "proxy/proxy_server.h"
#include "saring/feed_service.h"

namespace saring::admin {
namespace {

using nlohmann::json;

std::string ClassName(const std::vector<RuleClass>& classes, std::uint16_t id, const char* what) {
  if (id >= classes.size()) return "?";
  return std::string(what[0] == 's' ? classes[id].source : classes[id].category);
}

json DnsJson(const DnsCounters& c, const std::vector<RuleClass>& classes) {
  json zones = json::array();
  for (const DnsCounters::Zone& z : c.zones) {
    zones.push_back({{"name", z.name}, {"queries", z.queries}, {"blocked", z.blocked}});
  }
  json by_source = json::array();
  for (std::size_t i = 0; i < c.blocked_by_class.size() && i < classes.size(); ++i) {
    if (c.blocked_by_class[i] == 0) continue;
    by_source.push_back({{"source", classes[i].source}, {"category", classes[i].category},
                         {"blocked", c.blocked_by_class[i]}});
  }
  auto top = [&](const std::vector<DnsCounters::TopEntry>& entries) {
    json out = json::array();
    for (const auto& e : entries) {
      out.push_back({{"value", e.value}, {"count", e.count},
                     {"source", ClassName(classes, e.class_id, "source")},
                     {"category", ClassName(classes, e.class_id, "category")}});
    }
    return out;
  };
  json upstreams = json::array();
  for (const auto& u : c.upstreams) {
    upstreams.push_back({{"address", u.address}, {"healthy", u.healthy}, {"queries", u.queries},
                         {"answers", u.answers}, {"failures", u.failures}, {"srtt_ms", u.srtt_ms}});
  }
  return {{"queries", c.queries},
          {"blocked", c.blocked},
          {"allowed", c.allowed},
          {"forwarded", c.forwarded},
          {"cache_hits", c.cache_hits},
          {"cache_entries", c.cache_entries},
          {"cache_bytes", c.cache_bytes},
          {"stale_answers", c.stale_answers},
          {"servfail", c.servfail},
          {"refused", c.refused},
          {"formerr", c.formerr},
          {"dropped", c.dropped},
          {"cname_blocked", c.cname_blocked},
          {"zones", zones},
          {"blocked_by_source", by_source},
          {"top_blocked_names", top(c.top_blocked_names)},
          {"top_blocked_rules", top(c.top_blocked_rules)},
          {"upstreams", upstreams}};
}

// Prometheus label values escape backslash, quote and newline.
std::string Label(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <class T>
  void Sample(std::string_view name, T value, std::string_view labels = "") {
    out_ += labels.empty() ? fmt::format("{} {}\n", name, value)
                           : fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};


json ProxyJson(const proxy::ProxyCounters& c) {
  json zones = json::array();
  for (const auto& z : c.zones) zones.push_back({{"name", z.name}, {"requests", z.requests}, {"blocked", z.blocked}});
  return {{"requests", c.requests},
          {"blocked", c.blocked},
          {"forwarded", c.forwarded},
          {"tunnels", c.tunnels},
          {"sni_refused", c.sni_refused},
          {"denied_clients", c.denied_clients},
          {"bad_requests", c.bad_requests},
          {"upstream_errors", c.upstream_errors},
          {"zones", zones}};
}

}  // namespace

Status StatsJson(Engine& engine, const DnsServer* dns, const proxy::ProxyServer* proxy, const FeedService* feeds,
                 std::string* out) {
  std::vector<SourceInfo> sources;
  SARING_RETURN_IF_ERROR(engine.store().ListSources(&sources));
  Snapshot::Stats s = engine.snapshot()->stats();
  json j = {{"serial", engine.store().serial()},
            {"snapshot_serial", s.serial},
            {"index", {{"base_domains", s.base_domains}, {"delta_domains", s.delta_domains},
                       {"bytes", s.index_bytes}, {"base_serial", s.base_serial}}},
            {"patterns", s.patterns},
            {"url_rules", s.urls},
            {"pattern_bytes", s.pattern_bytes}};
  json js = json::array();
  for (const SourceInfo& src : sources) {
    json one = {{"name", src.name},         {"domains", src.domains}, {"patterns", src.patterns},
                {"urls", src.urls},         {"updated_at", src.updated_at}};
    if (!src.last_import.empty()) one["last_import"] = json::parse(src.last_import);
    js.push_back(one);
  }
  j["sources"] = js;
  if (feeds) {
    std::vector<FeedSource> list;
    SARING_RETURN_IF_ERROR(feeds->List(&list));
    json jf = json::array();
    for (const FeedSource& f : list) jf.push_back(json::parse(FeedSourceToJson(f)));
    j["feeds"] = jf;
  }
  if (dns) j["dns"] = DnsJson(dns->counters(), engine.store().Classes());
  if (proxy) j["proxy"] = ProxyJson(proxy->counters());
  *out = j.dump(2);
  return Status::OK();
}

Status PrometheusMetrics(Engine& engine, const DnsServer* dns, const proxy::ProxyServer* proxy,
                         const FeedService* feeds, const ApiCounters* api, std::string* out) {
  Exposition e;
  Snapshot::Stats s = engine.snapshot()->stats();
  EngineStats es = engine.stats();
  double now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  e.Family("saring_store_serial", "gauge", "Serial of the last committed change.");
  e.Sample("saring_store_serial", engine.store().serial());
  e.Family("saring_snapshot_serial", "gauge", "Store serial the published rule snapshot reflects.");
  e.Sample("saring_snapshot_serial", s.serial);
  e.Family("saring_snapshot_age_seconds", "gauge", "Seconds since the rule snapshot was last published.");
  e.Sample("saring_snapshot_age_seconds", es.published_at_ms ? now_s - es.published_at_ms / 1000.0 : 0.0);
  e.Family("saring_snapshot_domains", "gauge", "Domain entries in the published index (base and delta).");
  e.Sample("saring_snapshot_domains", s.base_domains, "part=\"base\"");
  e.Sample("saring_snapshot_domains", s.delta_domains, "part=\"delta\"");
  e.Family("saring_snapshot_patterns", "gauge", "Host patterns and URL rules compiled.");
  e.Sample("saring_snapshot_patterns", s.patterns, "kind=\"pattern\"");
  e.Sample("saring_snapshot_patterns", s.urls, "kind=\"url\"");
  e.Family("saring_index_rebuilds_total", "counter", "Full rebuilds of the domain index.");
  e.Sample("saring_index_rebuilds_total", es.rebuilds);
  e.Family("saring_index_rebuild_seconds_total", "counter", "Time spent rebuilding the domain index.");
  e.Sample("saring_index_rebuild_seconds_total", es.total_rebuild_s);
  e.Family("saring_index_last_rebuild_seconds", "gauge", "Duration of the last index rebuild.");
  e.Sample("saring_index_last_rebuild_seconds", es.last_rebuild_s);

  std::vector<SourceInfo> sources;
  SARING_RETURN_IF_ERROR(engine.store().ListSources(&sources));
  e.Family("saring_source_rules", "gauge", "Rules per source and kind.");
  for (const SourceInfo& src : sources) {
    std::string l = "source=\"" + Label(src.name) + "\"";
    e.Sample("saring_source_rules", src.domains, l + ",kind=\"domain\"");
    e.Sample("saring_source_rules", src.patterns, l + ",kind=\"pattern\"");
    e.Sample("saring_source_rules", src.urls, l + ",kind=\"url\"");
  }

  if (feeds) {
    std::vector<FeedSource> list;
    SARING_RETURN_IF_ERROR(feeds->List(&list));
    e.Family("saring_feed_last_run_timestamp_seconds", "gauge", "Start of the feed's last run.");
    for (const FeedSource& f : list) e.Sample("saring_feed_last_run_timestamp_seconds", f.last_run_at, "feed=\"" + Label(f.name) + "\"");
    e.Family("saring_feed_last_good_timestamp_seconds", "gauge", "End of the feed's last run that left a good set.");
    for (const FeedSource& f : list) e.Sample("saring_feed_last_good_timestamp_seconds", f.last_good_at, "feed=\"" + Label(f.name) + "\"");
    e.Family("saring_feed_consecutive_failures", "gauge", "Runs failed or rejected in a row.");
    for (const FeedSource& f : list) e.Sample("saring_feed_consecutive_failures", f.failures, "feed=\"" + Label(f.name) + "\"");
    e.Family("saring_feed_last_verdict", "gauge", "1 for the verdict of the feed's last run.");
    for (const FeedSource& f : list) {
      if (!f.last_verdict.empty()) {
        e.Sample("saring_feed_last_verdict", 1, "feed=\"" + Label(f.name) + "\",verdict=\"" + Label(f.last_verdict) + "\"");
      }
    }
  }

  if (dns) {
    DnsCounters c = dns->counters();
    std::vector<RuleClass> classes = engine.store().Classes();
    e.Family("saring_dns_queries_total", "counter", "DNS queries received, by client zone.");
    for (const auto& z : c.zones) e.Sample("saring_dns_queries_total", z.queries, "zone=\"" + Label(z.name) + "\"");
    e.Family("saring_dns_blocked_total", "counter", "Blocked DNS answers, by client zone.");
    for (const auto& z : c.zones) e.Sample("saring_dns_blocked_total", z.blocked, "zone=\"" + Label(z.name) + "\"");
    e.Family("saring_dns_blocked_by_source_total", "counter", "Blocked DNS answers, by deciding source and category.");
    for (std::size_t i = 0; i < c.blocked_by_class.size() && i < classes.size(); ++i) {
      if (c.blocked_by_class[i] == 0) continue;
      e.Sample("saring_dns_blocked_by_source_total", c.blocked_by_class[i],
               "source=\"" + Label(classes[i].source) + "\",category=\"" + Label(classes[i].category) + "\"");
    }
    e.Family("saring_dns_answers_total", "counter", "DNS answers by outcome.");
    const std::pair<const char*, std::uint64_t> outcomes[] = {
        {"allowed", c.allowed},   {"forwarded", c.forwarded}, {"cache_hit", c.cache_hits},
        {"stale", c.stale_answers}, {"servfail", c.servfail}, {"refused", c.refused},
        {"formerr", c.formerr},   {"dropped", c.dropped},     {"cname_blocked", c.cname_blocked}};
    for (const auto& [what, n] : outcomes) e.Sample("saring_dns_answers_total", n, fmt::format("outcome=\"{}\"", what));
    e.Family("saring_dns_cache_entries", "gauge", "Answers held in the DNS caches.");
    e.Sample("saring_dns_cache_entries", c.cache_entries);
    e.Family("saring_dns_cache_bytes", "gauge", "Bytes of answer storage in the DNS caches.");
    e.Sample("saring_dns_cache_bytes", c.cache_bytes);
    e.Family("saring_upstream_up", "gauge", "1 if the upstream resolver is in service.");
    for (const auto& u : c.upstreams) e.Sample("saring_upstream_up", u.healthy ? 1 : 0, "upstream=\"" + Label(u.address) + "\"");
    e.Family("saring_upstream_queries_total", "counter", "Attempts sent to the upstream.");
    for (const auto& u : c.upstreams) e.Sample("saring_upstream_queries_total", u.queries, "upstream=\"" + Label(u.address) + "\"");
    e.Family("saring_upstream_failures_total", "counter", "Attempts to the upstream that timed out.");
    for (const auto& u : c.upstreams) e.Sample("saring_upstream_failures_total", u.failures, "upstream=\"" + Label(u.address) + "\"");
    e.Family("saring_upstream_srtt_milliseconds", "gauge", "Smoothed round-trip time to the upstream.");
    for (const auto& u : c.upstreams) e.Sample("saring_upstream_srtt_milliseconds", u.srtt_ms, "upstream=\"" + Label(u.address) + "\"");
  }
  if (proxy) {
    proxy::ProxyCounters c = proxy->counters();
    e.Family("saring_proxy_requests_total", "counter", "Proxy requests decided (HTTP requests, CONNECTs, TLS), by client zone.");
    for (const auto& z : c.zones) e.Sample("saring_proxy_requests_total", z.requests, "zone=\"" + Label(z.name) + "\"");
    e.Family("saring_proxy_blocked_total", "counter", "Proxy requests refused by a rule, by client zone.");
    for (const auto& z : c.zones) e.Sample("saring_proxy_blocked_total", z.blocked, "zone=\"" + Label(z.name) + "\"");
    e.Family("saring_proxy_outcomes_total", "counter", "Proxy outcomes.");
    const std::pair<const char*, std::uint64_t> outcomes[] = {
        {"forwarded", c.forwarded},           {"tunnel", c.tunnels},
        {"sni_refused", c.sni_refused},       {"denied_client", c.denied_clients},
        {"bad_request", c.bad_requests},      {"upstream_error", c.upstream_errors}};
    for (const auto& [what, n] : outcomes) e.Sample("saring_proxy_outcomes_total", n, fmt::format("outcome=\"{}\"", what));
  }
  if (api) {
    e.Family("saring_api_requests_total", "counter", "Admin API requests.");
    e.Sample("saring_api_requests_total", api->requests);
    e.Family("saring_api_refused_total", "counter", "Admin API requests refused, by reason.");
    e.Sample("saring_api_refused_total", api->unauthorized, "reason=\"unauthorized\"");
    e.Sample("saring_api_refused_total", api->forbidden, "reason=\"forbidden\"");
    e.Sample("saring_api_refused_total", api->bad_requests, "reason=\"bad_request\"");
    e.Sample("saring_api_refused_total", api->reports_limited, "reason=\"report_rate\"");
    e.Family("saring_reports_filed_total", "counter", "Block-page reports filed.");
    e.Sample("saring_reports_filed_total", api->reports_filed);
  }
  *out = std::move(e.text());
  return Status::OK();
}

}  // namespace saring::admin
