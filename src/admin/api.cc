#include "admin/api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "admin/json_forms.h"
#include "admin/reports.h"
#include "admin/stats.h"
#include "admin/tokens.h"
#include "saring/reference.h"
#include "proxy/url.h"
#include "saring/dns_server.h"
#include "saring/engine.h"
#include "saring/feed_service.h"
#include "saring/name.h"

namespace saring::admin {
namespace {

using nlohmann::json;

// Who may call a route: nobody needs a token for kPublic.
enum class Need { kPublic, kViewer, kEditor, kAdmin };

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case Status::Code::kOk: return 200;
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kAlreadyExists: return 409;
    case Status::Code::kFailedPrecondition: return 409;
    case Status::Code::kUnavailable: return 503;
    default: return 500;
  }
}

HttpResponse Error(const Status& st) { return JsonError(HttpStatusOf(st), st.message()); }

HttpResponse Json(const json& j, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump();
  r.body += '\n';
  return r;
}

// Numbers from the query string; a bad one is a 400, not a silent default.
Status QueryNumber(const HttpRequest& req, std::string_view name, std::uint64_t max,
                   std::uint64_t* value) {
  const std::string* text = req.Query(name);
  if (!text) return Status::OK();
  std::uint64_t v = 0;
  if (text->empty() || text->size() > 19 || text->find_first_not_of("0123456789") != std::string::npos ||
      (v = std::stoull(*text)) > max) {
    return Status::InvalidArgument("query parameter '" + std::string(name) + "' must be a number up to " +
                                   std::to_string(max));
  }
  *value = v;
  return Status::OK();
}

bool QueryFlag(const HttpRequest& req, std::string_view name) {
  const std::string* v = req.Query(name);
  return v && (*v == "1" || *v == "true" || *v == "yes" || v->empty());
}

// "expires": seconds from now (number) or "30m"/"12h"/"7d", or an absolute
// Unix time as "@T".
Status ParseExpires(const json& v, std::int64_t* at) {
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  if (v.is_number_integer() && v.get<std::int64_t>() > 0) return *at = now + v.get<std::int64_t>(), Status::OK();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.starts_with('@') && s.size() > 1 && s.find_first_not_of("0123456789", 1) == std::string::npos &&
        s.size() < 15) {
      return *at = std::stoll(s.substr(1)), Status::OK();
    }
    std::int64_t seconds = 0;
    if (ParseInterval(s, &seconds).ok()) return *at = now + seconds, Status::OK();
  }
  return Status::InvalidArgument("expires must be seconds, an interval like \"7d\", or \"@UNIXTIME\"");
}

Status RuleFromJson(const json& j, const std::string& by, Rule* rule) {
  if (!j.is_object()) return Status::InvalidArgument("a rule is a JSON object");
  bool have_value = false, have_source = false;
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const json& v = item.value();
    auto need_string = [&]() -> Status {
      return v.is_string() ? Status::OK() : Status::InvalidArgument("field '" + key + "' must be a string");
    };
    if (key == "kind") {
      SARING_RETURN_IF_ERROR(need_string());
      if (!ParseRuleKind(v.get<std::string>(), &rule->kind)) {
        return Status::InvalidArgument("kind must be domain, pattern or url");
      }
    } else if (key == "action") {
      SARING_RETURN_IF_ERROR(need_string());
      if (!ParseAction(v.get<std::string>(), &rule->action)) return Status::InvalidArgument("action must be block or allow");
    } else if (key == "value") {
      SARING_RETURN_IF_ERROR(need_string());
      rule->value = v.get<std::string>();
      have_value = true;
    } else if (key == "source") {
      SARING_RETURN_IF_ERROR(need_string());
      rule->source = v.get<std::string>();
      have_source = true;
    } else if (key == "category") {
      SARING_RETURN_IF_ERROR(need_string());
      rule->category = v.get<std::string>();
    } else if (key == "note") {
      SARING_RETURN_IF_ERROR(need_string());
      rule->note = v.get<std::string>();
    } else if (key == "expires") {
      SARING_RETURN_IF_ERROR(ParseExpires(v, &rule->expires_at));
    } else {
      return Status::InvalidArgument("unknown field '" + key + "'");
    }
  }
  if (!have_value) return Status::InvalidArgument("a rule needs a value");
  if (!have_source) return Status::InvalidArgument("a rule needs a source");
  rule->added_by = by;
  return Status::OK();
}

