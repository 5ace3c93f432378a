#include "proxy/proxy_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <optional>
#include <boost/beast/core/bind_handler.hpp>

#include "net/server_core.h"
#include "proxy/client_hello.h"
#include "proxy/http_session.h"
#include "proxy/original_dst.h"
#include "proxy/proxy_context.h"

namespace saring::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(50);

enum class Role : std::uint8_t { kExplicit, kTransparentHttp, kTransparentHttps, kBlockPage };

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kExplicit: return "proxy";
    case Role::kTransparentHttp: return "transparent http";
    case Role::kTransparentHttps: return "transparent https";
    case Role::kBlockPage: return "block page";
  }
  return "?";
}

}  // namespace

struct ProxyServer::Impl {
  explicit Impl(const ProxyOptions& options, const SnapshotPublisher* snapshots) : context(options, snapshots) {}

  ProxyContext context;
  Ports ports;
  struct Listener {
    Role role;
    std::size_t index;  // into the core's acceptors
    // The socket the pending accept fills, on the context of the session it
    // will become (touched on the acceptor's strand only).
    std::optional<ProxySocket> next;
  };
  std::vector<std::unique_ptr<Listener>> listeners;
  // Declared after what the sessions refer to (the context), so that it (and
  // with it the sessions) goes first.
  std::unique_ptr<saring::net::ServerCore> core;

  void Accept(Listener& l) {
    l.next.emplace(core->session_context().get_executor());
    core->acceptor(l.index).async_accept(*l.next, [this, &l](error_code ec) {
      ProxySocket socket = std::move(*l.next);
      l.next.reset();
      OnAccept(l, ec, std::move(socket));
    });
  }

  void OnAccept(Listener& l, error_code ec, ProxySocket socket) {
    if (ec == net::error::operation_aborted || core->Stopping()) return;
    if (ec) {
      // fd exhaustion and the like: retry shortly instead of spinning.
      spdlog::warn("{}: accept failed: {}", RoleName(l.role), ec.message());
      core->accept_retry(l.index).expires_after(kAcceptRetry);
      core->accept_retry(l.index).async_wait([this, &l](error_code wait_ec) {
        if (!wait_ec && core->acceptor(l.index).is_open()) Accept(l);
      });
      return;
    }
    Accept(l);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (core->connections() >= context.options().max_connections) return Busy(l, std::move(socket));
    tcp::endpoint original;
    if (l.role == Role::kTransparentHttp || l.role == Role::kTransparentHttps) {
      tcp::endpoint local = socket.local_endpoint(ignored);
      // On a dual-stack listener ("[::]") an IPv4 client arrives v4-mapped:
      // its connection is IPv4 to netfilter, so it asks the IPv4 way.
      bool ipv6 = local.address().is_v6() && !local.address().to_v6().is_v4_mapped();
      Status st = OriginalDestination(socket.native_handle(), ipv6, &original);
      if (!st.ok() || original == tcp::endpoint(Unmapped(local.address()), local.port())) {
        // Not redirected: connecting "back" would loop into this listener.
        spdlog::debug("{}: connection without an original destination: closed", RoleName(l.role));
        socket.close(ignored);
        return;
      }
    }
    std::shared_ptr<saring::net::ServerSession> session = core->Register([&](std::uint64_t id) {
      switch (l.role) {
        case Role::kExplicit:
          return MakeHttpSession(&context, id, std::move(socket), ListenerKind::kExplicit, original);
        case Role::kTransparentHttp:
          return MakeHttpSession(&context, id, std::move(socket), ListenerKind::kTransparentHttp, original);
        case Role::kBlockPage:
          return MakeHttpSession(&context, id, std::move(socket), ListenerKind::kBlockPage, original);
        case Role::kTransparentHttps:
          break;
      }
      return MakeTlsSession(&context, id, std::move(socket), original);
    });
    if (session) session->Run();
  }

  // Over max_connections: a short refusal without a session.
  static void Busy(const Listener& l, ProxySocket socket) {
    static const std::string kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const auto kAlert = TlsAlert(kAlertInternalError);
    error_code ignored;
    socket.non_blocking(true, ignored);
    if (l.role == Role::kTransparentHttps) {
      socket.write_some(net::buffer(kAlert), ignored);
    } else {
      socket.write_some(net::buffer(kBusy), ignored);
    }
    socket.close(ignored);
  }
};

ProxyServer::ProxyServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProxyServer::~ProxyServer() { Stop(); }
void ProxyServer::Stop() {
  if (impl_) impl_->core->Stop();
}
ProxyServer::Ports ProxyServer::ports() const { return impl_->ports; }

