#include "proxy/session_base.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "proxy/dns_lookup.h"
#include "saring/name.h"

namespace saring::proxy {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

constexpr std::size_t kPumpHalf = 16384;
// After a closing response: how long and how much the client may still send.
constexpr auto kLinger = std::chrono::milliseconds(2000);
constexpr std::size_t kLingerBytes = 1u << 20;
constexpr auto kAlertWriteTimeout = std::chrono::milliseconds(2000);

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProxySession::ProxySession(ProxyContext* context, std::uint64_t id, ProxySocket socket)
    : ctx_(context), options_(context->options()), id_(id), client_(std::move(socket)),
      watchdog_(client_.get_executor()) {}

ProxySession::~ProxySession() { ctx_->core().Unregister(id_); }

void ProxySession::Run() {
  net::dispatch(client_.get_executor(), [self = SelfBase()] {
    if (self->closing_) return;
    error_code ec;
    tcp::endpoint peer = self->client_.remote_endpoint(ec);
    if (ec) return self->DoClose();
    self->client_addr_ = Unmapped(peer.address());
    if (self->options_.log_client_address) self->client_ip_ = self->client_addr_.to_string();
    self->zone_ = self->ctx_->ZoneOf(self->client_addr_);
    if (!self->ctx_->ClientAllowed(self->client_addr_)) {
      self->ctx_->stats().denied_clients.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("proxy: client {} is not in allow_clients: refused", self->client_addr_.to_string());
      return self->Denied();
    }
    self->Begin();
  });
}

void ProxySession::Close() {
  net::post(client_.get_executor(), [self = SelfBase()] { self->DoClose(); });
}

// ---- upstream ----

void ProxySession::ConnectUpstream(const std::string& host, std::uint16_t port, Done done) {
  connect_deadline_ = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
  dns_blocked_by_.clear();
  std::string name = host;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  auto it = options_.hosts.find(name);
  if (it != options_.hosts.end()) name = it->second;
  error_code ec;
  net::ip::address literal = net::ip::make_address(name, ec);
  if (!ec) return ConnectByDeadline({tcp::endpoint(literal, port)}, std::move(done));

  auto connect = [self = SelfBase(), port, done](error_code lec, const std::vector<net::ip::address>& addresses,
                                                 std::string blocked_by) {
    if (self->closing_) return;
    if (!blocked_by.empty()) {  // even where the answer holds a sinkhole address
      self->dns_blocked_by_ = std::move(blocked_by);
      return done(net::error::host_not_found);
    }
    if (lec) return done(lec == net::error::timed_out ? error_code(beast::error::timeout) : lec);
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(a, port);
    self->ConnectByDeadline(std::move(endpoints), done);
  };
  auto timeout = std::chrono::milliseconds(options_.connect_timeout_ms);
  if (options_.dns) {
    net::ip::udp::endpoint server(net::ip::make_address(options_.dns->address), options_.dns->port);
    AsyncDnsLookup(client_.get_executor(), server, name, timeout,
                   [connect = std::move(connect)](error_code lec, std::vector<net::ip::address> a,
                                                  std::string blocked_by) { connect(lec, a, std::move(blocked_by)); });
    return;
  }
  // The system resolver (no DNS endpoint configured: tests and tools).
  resolver_.emplace(client_.get_executor());
  resolve_timer_.emplace(client_.get_executor());
  resolve_timer_->expires_at(connect_deadline_);
  resolve_timer_->async_wait([self = SelfBase()](error_code tec) {
    if (!tec && self->resolver_) self->resolver_->cancel();
  });
  resolver_->async_resolve(name, std::to_string(port),
                           [self = SelfBase(), connect = std::move(connect)](error_code rec,
                                                                             tcp::resolver::results_type r) {
                             bool timed_out = self->resolve_timer_->expiry() <= Clock::now();
                             self->resolve_timer_->cancel();
                             std::vector<net::ip::address> addresses;
                             for (const auto& e : r) addresses.push_back(e.endpoint().address());
                             if (rec && timed_out) rec = net::error::timed_out;
                             connect(rec, addresses, std::string());
                           });
}

void ProxySession::ConnectEndpoints(std::vector<tcp::endpoint> endpoints, Done done) {
  connect_deadline_ = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
  ConnectByDeadline(std::move(endpoints), std::move(done));
}

void ProxySession::ConnectByDeadline(std::vector<tcp::endpoint> endpoints, Done done) {
  if (closing_) return;
  upstream_.emplace(client_.get_executor());
  SetDeadline(connect_deadline_);
  net::async_connect(*upstream_, endpoints, [self = SelfBase(), done = std::move(done)](error_code cec,
                                                                                       const tcp::endpoint& ep) {
    if (self->closing_) return;
    cec = self->Timed(cec);
    self->ClearDeadline();
    if (!cec) {
      self->peer_ = ep.address().to_string();
      error_code ignored;
      self->upstream_->set_option(tcp::no_delay(true), ignored);
    }
    done(cec);
  });
}

// ---- deadlines ----

void ProxySession::SetDeadline(Clock::time_point at) {
  deadline_ = at;
  timed_out_ = false;
  if (watchdog_armed_ && watchdog_.expiry() <= at) return;  // it fires first and looks again
  watchdog_armed_ = true;
  watchdog_.expires_at(at);  // cancels the wait for a later time: that handler does nothing
  watchdog_.async_wait([self = SelfBase()](error_code ec) { self->OnWatchdog(ec); });
}

void ProxySession::OnWatchdog(error_code ec) {
  if (ec == net::error::operation_aborted || closing_) return;
  if (deadline_ == Clock::time_point::max()) {
    watchdog_armed_ = false;
    return;
  }
  if (Clock::now() < deadline_) {  // moved on meanwhile: wait for the new time
    watchdog_.expires_at(deadline_);
    watchdog_.async_wait([self = SelfBase()](error_code wec) { self->OnWatchdog(wec); });
    return;
  }
  watchdog_armed_ = false;
  timed_out_ = true;
  error_code ignored;
  client_.cancel(ignored);
  // Closed, not cancelled: a range connect would go on to the next address.
  if (upstream_) upstream_->close(ignored);
}

ProxySession::error_code ProxySession::Timed(error_code ec) const {
  return ec && timed_out_ ? error_code(beast::error::timeout) : ec;
}

// ---- TLS ----

void ProxySession::ReadClientHello(std::string early, std::function<void(HelloResult)> done) {
  hello_ = std::move(early);
  auto parse = [this] {
    std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(hello_.data()), hello_.size());
    return ParseClientHello(data, &hello_info_, sni_scratch_);
  };
  HelloResult r = hello_.empty() ? HelloResult::kNeedMore : parse();
  if (r != HelloResult::kNeedMore || hello_.size() >= kMaxHelloBytes) return done(r);
  std::size_t have = hello_.size();
  hello_.resize(kMaxHelloBytes);
  client_.async_read_some(net::buffer(hello_.data() + have, hello_.size() - have),
                          [self = SelfBase(), have, done = std::move(done)](error_code ec, std::size_t n) mutable {
                            if (self->closing_) return;
                            self->hello_.resize(have + n);
                            if (ec) return done(HelloResult::kNeedMore);  // cut, timed out or closed
                            self->ReadClientHello(std::move(self->hello_), std::move(done));
                          });
}