// A rule key as DELETE /v1/rules takes it: kind (default domain), value, source.
Status KeyFromJson(const json& j, RuleKey* key) {
  if (!j.is_object()) return Status::InvalidArgument("a rule key is a JSON object");
  bool have_value = false, have_source = false;
  for (const auto& [name, v] : j.items()) {
    if (!v.is_string()) return Status::InvalidArgument("field '" + name + "' must be a string");
    if (name == "kind") {
      if (!ParseRuleKind(v.get<std::string>(), &key->kind)) return Status::InvalidArgument("kind must be domain, pattern or url");
    } else if (name == "value") {
      key->value = v.get<std::string>();
      have_value = true;
    } else if (name == "source") {
      key->source = v.get<std::string>();
      have_source = true;
    } else {
      return Status::InvalidArgument("unknown field '" + name + "'");
    }
  }
  if (!have_value || !have_source) return Status::InvalidArgument("a rule key needs value and source");
  return Status::OK();
}

// Splits "/v1/feeds/NAME/sync" into its segments.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    std::size_t end = path.find('/');
    out.push_back(path.substr(0, end));
    path = end == std::string_view::npos ? std::string_view() : path.substr(end);
  }
  return out;
}

// application/x-www-form-urlencoded, as a block page's form posts it.
std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  auto decode = [](std::string_view s) {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        r += ' ';
      } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        r += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        r += s[i];
      }
    }
    return r;
  };
  while (!body.empty()) {
    std::size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    std::size_t eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
  }
  return out;
}

// A token bucket per client address for the public report endpoint.
class RateLimiter {
 public:
  RateLimiter(int per_minute, int total_per_minute) : per_minute_(per_minute), total_(total_per_minute) {}

  bool Allow(const std::string& client) {
    std::lock_guard lock(mu_);
    double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (buckets_.size() > 10000) buckets_.clear();  // bounded memory under a flood of addresses
    auto refill = [&](Bucket& b, double rate) {
      b.tokens = std::min(rate, b.tokens + (now - b.at) * rate / 60.0);
      b.at = now;
    };
    auto [it, fresh] = buckets_.try_emplace(client, Bucket{static_cast<double>(per_minute_), now});
    refill(it->second, per_minute_);
    refill(all_, total_);
    if (it->second.tokens < 1 || all_.tokens < 1) return false;
    it->second.tokens -= 1;
    all_.tokens -= 1;
    return true;
  }

 private:
  struct Bucket {
    double tokens;
    double at;
  };
  std::mutex mu_;
  int per_minute_, total_;
  std::map<std::string, Bucket> buckets_;
  Bucket all_{1e9, 0};
};

}  // namespace

struct AdminApi::Rep {
  Engine* engine;
  FeedService* feeds;
  const DnsServer* dns;
  const proxy::ProxyServer* proxy;
  AdminApiOptions options;
  ReportDesk reports;
  RateLimiter report_limit;
  std::atomic<std::uint64_t> requests{0}, unauthorized{0}, forbidden{0}, bad_requests{0},
      reports_filed{0}, reports_limited{0};

  Rep(Engine* e, FeedService* f, const DnsServer* d, const proxy::ProxyServer* p, AdminApiOptions o)
      : engine(e), feeds(f), dns(d), proxy(p), options(std::move(o)), reports(e),
        report_limit(options.reports_per_minute, options.reports_per_minute_total) {}

  HttpResponse Route(const HttpRequest& req);

