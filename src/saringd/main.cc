// saringd: the filtering DNS server (and, later, proxy) of a city network.
// Thin: reads the configuration, opens the rule engine, starts the DNS
// workers, and handles signals (SIGHUP reloads, SIGTERM/SIGINT stop).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>

#include <sstream>

#include "ctl/commands.h"
#include "ctl/control_channel.h"
#include "saring/dns_server.h"
#include "saring/engine.h"
#include "saring/server_config.h"

namespace saring {
namespace {

struct Overrides {
  std::string config_path, db, rules, log_level;
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
  return FinishServerConfig(config);
}

int Run(int argc, char** argv) {
  CLI::App app{"saringd: filtering DNS server"};
  Overrides o;
  app.add_option("--config", o.config_path, "TOML configuration file");
  app.add_option("--db", o.db, "rule store folder (overrides [server] db)");
  app.add_option("--rules", o.rules, "bundled default rules for a new store");
  app.add_option("--dns-listen", o.listen, "ADDR:PORT to answer DNS on (repeatable)");
  app.add_option("--upstream", o.upstreams, "ADDR:PORT of an upstream resolver (repeatable)");
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
  // saringctl talks to the running saringd here, since it owns the store.
  std::unique_ptr<ctl::ControlServer> control;
  st = ctl::ControlServer::Start(
      ctl::ControlSocketPath(config.db_dir),
      [&](const ctl::ControlRequest& request) {
        std::istringstream in(request.input);
        std::ostringstream out, err;
        ctl::Invocation ctx{config.db_dir, config.rules_dir, "", request.cwd, in, out, err, engine.get(),
                            dns.get()};
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
  spdlog::info("saringd ready in {:.3f} s: dns {} ({} workers), upstream {}, rules serial {} ({} domains, {} patterns)",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
               listen, dns->workers(), upstreams, stats.serial,
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

  io.run();
  dns->Stop();
  DnsCounters c = dns->counters();
  spdlog::info("saringd stopped: {} queries, {} blocked, {} forwarded, {} from cache", c.queries,
               c.blocked, c.forwarded, c.cache_hits);
  return 0;
}

}  // namespace
}  // namespace saring

int main(int argc, char** argv) { return saring::Run(argc, argv); }
