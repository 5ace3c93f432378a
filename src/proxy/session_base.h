// Internal to src/proxy: ProxySession, what the HTTP and TLS sessions share:
// the client connection, the upstream connection (resolved through the static
// hosts table, then saringd's DNS or the system resolver), the SNI gate that
// reads a ClientHello before a tunnel passes anything, the splice of a
// tunnel, access log lines and the closing sequence.
//
// Every step of a session runs on its connection's strand (the upstream
// socket, timers and lookups share it), so members need no lock. A session is
// owned by its pending operations (shared_ptr) and registered with the
// server's ServerCore (weakly), which closes it on Stop.
#ifndef SARING_PROXY_SESSION_BASE_H_
#define SARING_PROXY_SESSION_BASE_H_

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "net/server_core.h"
#include "proxy/client_hello.h"
#include "proxy/proxy_context.h"

namespace saring::proxy {

class ProxySession : public saring::net::ServerSession {
 public:
  using tcp = boost::asio::ip::tcp;
  using Clock = std::chrono::steady_clock;
  using error_code = boost::system::error_code;

  using Socket = ProxySocket;

  ProxySession(ProxyContext* context, std::uint64_t id, ProxySocket socket);
  ~ProxySession() override;  // unregisters from the core

  void Run() override;    // checks the client, then Begin() on the strand
  void Close() override;  // any thread

 protected:
  // The session's own start, on the strand, for an allowed client (a denied
  // one goes to Denied()).
  virtual void Begin() = 0;
  virtual void Denied() = 0;

  // ---- upstream ----
  using Done = std::function<void(error_code)>;
  // Connects upstream_ to host:port within connect_timeout_ms: hosts table,
  // IP literal ("[v6]" too), else a DNS lookup. Timeout → beast::error::timeout.
  // A name saringd's DNS blocks (through its CNAME chain: the rules passed the
  // name itself) → host_not_found with dns_blocked_by_ set to the DNS's reason.
  void ConnectUpstream(const std::string& host, std::uint16_t port, Done done);
  std::string dns_blocked_by_;
  // Connects upstream_ to the first of `endpoints` that answers within
  // connect_timeout_ms (a transparent session's original destination).
  void ConnectEndpoints(std::vector<tcp::endpoint> endpoints, Done done);

  // ---- TLS ----
  // Reads the client's first bytes into hello_ until ParseClientHello
  // decides (or the client deadline passes or the client goes: kNeedMore). Bytes already in
  // `early` (read past a CONNECT head) count first.
  void ReadClientHello(std::string early, std::function<void(HelloResult)> done);
  // Sends a fatal alert, then closes.
  void RefuseTls(std::uint8_t description);
  // The SNI gate: reads the ClientHello (ReadClientHello) and calls `pass`
  // when its SNI names a host no rule blocks and, for a CONNECT (expected_host
  // a name, not "" or an IP literal), the same host; no SNI / not TLS and a
  // mismatch pass only where the options allow them. Anything else is logged
  // (TCP_DENIED/403 with url_), counted and refused with a TLS alert.
  void GateOnSni(std::string early, std::string expected_host, std::function<void()> pass);
  // Sends hello_ upstream, then splices client ↔ upstream until either side
  // ends or both idle for idle_timeout_ms; the tunnel's log line (TCP_TUNNEL
  // with `status`: 200 for CONNECT and TLS, 101 for an upgrade) is written
  // when it ends.
  void StartSplice(int status = 200);

  // ---- deadlines ----
  // One timer per session guards whatever the session waits for (a request
  // head, a body, a connect, a page write, a tunnel's silence): SetDeadline
  // only moves deadline_, and the timer, armed once, looks again when it
  // fires (per-operation stream timers cost about a tenth of a proxied
  // request's CPU). When the deadline passes, the client socket's operations
  // are cancelled (so a 408 or a TLS alert can still follow) and the upstream
  // socket is closed; timed_out_ tells the handlers, and Timed() turns their
  // error into beast::error::timeout.
  void SetDeadline(Clock::time_point at);
  void SetDeadline(std::chrono::milliseconds timeout) { SetDeadline(Clock::now() + timeout); }
  void ClearDeadline() { deadline_ = Clock::time_point::max(); }
  error_code Timed(error_code ec) const;
  bool timed_out_ = false;

  // ---- logging and closing ----
  void LogLine(std::string_view code, int status, std::uint64_t bytes, std::string_view hierarchy);
  // After the last response: stop sending, drain what the client still sends
  // for a short while (so unread bytes do not reset the connection before it
  // has the response), then close.
  void GracefulClose();
  void DoClose();

  std::shared_ptr<ProxySession> SelfBase() {
    return std::static_pointer_cast<ProxySession>(shared_from_this());
  }

  ProxyContext* ctx_;
  const ProxyOptions& options_;
  std::uint64_t id_;
  Socket client_;
  std::optional<Socket> upstream_;
  boost::asio::ip::address client_addr_;
  std::string client_ip_;  // "" when the privacy switch is on
  std::size_t zone_ = 0;
  bool closing_ = false;

  // The request being served (for the log line).
  Clock::time_point start_ = Clock::now();
  std::string method_ = "-", url_, peer_, type_;
  int status_ = 0;

  // SNI gate.
  std::string hello_;  // the client's first bytes (the ClientHello and maybe more)
  ClientHelloInfo hello_info_;
  std::array<char, kMaxServerName> sni_scratch_{};

 private:
  // The connect part of both, by connect_deadline_ (set before resolving).
  void ConnectByDeadline(std::vector<tcp::endpoint> endpoints, Done done);
  void Pump(bool client_to_upstream);
  void Drain();
  void OnWatchdog(error_code ec);

  Clock::time_point connect_deadline_;
  ProxyTimer watchdog_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool watchdog_armed_ = false;
  std::optional<boost::asio::steady_timer> resolve_timer_;
  std::optional<tcp::resolver> resolver_;
  bool tunnel_ = false;
  int tunnel_status_ = 200;
  std::uint64_t tunnel_bytes_ = 0;  // to the client
  std::size_t drained_ = 0;
  // Two 16 KiB halves (client→upstream, upstream→client), allocated when a
  // tunnel starts or a drain needs them: most sessions never do.
  std::unique_ptr<char[]> pump_;
  char* PumpBuffer(bool client_to_upstream);
  std::array<std::uint8_t, 7> alert_{};
};

}  // namespace saring::proxy

#endif  // SARING_PROXY_SESSION_BASE_H_