  // Fills `who` from the bearer token; a response when it is missing,
  // unknown or its role is too low.
  std::optional<HttpResponse> Authorize(const HttpRequest& req, Need need, std::string* who) {
    if (need == Need::kPublic) return std::nullopt;
    std::string_view auth = req.Header("authorization");
    TokenInfo info;
    // The scheme is case-insensitive (RFC 7235 2.1): "bearer srg_..." too.
    auto is_bearer = [](std::string_view a) {
      constexpr std::string_view kScheme = "bearer ";
      if (a.size() < kScheme.size()) return false;
      for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != kScheme[i]) return false;
      }
      return true;
    };
    if (!is_bearer(auth) || !VerifyToken(engine->store(), auth.substr(7), &info).ok()) {
      ++unauthorized;
      HttpResponse r = JsonError(401, auth.empty() ? "a bearer token is required" : "the token is not valid");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"saring\"");
      return r;
    }
    Role want = need == Need::kAdmin ? Role::kAdmin : need == Need::kEditor ? Role::kEditor : Role::kViewer;
    if (info.role < want) {
      ++forbidden;
      return JsonError(403, "this needs the " + std::string(ToString(want)) + " role; the token '" + info.name +
                                "' is " + std::string(ToString(info.role)));
    }
    *who = "api:" + info.name;
    return std::nullopt;
  }

  ChangeContext Change(const std::string& who) const {
    ChangeContext ctx;
    ctx.by = who;
    return ctx;
  }

  HttpResponse Check(const HttpRequest& req);
  HttpResponse ListRules(const HttpRequest& req);
  HttpResponse AddRules(const HttpRequest& req, const std::string& who);
  HttpResponse RemoveRules(const HttpRequest& req, const std::string& who);
  HttpResponse Import(const HttpRequest& req, std::string_view source, const std::string& who);
  HttpResponse Audit(const HttpRequest& req);
  HttpResponse FileReport(const HttpRequest& req);
  HttpResponse Feeds(const HttpRequest& req, const std::vector<std::string_view>& seg, const std::string& who);
};

HttpResponse AdminApi::Rep::Check(const HttpRequest& req) {
  const std::string* name = req.Query("name");
  const std::string* url = req.Query("url");
  if (!name && !url) return JsonError(400, "give name= or url=");
  std::string normalized;
  proxy::NormalizedUrl normalized_url;
  if (name) {
    Status st = NormalizeDomain(*name, &normalized);
    if (!st.ok()) return JsonError(400, "invalid name '" + *name + "': " + st.message());
  } else {
    // The same normalization as the proxy's, so the answer is the proxy's.
    Status st = proxy::NormalizeRequestUrl(*url, "", &normalized_url);
    if (!st.ok()) return JsonError(400, "invalid url: " + st.message());
    normalized = normalized_url.host;
  }
  std::shared_ptr<const Snapshot> snapshot = engine->snapshot();
  Verdict v = url ? snapshot->CheckUrl(normalized_url.host, normalized_url.url) : snapshot->CheckName(normalized);
  json j = {{"name", normalized}, {"verdict", ToString(v.decision)}, {"serial", snapshot->stats().serial}};
  if (url) j["url"] = normalized_url.url;
  if (v.decision == Decision::kPass) {
    j["rule"] = nullptr;
    j["source"] = nullptr;
    j["category"] = nullptr;
    return Json(j);
  }
  j["kind"] = ToString(v.kind);
  j["rule"] = v.rule;
  j["source"] = v.source;
  j["category"] = v.category;
  Rule rule;
  if (engine->store().GetRule({std::string(v.source), v.kind, std::string(v.rule)}, &rule).ok()) {
    j["by"] = rule.added_by;
    j["added_at"] = IsoTime(rule.added_at);
    if (!rule.note.empty()) j["note"] = rule.note;
    if (rule.expires_at) j["expires_at"] = IsoTime(rule.expires_at);
  }
  return Json(j);
}

