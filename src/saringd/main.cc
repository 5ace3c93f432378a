// saringd: the filtering DNS server and HTTP/HTTPS proxy of a city network.
// Thin: reads the configuration, opens the rule engine, starts the DNS
// workers, the proxy, the feeds and the admin API, and handles signals
// (SIGHUP reloads, SIGTERM/SIGINT stop).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>

#include <sstream>

#include "admin/api.h"
#include "admin/http_server.h"
#include "ctl/commands.h"
#include "ctl/control_channel.h"
#include "proxy/access_log_file.h"
#include "proxy/proxy_server.h"
#include "saring/dns_server.h"
#include "saring/engine.h"
#include "saring/feed_service.h"
#include "saring/server_config.h"

namespace saring {
namespace {

struct Overrides {
  std::string config_path, db, rules, log_level, admin_listen;
  std::string proxy_listen, transparent_http, transparent_https, block_page_listen;
  std::vector<std::string> listen, upstreams;
  int workers = -1;
};

Status LoadConfig(const Overrides& o, ServerConfig* config) {
  *config = ServerConfig{};
  if (!o.config_path.empty()) SARING_RETURN_IF_ERROR(LoadServerConfig(o.config_path, config));
  if (!o.db.empty()) config->db_dir = o.db;
  if (!o.rules.empty()) config->rules_dir = o.rules;
  if (!o.log_level.empty()) config->log_level = o.log_level;
  if (o.workers >= 0) config->workers = o.workers;
  if (!o.listen.empty()) {
    config->dns_listen.clear();
    for (const std::string& l : o.listen) {
      Endpoint e;
      SARING_RETURN_IF_ERROR(ParseEndpoint(l, 53, &e).WithContext("--dns-listen"));
      config->dns_listen.push_back(e);
    }
  }
  if (!o.upstreams.empty()) {
    config->upstreams.clear();
    for (const std::string& u : o.upstreams) {
      Endpoint e;
      SARING_RETURN_IF_ERROR(ParseEndpoint(u, 53, &e).WithContext("--upstream"));
      config->upstreams.push_back(e);
    }
  }
  if (o.admin_listen == "off") {
    config->admin_enabled = false;
  } else if (!o.admin_listen.empty()) {
    config->admin_enabled = true;
    SARING_RETURN_IF_ERROR(ParseEndpoint(o.admin_listen, 8053, &config->admin_listen).WithContext("--admin-listen"));
  }
  struct ListenOverride {
    const std::string& text;
    const char* flag;
    std::uint16_t default_port;
    Endpoint* into;
  };
  for (const ListenOverride& l : {ListenOverride{o.proxy_listen, "--proxy-listen", 3128, &config->proxy_listen},
                                  ListenOverride{o.transparent_http, "--transparent-http", 3129,
                                                 &config->proxy_transparent_http},
                                  ListenOverride{o.transparent_https, "--transparent-https", 3130,
                                                 &config->proxy_transparent_https},
                                  ListenOverride{o.block_page_listen, "--block-page-listen", 80,
                                                 &config->proxy_block_page}}) {
    if (l.text == "off") *l.into = Endpoint{};
    else if (!l.text.empty()) SARING_RETURN_IF_ERROR(ParseEndpoint(l.text, l.default_port, l.into).WithContext(l.flag));
  }
  return FinishServerConfig(config);
}

// The proxy's options from the configuration; it resolves names through
// saringd's own DNS listener.
proxy::ProxyOptions ProxyOptionsFrom(const ServerConfig& c, proxy::AccessLogFile* log) {
  proxy::ProxyOptions p;
  p.listen = c.proxy_listen;
  p.transparent_http = c.proxy_transparent_http;
  p.transparent_https = c.proxy_transparent_https;
  p.block_page = c.proxy_block_page;
  p.allow_clients = c.proxy_allow_clients;
  p.connect_ports = c.proxy_connect_ports;
  p.threads = c.proxy_threads;
  p.max_connections = c.proxy_max_connections;
  p.max_header_bytes = c.proxy_max_header_bytes;
  p.header_timeout_ms = c.proxy_header_timeout_s * 1000;
  p.idle_timeout_ms = c.proxy_idle_timeout_s * 1000;
  p.connect_timeout_ms = c.proxy_connect_timeout_s * 1000;
  p.allow_no_sni = c.proxy_allow_no_sni;
  p.allow_sni_mismatch = c.proxy_allow_sni_mismatch;
  p.report_url = c.proxy_report_url;
  p.log_client_address = c.proxy_log_client_address;
  p.zones = c.zones;
  for (const auto& [name, ip] : c.proxy_hosts) p.hosts[name] = ip;
  Endpoint dns = c.dns_listen.front();
  if (dns.address == "0.0.0.0") dns.address = "127.0.0.1";
  if (dns.address == "::") dns.address = "::1";
  p.dns = dns;
  if (log != nullptr) p.access_log = [log](std::string_view line) { log->Append(line); };
  return p;
}

bool ProxyWanted(const ServerConfig& c) {
  return !c.proxy_listen.address.empty() || !c.proxy_transparent_http.address.empty() ||
         !c.proxy_transparent_https.address.empty() || !c.proxy_block_page.address.empty();
}

int Run(int argc, char** argv) {
  CLI::App app{"saringd: filtering DNS server and HTTP/HTTPS proxy with an admin API"};
  Overrides o;
  app.add_option("--config", o.config_path, "TOML configuration file");
  app.add_option("--db", o.db, "rule store folder (overrides [server] db)");
  app.add_option("--rules", o.rules, "bundled default rules for a new store");
  app.add_option("--dns-listen", o.listen, "ADDR:PORT to answer DNS on (repeatable)");
  app.add_option("--upstream", o.upstreams, "ADDR:PORT of an upstream resolver (repeatable)");
  app.add_option("--admin-listen", o.admin_listen, "ADDR:PORT of the admin API (\"off\" = none)");
  app.add_option("--proxy-listen", o.proxy_listen, "ADDR:PORT of the explicit proxy (\"off\" = none)");
  app.add_option("--transparent-http", o.transparent_http, "ADDR:PORT for redirected port-80 traffic (\"off\" = none)");
  app.add_option("--transparent-https", o.transparent_https,
                 "ADDR:PORT for redirected port-443 traffic (\"off\" = none)");
  app.add_option("--block-page-listen", o.block_page_listen, "ADDR:PORT of the sinkhole block-page server (\"off\" = none)");
  app.add_option("--workers", o.workers, "worker threads (0 = one per core)");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  ServerConfig config;
  Status st = LoadConfig(o, &config);
  if (!st.ok()) {
    spdlog::error("saringd: {}", st.ToString());
    return 1;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  auto started = std::chrono::steady_clock::now();

  // The snapshot is loaded before any socket opens: saringd never answers
  // with an unfiltered view.
  EngineOptions engine_options;
  engine_options.db_dir = config.db_dir;
  engine_options.default_rules_dir = config.rules_dir;
  engine_options.background_rebuild = true;
  std::unique_ptr<Engine> engine;
  st = Engine::Open(engine_options, &engine);
  if (!st.ok()) {
    spdlog::error("saringd: {}", st.ToString());
    return 1;
  }
  std::unique_ptr<DnsServer> dns;
  st = DnsServer::Start(config, &engine->publisher(), &dns);
  if (!st.ok()) {
    spdlog::error("saringd: {}", st.ToString());
    return 1;
  }
  // The proxy resolves through the DNS server just started.
  std::unique_ptr<proxy::AccessLogFile> access_log;
  std::unique_ptr<proxy::ProxyServer> proxy_server;
  if (ProxyWanted(config)) {
    if (!config.proxy_access_log.empty()) {
      st = proxy::AccessLogFile::Open(config.proxy_access_log, &access_log);
      if (!st.ok()) {
        spdlog::error("saringd: {}", st.ToString());
        return 1;
      }
    }
    st = proxy::ProxyServer::Start(ProxyOptionsFrom(config, access_log.get()), &engine->publisher(), &proxy_server);
    if (!st.ok()) {
      spdlog::error("saringd: {}", st.ToString());
      return 1;
    }
  }
  // Feeds: the config's definitions seed the store once; runs a crash cut
  // short are closed; then due feeds run in the background (the snapshot
  // already serves, so an unreachable feed costs nothing but a log line).
  FeedServiceOptions feed_options;
  feed_options.ca_file = config.feeds_ca_file;
  feed_options.work_dir = config.feeds_work_dir;
  feed_options.stall_timeout_ms = config.feeds_stall_timeout_s * 1000;
  feed_options.connect_timeout_ms = config.feeds_connect_timeout_s * 1000;
  feed_options.attempts = config.feeds_attempts;
  FeedService feeds(engine.get(), feed_options);
  for (const FeedSource& seed : config.feeds) {
    FeedSource existing;
    if (feeds.Get(seed.name, &existing).IsNotFound()) {
      ChangeContext ctx;
      ctx.by = "config";
      st = feeds.Add(seed, ctx);
      if (!st.ok()) spdlog::error("saringd: feed {} from the config: {}", seed.name, st.ToString());
    }
  }
  st = feeds.RecoverInterrupted();
  if (!st.ok()) spdlog::error("saringd: feed runs: {}", st.ToString());
  if (config.feeds_schedule) feeds.StartScheduler();

  std::unique_ptr<admin::AdminApi> api;
  std::unique_ptr<admin::HttpServer> admin_server;
  if (config.admin_enabled) {
    admin::AdminApiOptions api_options;
    api_options.metrics_public = config.metrics_public;
    api_options.reports_per_minute = config.reports_per_minute;
    api_options.release_source = config.release_source;
    api = std::make_unique<admin::AdminApi>(engine.get(), &feeds, dns.get(), proxy_server.get(), api_options);
    admin::HttpServerOptions http;
    http.listen = config.admin_listen;
    http.tls_cert_file = config.admin_tls_cert;
    http.tls_key_file = config.admin_tls_key;
    http.max_body_bytes = config.admin_max_body_bytes;
    http.nice = 10;
    http.threads = 4;  // a feed sync or a bulk import holds one for seconds
    st = admin::HttpServer::Start(
        http, [&api](const admin::HttpRequest& request) { return api->Handle(request); }, &admin_server);
    if (!st.ok()) {
      spdlog::error("saringd: admin API: {}", st.ToString());
      return 1;
    }
  }

  // saringctl talks to the running saringd here, since it owns the store.
  std::unique_ptr<ctl::ControlServer> control;
  st = ctl::ControlServer::Start(
      ctl::ControlSocketPath(config.db_dir),
      [&](const ctl::ControlRequest& request) {
        std::istringstream in(request.input);
        std::ostringstream out, err;
        ctl::Invocation ctx{config.db_dir, config.rules_dir, "", request.cwd, in, out, err, engine.get(),
                            dns.get(), proxy_server.get(), &feeds};
        ctl::ControlResponse response;
        response.exit_status = ctl::RunCommand(request.args, ctx);
        std::string command;
        for (const std::string& a : request.args) command += (command.empty() ? "" : " ") + a;
        spdlog::info("saringd: control: {} -> exit {}", command, response.exit_status);
        response.out = out.str();
        response.err = err.str();
        return response;
      },
      &control);
  if (!st.ok()) {
    spdlog::error("saringd: {}", st.ToString());
    return 1;
  }
  Snapshot::Stats stats = engine->snapshot()->stats();
  std::string listen, upstreams;
  for (const Endpoint& e : config.dns_listen) listen += (listen.empty() ? "" : " ") + e.ToString();
  for (const Endpoint& e : config.upstreams) upstreams += (upstreams.empty() ? "" : " ") + e.ToString();
  std::string proxy_text = "off";
  if (proxy_server) {
    proxy::ProxyServer::Ports ports = proxy_server->ports();
    proxy_text.clear();
    auto add = [&](const char* what, const Endpoint& e, std::uint16_t port) {
      if (port == 0) return;
      Endpoint bound = e;
      bound.port = port;
      proxy_text += (proxy_text.empty() ? "" : ", ") + std::string(what) + bound.ToString();
    };
    add("", config.proxy_listen, ports.listen);
    add("transparent http ", config.proxy_transparent_http, ports.transparent_http);
    add("transparent https ", config.proxy_transparent_https, ports.transparent_https);
    add("block page ", config.proxy_block_page, ports.block_page);
  }
  spdlog::info(
      "saringd ready in {:.3f} s: dns {} ({} workers), upstream {}, proxy {}, admin {}, rules serial {} ({} domains, "
      "{} patterns)",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), listen, dns->workers(),
      upstreams, proxy_text, admin_server ? admin_server->url() : "off", stats.serial,
      stats.base_domains + stats.delta_domains, stats.patterns);

  boost::asio::io_context io(1);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo != SIGHUP) {
        spdlog::info("saringd: signal {}, stopping", signo);
        io.stop();
        return;
      }
      ServerConfig fresh;
      Status reload = LoadConfig(o, &fresh);
      if (!reload.ok()) {
        spdlog::error("saringd: reload refused, the running configuration stays: {}", reload.ToString());
      } else {
        spdlog::set_level(spdlog::level::from_str(fresh.log_level));
        reload = dns->Reload(fresh);
        if (reload.ok()) spdlog::info("saringd: configuration reloaded");
        else spdlog::warn("saringd: reload: {}", reload.message());
        if (access_log) {
          Status reopened = access_log->Reopen();  // after logrotate
          if (!reopened.ok()) spdlog::error("saringd: {}", reopened.ToString());
        }
        // The store holds feeds and tokens; the file's [admin], [feeds] and [proxy] parts apply at start.
        if (fresh.admin_enabled != config.admin_enabled ||
            fresh.admin_listen.ToString() != config.admin_listen.ToString() ||
            fresh.admin_tls_cert != config.admin_tls_cert || fresh.admin_tls_key != config.admin_tls_key ||
            fresh.feeds_ca_file != config.feeds_ca_file || fresh.feeds_schedule != config.feeds_schedule) {
          spdlog::warn("saringd: reload: [admin] and [feeds] changes need a restart");
        }
        if (ProxyWanted(fresh) != ProxyWanted(config) ||
            fresh.proxy_listen.ToString() != config.proxy_listen.ToString() ||
            fresh.proxy_access_log != config.proxy_access_log) {
          spdlog::warn("saringd: reload: [proxy] changes need a restart");
        }
      }
      wait_signal();
    });
  };
  wait_signal();

  // Rules with an expiry leave the snapshot when it passes.
  boost::asio::steady_timer expiry(io);
  std::function<void()> sweep = [&] {
    expiry.expires_after(std::chrono::seconds(30));
    expiry.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      ChangeContext ctx;
      ctx.by = "expiry";
      std::vector<RuleKey> removed;
      Status s = engine->RemoveExpired(ctx, &removed);
      if (!s.ok()) spdlog::error("saringd: expiring rules: {}", s.ToString());
      else if (!removed.empty()) spdlog::info("saringd: {} expired rules removed", removed.size());
      sweep();
    });
  };
  sweep();

  // The access log's buffer goes out at least once a second.
  boost::asio::steady_timer log_flush(io);
  std::function<void()> flush_log = [&] {
    log_flush.expires_after(std::chrono::seconds(1));
    log_flush.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      access_log->Flush();
      flush_log();
    });
  };
  if (access_log) flush_log();

  io.run();
  // Feeds first: Stop() cancels a download in progress, also one a manual
  // sync (API or control socket) waits on; the admin server's Stop() joins
  // its handler threads, which would otherwise sit out the whole download.
  feeds.Stop();
  if (admin_server) admin_server->Stop();
  control.reset();
  if (proxy_server) proxy_server->Stop();
  if (access_log) access_log->Flush();
  dns->Stop();
  DnsCounters c = dns->counters();
  spdlog::info("saringd stopped: {} queries, {} blocked, {} forwarded, {} from cache", c.queries,
               c.blocked, c.forwarded, c.cache_hits);
  return 0;
}

}  // namespace
}  // namespace saring

int main(int argc, char** argv) { return saring::Run(argc, argv); }