ProxyCounters ProxyServer::counters() const {
  const ProxyStats& s = impl_->context.stats();
  ProxyCounters c;
  c.requests = s.requests.load(std::memory_order_relaxed);
  c.blocked = s.blocked.load(std::memory_order_relaxed);
  c.forwarded = s.forwarded.load(std::memory_order_relaxed);
  c.tunnels = s.tunnels.load(std::memory_order_relaxed);
  c.sni_refused = s.sni_refused.load(std::memory_order_relaxed);
  c.denied_clients = s.denied_clients.load(std::memory_order_relaxed);
  c.bad_requests = s.bad_requests.load(std::memory_order_relaxed);
  c.upstream_errors = s.upstream_errors.load(std::memory_order_relaxed);
  const auto& zones = impl_->context.options().zones;
  for (std::size_t i = 0; i <= zones.size(); ++i) {
    ProxyCounters::Zone z;
    z.name = i < zones.size() ? zones[i].name : "other";
    z.requests = s.zones[i].requests.load(std::memory_order_relaxed);
    z.blocked = s.zones[i].blocked.load(std::memory_order_relaxed);
    c.zones.push_back(std::move(z));
  }
  return c;
}

Status ProxyServer::Start(const ProxyOptions& options, const SnapshotPublisher* snapshots,
                          std::unique_ptr<ProxyServer>* out) {
  if (snapshots == nullptr) return Status::InvalidArgument("proxy: no snapshot publisher");
  if (options.threads < 1 || options.threads > 256) return Status::InvalidArgument("proxy: threads must be 1..256");
  if (options.header_timeout_ms <= 0 || options.idle_timeout_ms <= 0 || options.connect_timeout_ms <= 0) {
    return Status::InvalidArgument("proxy: timeouts must be positive");
  }
  if (options.max_connections < 1) return Status::InvalidArgument("proxy: max_connections must be at least 1");
  if (options.max_header_bytes < 256) return Status::InvalidArgument("proxy: max_header_bytes must be at least 256");
  error_code ec;
  for (const auto& [name, ip] : options.hosts) {
    net::ip::make_address(ip, ec);
    if (ec) return Status::InvalidArgument("proxy hosts entry '" + name + "': '" + ip + "' is not an IP address");
  }
  if (options.dns) {
    net::ip::make_address(options.dns->address, ec);
    if (ec || options.dns->port == 0) {
      return Status::InvalidArgument("proxy: DNS server '" + options.dns->ToString() + "' is not ADDR:PORT");
    }
  }
  auto impl = std::make_unique<Impl>(options, snapshots);
  impl->core = std::make_unique<saring::net::ServerCore>(options.threads, "proxy: unexpected exception",
                                                         options.threads);
  impl->context.set_core(impl->core.get());
  struct Wanted {
    Role role;
    const Endpoint* endpoint;
    std::uint16_t* port;
  };
  const Wanted wanted[] = {
      {Role::kExplicit, &options.listen, &impl->ports.listen},
      {Role::kTransparentHttp, &options.transparent_http, &impl->ports.transparent_http},
      {Role::kTransparentHttps, &options.transparent_https, &impl->ports.transparent_https},
      {Role::kBlockPage, &options.block_page, &impl->ports.block_page},
  };
  for (const Wanted& w : wanted) {
    if (w.endpoint->address.empty()) continue;
    net::ip::address address = net::ip::make_address(w.endpoint->address, ec);
    if (ec) {
      return Status::InvalidArgument(std::string(RoleName(w.role)) + " listen address '" + w.endpoint->address +
                                     "' is not a numeric IP address");
    }
    if (const char* step = impl->core->Listen(tcp::endpoint(address, w.endpoint->port), w.port, &ec)) {
      return Status::IOError(std::string(RoleName(w.role)) + " cannot listen on " + w.endpoint->ToString() + " (" +
                             step + "): " + ec.message());
    }
    impl->listeners.push_back(std::make_unique<Impl::Listener>(Impl::Listener{w.role, impl->listeners.size(), {}}));
    spdlog::info("{}: listening on {}:{}", RoleName(w.role), w.endpoint->address, *w.port);
  }
  if (impl->listeners.empty()) return Status::InvalidArgument("proxy: no listener configured");
  for (auto& l : impl->listeners) impl->Accept(*l);
  const ProxyContext* context = &impl->context;
  impl->core->StartThreads(options.threads, 0,
                           [context](net::io_context& ioc, const std::function<void()>& run_loop) {
                             context->RunWithReader(ioc, run_loop);
                           });
  out->reset(new ProxyServer(std::move(impl)));
  return Status::OK();
}

}  // namespace saring::proxy