HttpResponse AdminApi::Rep::ListRules(const HttpRequest& req) {
  std::uint64_t limit = 100;
  Status st = QueryNumber(req, "limit", 10000, &limit);
  if (!st.ok()) return Error(st);
  std::string source = req.Query("source") ? *req.Query("source") : "";
  if (!source.empty() && !ValidateSourceName(source).ok()) return JsonError(400, "invalid source name");
  std::string q = req.Query("q") ? *req.Query("q") : "";
  std::optional<RuleKind> kind;
  if (const std::string* k = req.Query("kind")) {
    RuleKind parsed;
    if (!ParseRuleKind(*k, &parsed)) return JsonError(400, "kind must be domain, pattern or url");
    kind = parsed;
  }
  // The cursor is the last rule's "source/kind/value" (returned as "next").
  RuleKey after;
  bool have_after = false;
  if (const std::string* a = req.Query("after")) {
    std::size_t s1 = a->find('/'), s2 = s1 == std::string::npos ? s1 : a->find('/', s1 + 1);
    if (s2 == std::string::npos || !ParseRuleKind(a->substr(s1 + 1, s2 - s1 - 1), &after.kind)) {
      return JsonError(400, "after must be a cursor returned as \"next\"");
    }
    after.source = a->substr(0, s1);
    after.value = a->substr(s2 + 1);
    have_after = true;
  }
  json rules = json::array();
  std::vector<Rule> page;
  std::size_t scanned = 0;
  const std::size_t max_scan = 200000;  // a search over a 5M source answers with a cursor, not a stall
  std::string next;
  while (rules.size() < limit && scanned < max_scan) {
    st = engine->store().ListRules(source, have_after ? &after : nullptr, 1000, &page);
    if (!st.ok()) return Error(st);
    if (page.empty()) {
      next.clear();
      break;
    }
    for (const Rule& r : page) {
      ++scanned;
      after = {r.source, r.kind, r.value};
      have_after = true;
      next = r.source + "/" + std::string(ToString(r.kind)) + "/" + r.value;
      if ((kind && r.kind != *kind) || (!q.empty() && r.value.find(q) == std::string::npos)) continue;
      rules.push_back(RuleJson(r));
      if (rules.size() >= limit) break;
    }
  }
  json j = {{"rules", rules}};
  j["next"] = next.empty() ? json(nullptr) : json(next);
  return Json(j);
}

HttpResponse AdminApi::Rep::AddRules(const HttpRequest& req, const std::string& who) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return JsonError(400, "the body is not JSON");
  std::vector<Rule> rules;
  const json items = body.is_array() ? body : json::array({body});
  if (items.empty()) return JsonError(400, "no rules given");
  if (items.size() > options.max_rules_per_request) {
    return JsonError(400, "at most " + std::to_string(options.max_rules_per_request) +
                              " rules per request; use the bulk import for more");
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    Rule rule;
    Status st = RuleFromJson(items[i], who, &rule);
    if (st.ok()) st = ValidateRule(&rule);
    if (!st.ok()) return Error(items.size() == 1 ? st : st.WithContext("rule " + std::to_string(i + 1)));
    rules.push_back(std::move(rule));
  }
  std::size_t n = rules.size(), changed = 0;
  json accepted = json::array();
  for (const Rule& r : rules) accepted.push_back(RuleJson(r));
  Status st = engine->AddRules(std::move(rules), Change(who), &changed);
  if (!st.ok()) return Error(st);
  return Json({{"accepted", n}, {"changed", changed}, {"serial", engine->store().serial()}, {"rules", accepted}});
}

HttpResponse AdminApi::Rep::RemoveRules(const HttpRequest& req, const std::string& who) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return JsonError(400, "the body is not JSON");
  const json items = body.is_array() ? body : json::array({body});
  if (items.empty() || items.size() > options.max_rules_per_request) return JsonError(400, "give 1..max rules");
  std::vector<RuleKey> keys;
  for (std::size_t i = 0; i < items.size(); ++i) {
    RuleKey key;
    Status st = KeyFromJson(items[i], &key);
    if (!st.ok()) return Error(items.size() == 1 ? st : st.WithContext("rule " + std::to_string(i + 1)));
    keys.push_back(std::move(key));
  }
  Status st = engine->RemoveRules(keys, Change(who));
  if (!st.ok()) return Error(st);
  return Json({{"removed", keys.size()}, {"serial", engine->store().serial()}});
}