void ProxySession::RefuseTls(std::uint8_t description) {
  alert_ = TlsAlert(description, hello_info_.record_version);
  SetDeadline(kAlertWriteTimeout);
  net::async_write(client_, net::buffer(alert_), [self = SelfBase()](error_code, std::size_t) {
    self->GracefulClose();
  });
}

void ProxySession::GateOnSni(std::string early, std::string expected_host, std::function<void()> pass) {
  SetDeadline(std::chrono::milliseconds(options_.header_timeout_ms));
  ReadClientHello(std::move(early), [self = SelfBase(), expected = std::move(expected_host),
                                     pass = std::move(pass)](HelloResult r) {
    self->ClearDeadline();
    auto refuse = [&](std::uint8_t alert, bool by_rule) {
      auto& stats = self->ctx_->stats();
      (by_rule ? stats.blocked : stats.sni_refused).fetch_add(1, std::memory_order_relaxed);
      if (by_rule && expected.empty()) {  // transparent: decided here
        stats.requests.fetch_add(1, std::memory_order_relaxed);
        self->ctx_->Count(self->zone_, true);
      } else if (by_rule) {  // CONNECT: counted as a request when its name passed
        self->ctx_->CountLateBlock(self->zone_);
      }
      self->LogLine("TCP_DENIED", 403, 0, "HIER_NONE");
      self->RefuseTls(alert);
    };
    const ProxyOptions& o = self->options_;
    if (r == HelloResult::kNotTls || (r == HelloResult::kOk && !self->hello_info_.has_sni)) {
      if (o.allow_no_sni) return pass();
      spdlog::debug("proxy: {} to {}: no SNI: refused", self->client_addr_.to_string(), self->url_);
      return refuse(kAlertHandshakeFailure, false);
    }
    if (r != HelloResult::kOk) return refuse(kAlertHandshakeFailure, false);  // cut, malformed, too large
    std::string name;
    if (!NormalizeDomain(self->hello_info_.server_name, &name).ok()) return refuse(kAlertUnrecognizedName, false);
    const Snapshot* snap = self->ctx_->CurrentSnapshot();
    if (snap == nullptr) return refuse(kAlertInternalError, false);
    if (snap->CheckName(name).blocked()) {
      self->url_ = name + ":443";
      return refuse(kAlertAccessDenied, true);
    }
    bool expected_is_name = !expected.empty() && expected.front() != '[' &&
                            expected.find_first_not_of("0123456789.") != std::string::npos;
    if (expected_is_name && name != expected && !o.allow_sni_mismatch) {
      spdlog::debug("proxy: CONNECT {} carried SNI {}: refused", expected, name);
      return refuse(kAlertAccessDenied, false);
    }
    pass();
  });
}

