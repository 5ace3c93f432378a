// The saringctl commands. Each is a thin wrapper over the Engine; the same
// code runs in saringctl on a stopped store and inside saringd for requests
// on its control socket, so both give the same output.
#include "ctl/commands.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "admin/json_forms.h"
#include "admin/stats.h"
#include "admin/tokens.h"
#include "ctl/remote_client.h"
#include "match/domain_index.h"
#include "saring/reference.h"
#include "proxy/proxy_server.h"
#include "saring/dns_server.h"
#include "saring/engine.h"
#include "saring/feed_service.h"
#include "saring/store.h"
#include "saring/name.h"


namespace saring::ctl {
namespace {

using nlohmann::json;


int Fail(Invocation& ctx, const Status& st) {
  ctx.err << "saringctl: " << st.ToString() << "\n";
  return kExitFailed;
}

// Times in text output; "-" for never.
std::string FormatTime(std::int64_t t) { return t ? admin::IsoTime(t) : "-"; }

// "30m", "12h", "7d", "90s" from now, or "@UNIXTIME".
Status ParseExpiry(const std::string& text, std::int64_t* at) {
  if (text.empty()) return *at = 0, Status::OK();
  try {
    std::size_t used = 0;
    if (text[0] == '@') {
      *at = std::stoll(text.substr(1), &used);
      if (used + 1 == text.size() && *at > 0) return Status::OK();
    } else {
      long long n = std::stoll(text, &used);
      std::string unit = text.substr(used);
      long long scale = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
      if (scale && n > 0) return *at = std::time(nullptr) + n * scale, Status::OK();
    }
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument("expiry '" + text + "' is not like 30m, 12h, 7d or @UNIXTIME");
}


// Remote mode: one admin API call; `print` shows a successful reply (by
// default the JSON as it came), an HTTP error goes to err with its message.
int Remote(Invocation& ctx, std::string_view method, const std::string& path, const std::string& body,
           const std::function<void(const json&)>& print = nullptr, std::string_view content_type = "") {
  RemoteClient client(ctx.server, ctx.token, ctx.cacert);
  RemoteReply reply;
  Status st = client.Call(method, path, body, content_type, &reply);
  if (!st.ok()) return Fail(ctx, st);
  json j = json::parse(reply.body, nullptr, false);
  if (reply.status >= 400) {
    std::string message = j.is_object() && j.contains("error") ? j["error"].get<std::string>() : reply.body;
    ctx.err << "saringctl: HTTP " << reply.status << ": " << message << "\n";
    return kExitFailed;
  }
  if (print && !j.is_discarded()) print(j);
  else ctx.out << (j.is_discarded() ? reply.body : j.dump(2) + "\n");
  return 0;
}

std::string Esc(std::string_view v) { return RemoteClient::Escape(v); }

ChangeContext Change(const Invocation& ctx) {
  ChangeContext change;
  change.by = ctx.by.empty() ? "saringctl" : ctx.by;
  return change;
}

// The engine a command works on: saringd's own when saringd runs the command
// for its control socket, else one opened on --db for this command.
class EngineRef {
 public:
  Engine* operator->() const { return engine_; }
  Engine& operator*() const { return *engine_; }

 private:
  friend Status OpenEngine(Invocation& ctx, bool create, EngineRef* ref);
  std::unique_ptr<Engine> owned_;
  Engine* engine_ = nullptr;
};

Status OpenEngine(Invocation& ctx, bool create, EngineRef* ref) {
  if (ctx.running) {
    ref->engine_ = ctx.running;
    return Status::OK();
  }
  if (ctx.db.empty()) return Status::InvalidArgument("--db DIR is required");
  EngineOptions options;
  options.db_dir = ctx.db;
  options.create_if_missing = create;
  options.default_rules_dir = ctx.rules_dir;
  SARING_RETURN_IF_ERROR(Engine::Open(options, &ref->owned_));
  ref->engine_ = ref->owned_.get();
  return Status::OK();
}

json VerdictJson(std::string_view name, const Verdict& v, Store& store) {
  json j = {{"name", name}, {"verdict", ToString(v.decision)}};
  if (v.decision == Decision::kPass) {
    j["rule"] = nullptr;
    j["source"] = nullptr;
    j["category"] = nullptr;
    return j;
  }
  j["kind"] = ToString(v.kind);
  j["rule"] = v.rule;
  j["source"] = v.source;
  j["category"] = v.category;
  Rule rule;
  if (store.GetRule({std::string(v.source), v.kind, std::string(v.rule)}, &rule).ok()) {
    j["by"] = rule.added_by;
    j["added_at"] = FormatTime(rule.added_at);
    if (!rule.note.empty()) j["note"] = rule.note;
  }
  return j;
}

Status LocalOnly(const Invocation& ctx, std::string_view command) {
  if (ctx.server.empty()) return Status::OK();
  return Status::InvalidArgument(std::string(command) + " works on a store, not through --server");
}

int CmdInit(Invocation& ctx, bool reload) {
  if (Status st = LocalOnly(ctx, "init"); !st.ok()) return Fail(ctx, st);
  EngineRef engine;
  Status st = OpenEngine(ctx, /*create=*/true, &engine);
  if (!st.ok()) return Fail(ctx, st);
  if (ctx.running || !engine->store().created()) {  // saringd made it, not this command
    if (!reload) {
      return Fail(ctx, Status::AlreadyExists("store '" + ctx.db + "' exists (serial " +
                                        std::to_string(engine->store().serial()) +
                                        "); use --reload-defaults to import the bundled rules again"));
    }
    st = engine->LoadDefaults(ctx.rules_dir, Change(ctx));
    if (!st.ok()) return Fail(ctx, st);
  }
  Snapshot::Stats s = engine->snapshot()->stats();
  ctx.out << "store " << ctx.db << " ready at serial " << s.serial << ": " << s.base_domains + s.delta_domains
            << " domain entries, " << s.patterns << " patterns, " << s.urls << " url rules\n";
  return 0;
}

int CmdImport(Invocation& ctx, ImportRequest request, const std::string& format_name,
              const std::string& action_name, const std::string& file, bool json_out) {
  if (!ParseFeedFormat(format_name, &request.format)) {
    return Fail(ctx, Status::InvalidArgument("unknown format '" + format_name + "'"));
  }
  if (!ParseAction(action_name, &request.action)) {
    return Fail(ctx, Status::InvalidArgument("unknown action '" + action_name + "'"));
  }
  if (!ctx.server.empty()) {
    std::ostringstream body;
    if (file == "-") {
      body << ctx.in.rdbuf();
    } else {
      std::ifstream f(file, std::ios::binary);
      if (!f) return Fail(ctx, Status::IOError("cannot read '" + file + "'"));
      body << f.rdbuf();
    }
    std::string path = "/v1/sources/" + Esc(request.options.source) + "/import?format=" + Esc(format_name) +
                       "&action=" + Esc(action_name) + "&category=" + Esc(request.options.category) +
                       "&max_shrink_percent=" + std::to_string(static_cast<int>(request.options.max_shrink * 100)) +
                       (request.options.force ? "&force=1" : "");
    return Remote(ctx, "POST", path, body.str(), nullptr, "text/plain");
  }
  std::ifstream file_in;
  std::istream* in = &ctx.in;
  if (file != "-") {
    std::string path = file.starts_with('/') || ctx.cwd.empty() ? file : ctx.cwd + "/" + file;
    file_in.open(path, std::ios::binary);
    if (!file_in) return Fail(ctx, Status::IOError("cannot read '" + file + "'"));
    in = &file_in;
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  ImportResult r;
  st = engine->Import(request, *in, Change(ctx), &r);
  if (json_out) {
    json j = {{"source", request.options.source}, {"applied", r.store.applied},
              {"added", r.store.added},           {"removed", r.store.removed},
              {"changed", r.store.changed},       {"unchanged", r.store.unchanged},
              {"lines", r.parse.lines},           {"accepted", r.parse.entries},
              {"rejected", r.parse.rejected},     {"serial", r.store.serial}};
    json rejects = json::array();
    for (const auto& rej : r.rejected) {
      rejects.push_back({{"line", rej.line}, {"reason", rej.reason}, {"text", rej.text}});
    }
    j["rejected_lines"] = rejects;
    if (!st.ok()) j["error"] = st.ToString();
    ctx.out << j.dump() << "\n";
  } else {
    ctx.out << "read " << r.parse.lines << " lines: " << r.parse.entries << " accepted, "
              << r.parse.rejected << " rejected, " << r.parse.skipped << " blank or comments\n";
    for (const auto& rej : r.rejected) {
      ctx.out << "  line " << rej.line << ": " << rej.reason << ": " << rej.text << "\n";
    }
    if (r.parse.rejected > r.rejected.size()) {
      ctx.out << "  ... and " << r.parse.rejected - r.rejected.size() << " more rejected lines\n";
    }
    if (st.ok()) {
      ctx.out << "source " << request.options.source << ": " << r.store.added << " added, "
                << r.store.removed << " removed, " << r.store.changed << " changed, "
                << r.store.unchanged << " unchanged (" << r.store.before << " -> " << r.store.after
                << " rules), serial " << r.store.serial << "\n";
    }
  }
  return st.ok() ? 0 : Fail(ctx, st);
}

int CmdCheckRemote(Invocation& ctx, const std::vector<std::string>& names, bool json_out) {
  int status = 0;
  for (const std::string& name : names) {
    status |= Remote(ctx, "GET", "/v1/check?name=" + Esc(name), "", [&](const json& j) {
      if (json_out) {
        ctx.out << j.dump() << "\n";
      } else if (j["verdict"] == "pass") {
        ctx.out << j["name"].get<std::string>() << "\tpass\n";
      } else {
        ctx.out << j["name"].get<std::string>() << "\t" << j["verdict"].get<std::string>() << "\t"
                << j["kind"].get<std::string>() << " " << j["rule"].get<std::string>()
                << "\tsource=" << j["source"].get<std::string>() << "\tcategory=" << j["category"].get<std::string>()
                << "\n";
      }
    });
  }
  return status;
}

int CmdCheck(Invocation& ctx, std::vector<std::string> names, bool from_stdin, bool json_out) {
  if (!ctx.server.empty()) {
    std::string line;
    while (from_stdin && std::getline(ctx.in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") != std::string::npos) names.push_back(line);
    }
    return CmdCheckRemote(ctx, names, json_out);
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  std::shared_ptr<const Snapshot> snapshot = engine->snapshot();
  int status = 0;
  std::string normalized;
  auto check_one = [&](const std::string& input) {
    Status nst = NormalizeDomain(input, &normalized);
    if (!nst.ok()) {
      status = kExitFailed;
      if (json_out) {
        ctx.out << json{{"name", input}, {"verdict", "invalid"}, {"error", nst.message()}}.dump()
                  << "\n";
      } else {
        ctx.out << input << "\tinvalid\t" << nst.message() << "\n";
      }
      return;
    }
    Verdict v = snapshot->CheckName(normalized);
    if (json_out) {
      ctx.out << VerdictJson(normalized, v, engine->store()).dump() << "\n";
    } else if (v.decision == Decision::kPass) {
      ctx.out << normalized << "\tpass\n";
    } else {
      ctx.out << normalized << "\t" << ToString(v.decision) << "\t" << ToString(v.kind) << " "
                << v.rule << "\tsource=" << v.source << "\tcategory=" << v.category << "\n";
    }
  };
  for (const std::string& name : names) check_one(name);
  if (from_stdin) {
    std::string line;
    while (std::getline(ctx.in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      check_one(line);
    }
  }
  return status;
}

int CmdRulesAdd(Invocation& ctx, const std::string& kind_name, const std::string& action_name,
                const std::string& source, const std::string& category, const std::string& note,
                const std::string& expires, const std::vector<std::string>& values) {
  Rule proto;
  if (!ParseRuleKind(kind_name, &proto.kind)) {
    return Fail(ctx, Status::InvalidArgument("unknown kind '" + kind_name + "'"));
  }
  if (!ParseAction(action_name, &proto.action)) {
    return Fail(ctx, Status::InvalidArgument("unknown action '" + action_name + "'"));
  }
  Status st = ParseExpiry(expires, &proto.expires_at);
  if (!st.ok()) return Fail(ctx, st);
  proto.source = source;
  proto.category = category;
  proto.note = note;
  proto.added_by = Change(ctx).by;
  if (!ctx.server.empty()) {
    json body = json::array();
    for (const std::string& v : values) {
      json one = {{"kind", kind_name}, {"action", action_name}, {"value", v}, {"source", source}, {"category", category}};
      if (!note.empty()) one["note"] = note;
      if (!expires.empty()) one["expires"] = expires;
      body.push_back(one);
    }
    return Remote(ctx, "POST", "/v1/rules", body.dump(), [&](const json& j) {
      ctx.out << j["changed"].get<std::size_t>() << " of " << values.size() << " rules added or changed, serial "
              << j["serial"].get<std::uint64_t>() << "\n";
    });
  }
  std::vector<Rule> rules;
  for (const std::string& v : values) {
    rules.push_back(proto);
    rules.back().value = v;
  }
  EngineRef engine;
  st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  std::size_t changed = 0;
  st = engine->AddRules(std::move(rules), Change(ctx), &changed);
  if (!st.ok()) return Fail(ctx, st);
  ctx.out << changed << " of " << values.size() << " rules added or changed, serial "
            << engine->store().serial() << "\n";
  return 0;
}

int CmdRulesRemove(Invocation& ctx, const std::string& kind_name, const std::string& source,
                   const std::vector<std::string>& values) {
  RuleKind kind;
  if (!ParseRuleKind(kind_name, &kind)) {
    return Fail(ctx, Status::InvalidArgument("unknown kind '" + kind_name + "'"));
  }
  if (!ctx.server.empty()) {
    json body = json::array();
    for (const std::string& v : values) body.push_back({{"kind", kind_name}, {"value", v}, {"source", source}});
    return Remote(ctx, "DELETE", "/v1/rules", body.dump(), [&](const json& j) {
      ctx.out << values.size() << " rules removed, serial " << j["serial"].get<std::uint64_t>() << "\n";
    });
  }
  std::vector<RuleKey> keys;
  for (const std::string& v : values) keys.push_back({source, kind, v});
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  st = engine->RemoveRules(keys, Change(ctx));
  if (!st.ok()) return Fail(ctx, st);
  ctx.out << values.size() << " rules removed, serial " << engine->store().serial() << "\n";
  return 0;
}

int CmdRulesList(Invocation& ctx, const std::string& source, std::size_t limit, bool json_out) {
  if (!ctx.server.empty()) {
    std::string path = "/v1/rules?limit=" + std::to_string(limit) + (source.empty() ? "" : "&source=" + Esc(source));
    return Remote(ctx, "GET", path, "", [&](const json& j) {
      for (const json& r : j["rules"]) {
        if (json_out) {
          ctx.out << r.dump() << "\n";
          continue;
        }
        ctx.out << r["kind"].get<std::string>() << "\t" << r["action"].get<std::string>() << "\t"
                << r["value"].get<std::string>() << "\t" << r["source"].get<std::string>() << "\t"
                << r["category"].get<std::string>() << "\t" << r["by"].get<std::string>() << "\t"
                << r["added_at"].get<std::string>() << (r.contains("note") ? "\t" + r["note"].get<std::string>() : "")
                << "\n";
      }
    });
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  Store& store = engine->store();
  std::vector<Rule> page;
  RuleKey after;
  bool have_after = false;
  std::size_t printed = 0;
  while (printed < limit) {
    st = store.ListRules(source, have_after ? &after : nullptr, std::min<std::size_t>(1000, limit - printed),
                          &page);
    if (!st.ok()) return Fail(ctx, st);
    if (page.empty()) break;
    for (const Rule& r : page) {
      if (json_out) {
        ctx.out << admin::RuleJson(r).dump() << "\n";
      } else {
        ctx.out << ToString(r.kind) << "\t" << ToString(r.action) << "\t" << r.value << "\t"
                  << r.source << "\t" << r.category << "\t" << r.added_by << "\t"
                  << FormatTime(r.added_at) << (r.note.empty() ? "" : "\t" + r.note) << "\n";
      }
    }
    printed += page.size();
    after = {page.back().source, page.back().kind, page.back().value};
    have_after = true;
  }
  return 0;
}

int CmdStats(Invocation& ctx, bool json_out) {
  if (!ctx.server.empty()) return Remote(ctx, "GET", "/v1/stats", "");
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  std::vector<SourceInfo> sources;
  st = engine->store().ListSources(&sources);
  if (!st.ok()) return Fail(ctx, st);
  Snapshot::Stats s = engine->snapshot()->stats();
  if (json_out) {
    std::string text;
    st = admin::StatsJson(*engine, ctx.dns, ctx.proxy, ctx.feeds, &text);
    if (!st.ok()) return Fail(ctx, st);
    ctx.out << text << "\n";
    return 0;
  }
  ctx.out << "serial " << s.serial << " (index built at " << s.base_serial << ")\n"
            << "domain index: " << s.base_domains << " entries + " << s.delta_domains
            << " in the delta, " << s.index_bytes << " bytes\n"
            << "patterns: " << s.patterns << ", url rules: " << s.urls << " (" << s.pattern_bytes
            << " bytes compiled)\n"
            << "sources:\n";
  for (const SourceInfo& src : sources) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-24s %10llu domains %6llu patterns %6llu urls  updated %s\n",
                  src.name.c_str(), static_cast<unsigned long long>(src.domains),
                  static_cast<unsigned long long>(src.patterns),
                  static_cast<unsigned long long>(src.urls), FormatTime(src.updated_at).c_str());
    ctx.out << line;
  }
  if (ctx.dns) {
    DnsCounters c = ctx.dns->counters();
    ctx.out << "dns: " << c.queries << " queries, " << c.blocked << " blocked (" << c.cname_blocked
            << " by CNAME), " << c.forwarded << " forwarded, " << c.cache_hits << " from cache, "
            << c.stale_answers << " stale, " << c.servfail << " SERVFAIL, " << c.refused
            << " refused, " << c.formerr << " malformed, " << c.dropped << " dropped\n";
    for (const DnsCounters::Zone& z : c.zones) {
      ctx.out << "  zone " << z.name << ": " << z.queries << " queries, " << z.blocked << " blocked\n";
    }
    std::vector<RuleClass> classes = engine->store().Classes();
    for (std::size_t i = 0; i < c.blocked_by_class.size() && i < classes.size(); ++i) {
      if (c.blocked_by_class[i] == 0) continue;
      ctx.out << "  blocked by " << classes[i].source << " (" << classes[i].category
              << "): " << c.blocked_by_class[i] << "\n";
    }
  }
  if (ctx.proxy) {
    proxy::ProxyCounters p = ctx.proxy->counters();
    ctx.out << "proxy: " << p.requests << " requests, " << p.blocked << " blocked, " << p.forwarded
            << " forwarded, " << p.tunnels << " tunnels, " << p.sni_refused << " refused for SNI, "
            << p.bad_requests << " malformed, " << p.upstream_errors << " upstream errors, " << p.denied_clients
            << " clients denied\n";
    for (const proxy::ProxyCounters::Zone& z : p.zones) {
      ctx.out << "  zone " << z.name << ": " << z.requests << " requests, " << z.blocked << " blocked\n";
    }
  }
  return 0;
}

int CmdExport(Invocation& ctx, const std::string& format, const std::string& source,
              const std::string& action_name) {
  Action action;
  if (!ParseAction(action_name, &action)) {
    return Fail(ctx, Status::InvalidArgument("unknown action '" + action_name + "'"));
  }
  if (Status st = LocalOnly(ctx, "export"); !st.ok()) return Fail(ctx, st);
  if (format != "plain" && format != "rpz") {
    return Fail(ctx, Status::InvalidArgument("export format must be plain or rpz"));
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  Store& store = engine->store();
  std::vector<RuleClass> classes = store.Classes();
  std::int64_t now = std::time(nullptr);
  if (format == "rpz") {
    ctx.out << "$TTL 300\n@ SOA localhost. hostmaster.localhost. " << store.serial()
              << " 3600 600 86400 300\n@ NS localhost.\n";
  }
  // The same domain may stand in several sources: print it once.
  std::unordered_set<std::uint64_t> seen;
  std::string target = action == Action::kAllow ? "rpz-passthru." : ".";
  std::uint64_t serial;
  st = store.ScanRules(
      RuleKind::kDomain,
      [&](const StoredRuleView& r) {
        if (r.class_id >= classes.size() || classes[r.class_id].action != action) return;
        if (!source.empty() && r.source != source) return;
        if (r.expires_at != 0 && r.expires_at <= now) return;
        if (!seen.insert(match::HashDomain(r.value)).second) return;
        if (format == "plain") {
          ctx.out << r.value << "\n";
        } else {
          ctx.out << r.value << " CNAME " << target << "\n*." << r.value << " CNAME " << target << "\n";
        }
      },
      &serial);
  ctx.out.flush();
  return st.ok() ? 0 : Fail(ctx, st);
}

int CmdAudit(Invocation& ctx, std::uint64_t from, std::size_t limit, bool json_out) {
  if (!ctx.server.empty()) {
    return Remote(ctx, "GET", "/v1/audit?from=" + std::to_string(from) + "&limit=" + std::to_string(limit), "",
                  [&](const json& j) {
                    for (const json& r : j["records"]) {
                      if (json_out) {
                        ctx.out << r.dump() << "\n";
                      } else {
                        ctx.out << r["serial"] << "." << r["seq"] << "\t" << r["at"].get<std::string>() << "\t"
                                << r["by"].get<std::string>() << "\t" << r["op"].get<std::string>() << "\t"
                                << r["detail"].dump() << "\n";
                      }
                    }
                  });
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  Store& store = engine->store();
  std::vector<AuditRecord> records;
  st = store.ReadAudit(from, limit, &records);
  if (!st.ok()) return Fail(ctx, st);
  for (const AuditRecord& r : records) {
    if (json_out) {
      ctx.out << json{{"serial", r.serial}, {"seq", r.seq},  {"at", FormatTime(r.at)},
                        {"by", r.by},         {"op", r.op},    {"detail", json::parse(r.detail)}}
                       .dump()
                << "\n";
    } else {
      ctx.out << r.serial << "." << r.seq << "\t" << FormatTime(r.at) << "\t" << r.by << "\t"
                << r.op << "\t" << r.detail << "\n";
    }
  }
  return 0;
}

// The feed service a command works on: saringd's, or one over the engine
// this command opened (no scheduler: a sync runs here and now).
class FeedsRef {
 public:
  Status Open(Invocation& ctx) {
    SARING_RETURN_IF_ERROR(OpenEngine(ctx, false, &engine_));
    if (ctx.feeds) {
      feeds_ = ctx.feeds;
    } else {
      owned_ = std::make_unique<FeedService>(&*engine_, FeedServiceOptions{});
      feeds_ = owned_.get();
    }
    return Status::OK();
  }
  FeedService* operator->() const { return feeds_; }

 private:
  EngineRef engine_;
  std::unique_ptr<FeedService> owned_;
  FeedService* feeds_ = nullptr;
};

void PrintRun(Invocation& ctx, const FeedRun& r, bool json_out) {
  if (json_out) {
    ctx.out << FeedRunToJson(r) << "\n";
    return;
  }
  ctx.out << FormatTime(r.started_at) << "\t" << r.feed << "\t" << r.verdict << "\t" << r.trigger
          << (r.forced ? " (forced)" : "") << "\thttp " << r.http_status << ", " << r.bytes << " bytes, "
          << r.accepted << " accepted, " << r.rejected << " rejected lines, +" << r.added << " -" << r.removed
          << " ~" << r.changed << ", " << r.rules_after << " rules";
  if (!r.error.empty()) ctx.out << "\t" << r.error;
  ctx.out << "\n";
}

int CmdFeedsAdd(Invocation& ctx, FeedSource feed, const std::string& format, const std::string& action,
                const std::string& every) {
  if (!ParseFeedFormat(format, &feed.format)) return Fail(ctx, Status::InvalidArgument("unknown format '" + format + "'"));
  if (!ParseAction(action, &feed.action)) return Fail(ctx, Status::InvalidArgument("unknown action '" + action + "'"));
  Status st = ParseInterval(every, &feed.every_s);
  if (!st.ok()) return Fail(ctx, st);
  if (!ctx.server.empty()) {
    json body = {{"name", feed.name}, {"url", feed.url}, {"format", format}, {"action", action},
                 {"category", feed.category}, {"every", every}, {"max_shrink", feed.max_shrink},
                 {"max_rejected", feed.max_rejected}};
    return Remote(ctx, "POST", "/v1/feeds", body.dump());
  }
  FeedsRef feeds;
  st = feeds.Open(ctx);
  if (st.ok()) st = feeds->Add(feed, Change(ctx));
  if (!st.ok()) return Fail(ctx, st);
  ctx.out << "feed " << feed.name << " added: " << feed.url << " (" << ToString(feed.format) << ", every "
          << feed.every_s << " s)\n";
  return 0;
}

int CmdFeedsRemove(Invocation& ctx, const std::string& name, bool purge) {
  if (!ctx.server.empty()) return Remote(ctx, "DELETE", "/v1/feeds/" + Esc(name) + (purge ? "?purge=1" : ""), "");
  FeedsRef feeds;
  Status st = feeds.Open(ctx);
  if (st.ok()) st = feeds->Remove(name, purge, Change(ctx));
  if (!st.ok()) return Fail(ctx, st);
  ctx.out << "feed " << name << " removed" << (purge ? " with its rules" : " (its rules stay; --purge removes them)")
          << "\n";
  return 0;
}

int CmdFeedsList(Invocation& ctx, bool json_out) {
  if (!ctx.server.empty()) return Remote(ctx, "GET", "/v1/feeds", "");
  FeedsRef feeds;
  std::vector<FeedSource> list;
  Status st = feeds.Open(ctx);
  if (st.ok()) st = feeds->List(&list);
  if (!st.ok()) return Fail(ctx, st);
  for (const FeedSource& f : list) {
    if (json_out) {
      ctx.out << FeedSourceToJson(f) << "\n";
      continue;
    }
    ctx.out << f.name << "\t" << f.url << "\t" << ToString(f.format) << "\t" << ToString(f.action) << "\t"
            << f.category << "\tevery " << f.every_s << " s" << (f.enabled ? "" : " (disabled)") << "\tlast "
            << (f.last_verdict.empty() ? "never run" : f.last_verdict) << " " << FormatTime(f.last_run_at) << "\n";
  }
  return 0;
}

int CmdFeedsSync(Invocation& ctx, const std::string& name, bool force, bool json_out) {
  if (!ctx.server.empty()) {
    int rc = kExitOk;
    int call = Remote(ctx, "POST", "/v1/feeds/" + Esc(name) + "/sync" + (force ? "?force=1" : ""), "", [&](const json& j) {
      ctx.out << (json_out ? j.dump() : j.dump(2)) << "\n";
      std::string v = j.value("verdict", "");
      if (v != "applied" && v != "unchanged" && v != "not-modified") rc = kExitFailed;
    });
    return call != kExitOk ? call : rc;
  }
  FeedsRef feeds;
  Status st = feeds.Open(ctx);
  FeedRun run;
  SyncOptions sync;
  sync.force = force;
  sync.by = Change(ctx).by;
  if (st.ok()) st = feeds->Sync(name, sync, &run);
  if (!st.ok()) return Fail(ctx, st);
  PrintRun(ctx, run, json_out);
  bool good = run.verdict == "applied" || run.verdict == "unchanged" || run.verdict == "not-modified";
  return good ? 0 : kExitFailed;
}

int CmdFeedsStatus(Invocation& ctx, const std::string& name, std::size_t limit, bool json_out) {
  if (!ctx.server.empty()) {
    if (name.empty()) return Fail(ctx, Status::InvalidArgument("with --server, name the feed"));
    return Remote(ctx, "GET", "/v1/feeds/" + Esc(name) + "/runs?limit=" + std::to_string(limit), "");
  }
  FeedsRef feeds;
  Status st = feeds.Open(ctx);
  std::vector<FeedSource> list;
  if (st.ok() && name.empty()) st = feeds->List(&list);
  if (st.ok() && !name.empty()) {
    list.emplace_back();
    st = feeds->Get(name, &list.back());
  }
  if (!st.ok()) return Fail(ctx, st);
  for (const FeedSource& f : list) {
    std::vector<FeedRun> runs;
    st = feeds->Runs(f.name, limit, &runs);
    if (!st.ok()) return Fail(ctx, st);
    for (const FeedRun& r : runs) PrintRun(ctx, r, json_out);
  }
  return 0;
}

int CmdTokensCreate(Invocation& ctx, const std::string& role_name, const std::string& name) {
  admin::Role role;
  if (!admin::ParseRole(role_name, &role)) return Fail(ctx, Status::InvalidArgument("role must be viewer, editor or admin"));
  if (!ctx.server.empty()) {
    return Remote(ctx, "POST", "/v1/tokens", json{{"name", name}, {"role", role_name}}.dump(),
                  [&](const json& j) { ctx.out << j["token"].get<std::string>() << "\n"; });
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  std::string token;
  admin::TokenInfo info;
  if (st.ok()) st = admin::CreateToken(engine->store(), role, name, Change(ctx), &token, &info);
  if (!st.ok()) return Fail(ctx, st);
  ctx.out << token << "\n";
  ctx.err << "token " << info.id << " (" << name << ", " << role_name
          << ") created; it is shown only this once\n";
  return 0;
}

int CmdTokensList(Invocation& ctx) {
  if (!ctx.server.empty()) return Remote(ctx, "GET", "/v1/tokens", "");
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  std::vector<admin::TokenInfo> tokens;
  if (st.ok()) st = admin::ListTokens(engine->store(), &tokens);
  if (!st.ok()) return Fail(ctx, st);
  for (const admin::TokenInfo& t : tokens) {
    ctx.out << t.id << "\t" << admin::ToString(t.role) << "\t" << t.name << "\t" << FormatTime(t.created_at) << "\t"
            << t.created_by << "\n";
  }
  return 0;
}

int CmdTokensRevoke(Invocation& ctx, const std::string& id) {
  if (!ctx.server.empty()) return Remote(ctx, "DELETE", "/v1/tokens/" + Esc(id), "");
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (st.ok()) st = admin::RevokeToken(engine->store(), id, Change(ctx));
  if (!st.ok()) return Fail(ctx, st);
  ctx.out << "token " << id << " revoked\n";
  return 0;
}

int CmdReference(Invocation& ctx, const std::string& code) {
  if (!ctx.server.empty()) return Remote(ctx, "GET", "/v1/reference/" + Esc(code), "");
  std::uint64_t serial = 0;
  std::uint16_t class_id = 0;
  RuleKind kind = RuleKind::kDomain;
  if (!DecodeReference(code, &serial, &class_id, &kind)) {
    return Fail(ctx, Status::InvalidArgument("'" + code + "' is not a block-page reference code (mistyped?)"));
  }
  EngineRef engine;
  Status st = OpenEngine(ctx, false, &engine);
  if (!st.ok()) return Fail(ctx, st);
  std::vector<RuleClass> classes = engine->store().Classes();
  if (class_id >= classes.size()) return Fail(ctx, Status::NotFound("no rule class " + std::to_string(class_id)));
  ctx.out << code << ": blocked by a " << ToString(kind) << " rule of source " << classes[class_id].source
          << " (category " << classes[class_id].category << "), rules serial " << serial
          << "; `saringctl audit --from " << serial << "` shows what changed since\n";
  return 0;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args, Invocation& ctx) {
  CLI::App app{"saringctl: manage a saring rule store"};
  app.require_subcommand(1);
  app.fallthrough();  // --db, --by and --rules may also follow the command
  app.add_option("--db", ctx.db, "store folder (RocksDB)");
  app.add_option("--rules", ctx.rules_dir, "folder of the bundled default rules")->capture_default_str();
  app.add_option("--by", ctx.by, "who makes the change (default: the login name)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--server", ctx.server, "admin API of a saringd (http[s]://host:port): run the command there");
  app.add_option("--token", ctx.token, "bearer token for --server")->envname("SARING_TOKEN");
  app.add_option("--cacert", ctx.cacert, "CA bundle to trust an https --server");
  int rc = 0;

  auto* init = app.add_subcommand("init", "create a store holding the bundled default rules");
  bool reload = false;
  init->add_flag("--reload-defaults", reload, "import the bundled rules again into an existing store");
  init->callback([&] { rc = CmdInit(ctx, reload); });

  auto* imp = app.add_subcommand("import", "replace one source's rules with a feed file");
  ImportRequest request;
  std::string format = "plain", action = "block", file;
  bool json_out = false;
  imp->add_option("--source", request.options.source, "source name")->required();
  imp->add_option("--format", format, "plain|hosts|adblock|rpz|patterns")->capture_default_str();
  imp->add_option("--action", action, "block|allow (formats that do not say)")->capture_default_str();
  imp->add_option("--category", request.options.category, "category")->capture_default_str();
  imp->add_option("--max-shrink", request.options.max_shrink,
                  "refuse if the source would lose more than this share")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  imp->add_flag("--force", request.options.force, "apply even if the source shrinks a lot");
  imp->add_flag("--json", json_out, "report as JSON");
  imp->add_option("file", file, "feed file, or - for standard input")->required();
  imp->callback([&] { rc = CmdImport(ctx, request, format, action, file, json_out); });

  auto* check = app.add_subcommand("check", "show the verdict for host names");
  std::vector<std::string> names;
  bool from_stdin = false;
  check->add_flag("--json", json_out, "one JSON object per line");
  check->add_flag("--stdin", from_stdin, "read names from standard input, one per line");
  check->add_option("names", names, "host names");
  check->callback([&] {
    if (names.empty() && !from_stdin) {
      rc = Fail(ctx, Status::InvalidArgument("check needs names or --stdin"));
      return;
    }
    rc = CmdCheck(ctx, names, from_stdin, json_out);
  });

  auto* rules = app.add_subcommand("rules", "add, remove or list single rules");
  rules->require_subcommand(1);
  rules->fallthrough();
  std::string kind = "domain", source, category{kDefaultCategory}, note, expires;
  std::vector<std::string> values;
  auto* add = rules->add_subcommand("add", "add or update rules");
  add->add_option("--kind", kind, "domain|pattern|url")->capture_default_str();
  add->add_option("--action", action, "block|allow")->capture_default_str();
  add->add_option("--source", source, "source name")->required();
  add->add_option("--category", category, "category")->capture_default_str();
  add->add_option("--note", note, "why");
  add->add_option("--expires", expires, "30m, 12h, 7d or @UNIXTIME");
  add->add_option("values", values, "domains or regexes")->required();
  add->callback([&] { rc = CmdRulesAdd(ctx, kind, action, source, category, note, expires, values); });

  auto* remove = rules->add_subcommand("remove", "remove rules");
  remove->add_option("--kind", kind, "domain|pattern|url")->capture_default_str();
  remove->add_option("--source", source, "source name")->required();
  remove->add_option("values", values, "domains or regexes")->required();
  remove->callback([&] { rc = CmdRulesRemove(ctx, kind, source, values); });

  auto* list = rules->add_subcommand("list", "list rules in key order");
  std::size_t list_limit = 100;
  list->add_option("--source", source, "only this source");
  list->add_option("--limit", list_limit, "at most this many")->capture_default_str();
  list->add_flag("--json", json_out, "one JSON object per line");
  list->callback([&] { rc = CmdRulesList(ctx, source, list_limit, json_out); });

  auto* stats = app.add_subcommand("stats", "sources, counts and the compiled snapshot");
  stats->add_flag("--json", json_out, "as JSON");
  stats->callback([&] { rc = CmdStats(ctx, json_out); });

  auto* exp = app.add_subcommand("export", "write domain rules as a list or an RPZ zone");
  std::string export_format = "plain";
  exp->add_option("--format", export_format, "plain|rpz")->capture_default_str();
  exp->add_option("--source", source, "only this source");
  exp->add_option("--action", action, "block|allow")->capture_default_str();
  exp->callback([&] { rc = CmdExport(ctx, export_format, source, action); });

  auto* audit = app.add_subcommand("audit", "the change log");
  std::uint64_t from = 0;
  std::size_t audit_limit = 100;
  audit->add_option("--from", from, "first serial")->capture_default_str();
  audit->add_option("--limit", audit_limit, "at most this many records")->capture_default_str();
  audit->add_flag("--json", json_out, "one JSON object per line");
  audit->callback([&] { rc = CmdAudit(ctx, from, audit_limit, json_out); });

  auto* feeds = app.add_subcommand("feeds", "lists downloaded on a schedule into a source");
  feeds->require_subcommand(1);
  feeds->fallthrough();
  FeedSource feed;
  std::string every = "6h", feed_name;
  bool force = false, purge = false;
  std::size_t runs_limit = 10;
  auto* fadd = feeds->add_subcommand("add", "add a feed (its name is also its source)");
  fadd->add_option("--name", feed.name, "feed and source name")->required();
  fadd->add_option("--url", feed.url, "https://, http:// or file:// address")->required();
  fadd->add_option("--format", format, "plain|hosts|adblock|rpz|patterns")->capture_default_str();
  fadd->add_option("--action", action, "block|allow (formats that do not say)")->capture_default_str();
  fadd->add_option("--category", feed.category, "category")->capture_default_str();
  fadd->add_option("--every", every, "refresh interval: 30m, 6h, 1d")->capture_default_str();
  fadd->add_option("--max-shrink", feed.max_shrink, "refuse a run losing more than this share")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  fadd->add_option("--max-rejected", feed.max_rejected, "refuse a run with more junk lines than this share")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  fadd->callback([&] { rc = CmdFeedsAdd(ctx, feed, format, action, every); });
  auto* fremove = feeds->add_subcommand("remove", "remove a feed");
  fremove->add_option("name", feed_name, "feed name")->required();
  fremove->add_flag("--purge", purge, "remove its rules too");
  fremove->callback([&] { rc = CmdFeedsRemove(ctx, feed_name, purge); });
  auto* flist = feeds->add_subcommand("list", "the feeds and their last verdicts");
  flist->add_flag("--json", json_out, "one JSON object per line");
  flist->callback([&] { rc = CmdFeedsList(ctx, json_out); });
  auto* fsync = feeds->add_subcommand("sync", "run a feed now (through saringd when it runs)");
  fsync->add_option("name", feed_name, "feed name")->required();
  fsync->add_flag("--force", force, "apply whatever it shrinks to, and ignore the ETag");
  fsync->add_flag("--json", json_out, "the run as JSON");
  fsync->callback([&] { rc = CmdFeedsSync(ctx, feed_name, force, json_out); });
  auto* fstatus = feeds->add_subcommand("status", "recent runs, newest first");
  fstatus->add_option("name", feed_name, "only this feed");
  fstatus->add_option("--limit", runs_limit, "runs per feed")->capture_default_str();
  fstatus->add_flag("--json", json_out, "one JSON object per line");
  fstatus->callback([&] { rc = CmdFeedsStatus(ctx, feed_name, runs_limit, json_out); });

  auto* tokens = app.add_subcommand("tokens", "admin API tokens");
  tokens->require_subcommand(1);
  tokens->fallthrough();
  std::string role, token_name, token_id;
  auto* tcreate = tokens->add_subcommand("create", "make a token; it is printed once");
  tcreate->add_option("--role", role, "viewer|editor|admin")->required();
  tcreate->add_option("--name", token_name, "who or what uses it")->required();
  tcreate->callback([&] { rc = CmdTokensCreate(ctx, role, token_name); });
  tokens->add_subcommand("list", "the tokens (never their secrets)")->callback([&] { rc = CmdTokensList(ctx); });
  auto* trevoke = tokens->add_subcommand("revoke", "revoke a token by its id");
  trevoke->add_option("id", token_id, "token id (8+ hex digits)")->required();
  trevoke->callback([&] { rc = CmdTokensRevoke(ctx, token_id); });

  auto* reference = app.add_subcommand("reference", "what a block page's reference code (SRG-...) names");
  std::string code;
  reference->add_option("code", code, "the code, e.g. SRG-0050-16J0")->required();
  reference->callback([&] { rc = CmdReference(ctx, code); });

  std::vector<std::string> argv_storage = {"saringctl"};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e, ctx.out, ctx.err) == 0 ? kExitOk : kExitUsage;  // --help is no error
  }
  return rc;
}

}  // namespace saring::ctl