HttpResponse AdminApi::Rep::Import(const HttpRequest& req, std::string_view source, const std::string& who) {
  ImportRequest request;
  request.options.source = std::string(source);
  std::string format = req.Query("format") ? *req.Query("format") : "plain";
  if (!ParseFeedFormat(format, &request.format)) return JsonError(400, "format must be plain, hosts, adblock, rpz or patterns");
  if (const std::string* a = req.Query("action"); a && !ParseAction(*a, &request.action)) {
    return JsonError(400, "action must be block or allow");
  }
  if (const std::string* c = req.Query("category")) request.options.category = *c;
  std::uint64_t max_shrink_pct = 20;
  Status st = QueryNumber(req, "max_shrink_percent", 100, &max_shrink_pct);
  if (!st.ok()) return Error(st);
  request.options.max_shrink = static_cast<double>(max_shrink_pct) / 100.0;
  request.options.force = QueryFlag(req, "force");
  request.options.max_rejected = 0.5;
  request.options.refuse_empty = true;
  std::istringstream in(req.body);
  ImportResult r;
  st = engine->Import(request, in, Change(who), &r);
  json rejected = json::array();
  for (const auto& rej : r.rejected) rejected.push_back({{"line", rej.line}, {"reason", rej.reason}, {"text", rej.text}});
  json j = {{"source", request.options.source}, {"applied", st.ok() && r.store.applied},
            {"lines", r.parse.lines},           {"accepted", r.parse.entries},
            {"rejected", r.parse.rejected},     {"rejected_lines", rejected},
            {"added", r.store.added},           {"removed", r.store.removed},
            {"changed", r.store.changed},       {"unchanged", r.store.unchanged},
            {"serial", engine->store().serial()}};
  if (!st.ok()) {
    j["error"] = st.message();
    return Json(j, HttpStatusOf(st));
  }
  return Json(j);
}

HttpResponse AdminApi::Rep::Audit(const HttpRequest& req) {
  std::uint64_t from = 0, limit = 100;
  Status st = QueryNumber(req, "from", UINT64_MAX / 2, &from);
  if (st.ok()) st = QueryNumber(req, "limit", 10000, &limit);
  if (!st.ok()) return Error(st);
  // "next" is a serial, and one change (a request of many rules) has one
  // serial and a record per rule: a page must end between two changes, or
  // the rest of the change cut at its end would be skipped by the next page.
  // So one record more is read; a change straddling the end goes whole to the
  // next page, or, if it alone is larger than the page, whole on this one.
  std::vector<AuditRecord> records;
  st = engine->store().ReadAudit(from, limit + 1, &records);
  if (!st.ok()) return Error(st);
  std::optional<std::uint64_t> next;
  if (limit > 0 && records.size() > limit) {
    std::uint64_t cut = records[limit].serial;  // the first record left off
    records.resize(limit);
    while (!records.empty() && records.back().serial == cut) records.pop_back();
    next = cut;
    if (records.empty()) {
      constexpr std::size_t kMaxChangeRecords = 1u << 20;  // beyond: the rest of that change is left out
      for (std::size_t n = 2 * limit + 2;; n *= 2) {
        st = engine->store().ReadAudit(cut, n, &records);
        if (!st.ok()) return Error(st);
        if (records.size() < n || records.back().serial != cut || n >= kMaxChangeRecords) break;
      }
      while (!records.empty() && records.back().serial != cut) records.pop_back();
      next = cut + 1;
    }
  }
  json out = json::array();
  for (const AuditRecord& r : records) {
    json one = {{"serial", r.serial}, {"seq", r.seq}, {"at", IsoTime(r.at)}, {"by", r.by}, {"op", r.op},
                {"detail", json::parse(r.detail, nullptr, false)}};
    if (!r.link.empty()) one["link"] = r.link;
    out.push_back(std::move(one));
  }
  json j = {{"records", out}};
  j["next"] = next ? json(*next) : json(nullptr);
  return Json(j);
}