char* ProxySession::PumpBuffer(bool client_to_upstream) {
  if (!pump_) pump_ = std::make_unique<char[]>(2 * kPumpHalf);
  return pump_.get() + (client_to_upstream ? 0 : kPumpHalf);
}

void ProxySession::StartSplice(int status) {
  tunnel_ = true;
  tunnel_status_ = status;
  // The tunnel's idle timeout: traffic either way moves it for both sides.
  SetDeadline(std::chrono::milliseconds(options_.idle_timeout_ms));
  net::async_write(*upstream_, net::buffer(hello_), [self = SelfBase()](error_code ec, std::size_t) {
    if (self->closing_) return;
    if (ec) return self->DoClose();
    self->hello_.clear();
    self->hello_.shrink_to_fit();
    self->Pump(true);
    self->Pump(false);
  });
}

void ProxySession::Pump(bool client_to_upstream) {
  if (closing_) return;
  Socket& from = client_to_upstream ? client_ : *upstream_;
  char* buf = PumpBuffer(client_to_upstream);
  from.async_read_some(net::buffer(buf, kPumpHalf), [self = SelfBase(), client_to_upstream, buf](error_code ec,
                                                                                                  std::size_t n) {
    if (self->closing_) return;
    if (ec) return self->DoClose();  // either side ended: so does the tunnel
    self->SetDeadline(std::chrono::milliseconds(self->options_.idle_timeout_ms));
    Socket& to = client_to_upstream ? *self->upstream_ : self->client_;
    net::async_write(to, net::buffer(buf, n), [self, client_to_upstream](error_code wec, std::size_t written) {
      if (wec) return self->DoClose();
      if (!client_to_upstream) self->tunnel_bytes_ += written;
      self->Pump(client_to_upstream);
    });
  });
}

// ---- logging and closing ----

void ProxySession::LogLine(std::string_view code, int status, std::uint64_t bytes, std::string_view hierarchy) {
  AccessEntry e;
  e.time_ms = NowUnixMs();
  e.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
  e.client = client_ip_;
  e.code = code;
  e.status = status;
  e.bytes = bytes;
  e.method = method_;
  e.url = url_;
  e.hierarchy = hierarchy;
  e.peer = hierarchy == "HIER_DIRECT" ? std::string_view(peer_) : std::string_view();
  e.type = type_;
  ctx_->Log(e);
  type_.clear();
}

void ProxySession::GracefulClose() {
  if (closing_) return;
  error_code ignored;
  client_.shutdown(tcp::socket::shutdown_send, ignored);
  SetDeadline(kLinger);
  Drain();
}

void ProxySession::Drain() {
  if (closing_) return;
  char* buf = PumpBuffer(true);
  client_.async_read_some(net::buffer(buf, kPumpHalf), [self = SelfBase()](error_code ec, std::size_t n) {
    self->drained_ += n;
    if (ec || self->drained_ > kLingerBytes) return self->DoClose();
    self->Drain();
  });
}

void ProxySession::DoClose() {
  if (closing_) return;
  closing_ = true;
  if (tunnel_) {  // however it ends (either side, idle timeout, Stop): one line
    tunnel_ = false;
    LogLine("TCP_TUNNEL", tunnel_status_, tunnel_bytes_, "HIER_DIRECT");
  }
  error_code ignored;
  watchdog_.cancel();
  if (resolver_) resolver_->cancel();
  if (resolve_timer_) resolve_timer_->cancel();
  client_.close(ignored);
  if (upstream_) upstream_->close(ignored);
}

}  // namespace saring::proxy