HttpResponse AdminApi::Rep::FileReport(const HttpRequest& req) {
  if (!report_limit.Allow(req.client_address)) {
    ++reports_limited;
    HttpResponse r = JsonError(429, "too many reports; try again in a minute");
    r.headers.emplace_back("Retry-After", "60");
    return r;
  }
  Report report;
  std::string_view type = req.Header("content-type");
  bool form_post = type.starts_with("application/x-www-form-urlencoded");
  bool english = false;
  if (form_post) {
    auto form = ParseForm(req.body);
    for (const auto& [k, v] : form) {
      if (k == "name") report.name = v;
      else if (k == "url") report.url = v;
      else if (k == "message") report.message = v;
      else if (k == "reference") report.reference = v;
      else if (k == "lang") english = v == "en";
      else return JsonError(400, "unknown field '" + k + "'");
    }
  } else {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return JsonError(400, "a report is a JSON object (or a form)");
    for (const auto& [k, v] : body.items()) {
      if (!v.is_string()) return JsonError(400, "field '" + k + "' must be a string");
      if (k == "name") report.name = v.get<std::string>();
      else if (k == "url") report.url = v.get<std::string>();
      else if (k == "message") report.message = v.get<std::string>();
      else if (k == "reference") report.reference = v.get<std::string>();
      else return JsonError(400, "unknown field '" + k + "'");
    }
  }
  if (report.name.empty()) return JsonError(400, "a report needs the blocked name");
  Status st = reports.File(&report);
  if (!st.ok()) return Error(st);
  ++reports_filed;
  spdlog::info("admin: report {} filed for {}", report.id, report.name);
  if (form_post && req.Header("accept").find("application/json") == std::string_view::npos) {
    // A browser posted the block page's form: it gets a page, not JSON.
    HttpResponse page;
    page.status = 201;
    page.content_type = "text/html; charset=utf-8";
    page.body = fmt::format(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width,initial-scale=1\"><title>{}</title></head><body style=\"font-family:"
        "sans-serif;max-width:36em;margin:3em auto;padding:0 1em\"><h1>{}</h1><p>{} <b>{}</b>.</p></body></html>\n",
        english ? "en" : "id", english ? "Report received" : "Laporan diterima",
        english ? "Thank you" : "Terima kasih",
        english ? "Your report was received; an administrator will review it. Report number"
                : "Laporan Anda sudah diterima dan akan diperiksa oleh admin. Nomor laporan",
        report.id);
    return page;
  }
  return Json({{"id", report.id}, {"state", report.state},
               {"message", "Terima kasih, laporan Anda sudah diterima. / Thank you, your report was received."}},
              201);
}

HttpResponse AdminApi::Rep::Feeds(const HttpRequest& req, const std::vector<std::string_view>& seg,
                                  const std::string& who) {
  if (!feeds) return JsonError(503, "feeds are not available here");
  if (seg.size() == 2 && req.method == "GET") {
    std::vector<FeedSource> list;
    Status st = feeds->List(&list);
    if (!st.ok()) return Error(st);
    json out = json::array();
    for (const FeedSource& f : list) out.push_back(json::parse(FeedSourceToJson(f)));
    return Json({{"feeds", out}});
  }
  if (seg.size() == 2 && req.method == "POST") {
    FeedSource feed;
    Status st = FeedSourceFromRequest(req.body, &feed);
    if (st.ok()) st = feeds->Add(feed, Change(who));
    if (!st.ok()) return Error(st);
    feeds->Get(feed.name, &feed).ok();
    return Json(json::parse(FeedSourceToJson(feed)), 201);
  }
  std::string name(seg.size() > 2 ? seg[2] : "");
  if (seg.size() == 3 && req.method == "GET") {
    FeedSource feed;
    Status st = feeds->Get(name, &feed);
    return st.ok() ? Json(json::parse(FeedSourceToJson(feed))) : Error(st);
  }
  if (seg.size() == 3 && req.method == "DELETE") {
    Status st = feeds->Remove(name, QueryFlag(req, "purge"), Change(who));
    return st.ok() ? Json({{"removed", name}, {"serial", engine->store().serial()}}) : Error(st);
  }
  if (seg.size() == 4 && seg[3] == "runs" && req.method == "GET") {
    std::uint64_t limit = 20;
    Status st = QueryNumber(req, "limit", 1000, &limit);
    std::vector<FeedRun> runs;
    if (st.ok()) st = feeds->Runs(name, limit, &runs);
    if (!st.ok()) return Error(st);
    json out = json::array();
    for (const FeedRun& r : runs) out.push_back(json::parse(FeedRunToJson(r)));
    return Json({{"feed", name}, {"runs", out}});
  }
  if (seg.size() == 4 && seg[3] == "sync" && req.method == "POST") {
    FeedRun run;
    SyncOptions sync;
    sync.force = QueryFlag(req, "force");
    sync.by = who;
    Status st = feeds->Sync(name, sync, &run);
    return st.ok() ? Json(json::parse(FeedRunToJson(run))) : Error(st);
  }
  return JsonError(404, "no such feed route");
}

HttpResponse AdminApi::Rep::Route(const HttpRequest& req) {
  ++requests;
  std::vector<std::string_view> seg = Segments(req.path);
  const std::string& m = req.method;
  auto is = [&](std::initializer_list<std::string_view> want) {
    if (seg.size() != want.size()) return false;
    std::size_t i = 0;
    for (std::string_view w : want) {
      if (w != "*" && seg[i] != w) return false;
      ++i;
    }
    return true;
  };
  auto method_not_allowed = [] { return JsonError(405, "method not allowed here"); };

  if (is({"healthz"})) return Json({{"status", "ok"}});
  if (is({"readyz"})) {
    bool ready = engine->snapshot() != nullptr;
    return Json({{"ready", ready}, {"serial", ready ? engine->snapshot()->stats().serial : 0}}, ready ? 200 : 503);
  }
  std::string who;
  if (is({"metrics"})) {
    if (auto denied = Authorize(req, options.metrics_public ? Need::kPublic : Need::kViewer, &who)) return *denied;
    ApiCounters api{requests.load(), unauthorized.load(), forbidden.load(), bad_requests.load(),
                    reports_filed.load(), reports_limited.load()};
    HttpResponse r;
    Status st = PrometheusMetrics(*engine, dns, proxy, feeds, &api, &r.body);
    if (!st.ok()) return Error(st);
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (seg.empty() || seg[0] != "v1") return JsonError(404, "no such route (the API lives under /v1/)");

  // Which role each route needs; the public report form is the only open one.
  Need need = Need::kViewer;
  if (is({"v1", "reports"}) && m == "POST") need = Need::kPublic;
  else if (is({"v1", "reports"}) || is({"v1", "reports", "*", "*"})) need = Need::kEditor;
  else if (is({"v1", "rules"}) && m != "GET") need = Need::kEditor;
  else if (is({"v1", "sources", "*", "import"})) need = Need::kEditor;
  else if (is({"v1", "feeds", "*", "sync"})) need = Need::kEditor;
  else if ((is({"v1", "feeds"}) || is({"v1", "feeds", "*"})) && m != "GET") need = Need::kAdmin;
  else if (seg.size() >= 2 && seg[1] == "tokens") need = Need::kAdmin;
  if (auto denied = Authorize(req, need, &who)) return *denied;

  if (is({"v1", "check"})) return m == "GET" ? Check(req) : method_not_allowed();
  if (is({"v1", "rules"})) {
    if (m == "GET") return ListRules(req);
    if (m == "POST") return AddRules(req, who);
    if (m == "DELETE") return RemoveRules(req, who);
    return method_not_allowed();
  }
  if (is({"v1", "sources"})) {
    if (m != "GET") return method_not_allowed();
    std::vector<SourceInfo> sources;
    Status st = engine->store().ListSources(&sources);
    if (!st.ok()) return Error(st);
    json out = json::array();
    for (const SourceInfo& s : sources) {
      out.push_back({{"name", s.name}, {"domains", s.domains}, {"patterns", s.patterns}, {"urls", s.urls},
                     {"updated_at", IsoTime(s.updated_at)}});
    }
    return Json({{"sources", out}});
  }
  if (is({"v1", "sources", "*", "import"})) {
    return m == "POST" ? Import(req, seg[2], who) : method_not_allowed();
  }
  if (seg.size() >= 2 && seg[1] == "feeds") return Feeds(req, seg, who);
  if (is({"v1", "reports"})) {
    if (m == "POST") return FileReport(req);
    if (m != "GET") return method_not_allowed();
    std::uint64_t before = 0, limit = 100;
    Status st = QueryNumber(req, "before", UINT64_MAX / 2, &before);
    if (st.ok()) st = QueryNumber(req, "limit", 1000, &limit);
    std::vector<Report> list;
    if (st.ok()) st = reports.List(req.Query("state") ? *req.Query("state") : "", before, limit, &list);
    if (!st.ok()) return Error(st);
    json out = json::array();
    for (const Report& r : list) out.push_back(json::parse(ReportToJson(r)));
    return Json({{"reports", out}});
  }
  if (is({"v1", "reports", "*", "*"}) && (seg[3] == "release" || seg[3] == "dismiss")) {
    if (m != "POST") return method_not_allowed();
    std::string id_text(seg[2]);
    if (id_text.empty() || id_text.size() > 18 || id_text.find_first_not_of("0123456789") != std::string::npos) {
      return JsonError(400, "report id must be a number");
    }
    std::string note, source = options.release_source;
    if (!req.body.empty()) {
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object()) return JsonError(400, "the body is a JSON object");
      for (const auto& [k, v] : body.items()) {
        if (!v.is_string()) return JsonError(400, "field '" + k + "' must be a string");
        if (k == "note") note = v.get<std::string>();
        else if (k == "source" && seg[3] == "release") source = v.get<std::string>();
        else return JsonError(400, "unknown field '" + k + "'");
      }
    }
    Report report;
    Status st = reports.Resolve(std::stoull(id_text), seg[3] == "release", source, note, Change(who), &report);
    return st.ok() ? Json(json::parse(ReportToJson(report))) : Error(st);
  }
  if (is({"v1", "reference", "*"})) {
    if (m != "GET") return method_not_allowed();
    std::uint64_t serial = 0;
    std::uint16_t class_id = 0;
    RuleKind kind = RuleKind::kDomain;
    if (!DecodeReference(seg[2], &serial, &class_id, &kind)) {
      return JsonError(400, "'" + std::string(seg[2]) + "' is not a block-page reference code (mistyped?)");
    }
    std::vector<RuleClass> classes = engine->store().Classes();
    if (class_id >= classes.size()) return JsonError(404, "no rule class " + std::to_string(class_id));
    return Json({{"reference", seg[2]}, {"serial", serial}, {"kind", ToString(kind)},
                 {"source", classes[class_id].source}, {"category", classes[class_id].category},
                 {"action", ToString(classes[class_id].action)}});
  }
  if (is({"v1", "audit"})) return m == "GET" ? Audit(req) : method_not_allowed();
  if (is({"v1", "stats"})) {
    if (m != "GET") return method_not_allowed();
    HttpResponse r;
    Status st = StatsJson(*engine, dns, proxy, feeds, &r.body);
    return st.ok() ? r : Error(st);
  }
  if (is({"v1", "tokens"})) {
    if (m == "GET") {
      std::vector<TokenInfo> tokens;
      Status st = ListTokens(engine->store(), &tokens);
      if (!st.ok()) return Error(st);
      json out = json::array();
      for (const TokenInfo& t : tokens) {
        out.push_back({{"id", t.id}, {"name", t.name}, {"role", ToString(t.role)},
                       {"created_at", IsoTime(t.created_at)}, {"created_by", t.created_by}});
      }
      return Json({{"tokens", out}});
    }
    if (m != "POST") return method_not_allowed();
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return JsonError(400, "give {\"name\": ..., \"role\": ...}");
    std::string name;
    Role role = Role::kViewer;
    bool have_role = false;
    for (const auto& [k, v] : body.items()) {
      if (!v.is_string()) return JsonError(400, "field '" + k + "' must be a string");
      if (k == "name") name = v.get<std::string>();
      else if (k == "role" && (have_role = ParseRole(v.get<std::string>(), &role))) continue;
      else if (k == "role") return JsonError(400, "role must be viewer, editor or admin");
      else return JsonError(400, "unknown field '" + k + "'");
    }
    if (!have_role) return JsonError(400, "a token needs a role");
    std::string token;
    TokenInfo info;
    Status st = CreateToken(engine->store(), role, name, Change(who), &token, &info);
    if (!st.ok()) return Error(st);
    return Json({{"token", token}, {"id", info.id}, {"name", info.name}, {"role", ToString(role)}}, 201);
  }
  if (is({"v1", "tokens", "*"})) {
    if (m != "DELETE") return method_not_allowed();
    Status st = RevokeToken(engine->store(), seg[2], Change(who));
    return st.ok() ? Json({{"revoked", seg[2]}}) : Error(st);
  }
  return JsonError(404, "no such route");
}

AdminApi::AdminApi(Engine* engine, FeedService* feeds, const DnsServer* dns, const proxy::ProxyServer* proxy,
                   AdminApiOptions options)
    : rep_(std::make_unique<Rep>(engine, feeds, dns, proxy, std::move(options))) {}
AdminApi::~AdminApi() = default;

HttpResponse AdminApi::Handle(const HttpRequest& request) {
  HttpResponse r = rep_->Route(request);
  if (r.status == 400) ++rep_->bad_requests;
  return r;
}

}  // namespace saring::admin
