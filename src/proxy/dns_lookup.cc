#include "proxy/dns_lookup.h"

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <random>
#include <string>

namespace saring::proxy {

namespace net = boost::asio;
using udp = net::ip::udp;

namespace {

constexpr std::uint16_t kTypeA = 1, kTypeAAAA = 28, kTypeOpt = 41;
constexpr std::uint16_t kOptionEde = 15, kEdeBlocked = 15;  // RFC 8914
constexpr auto kResend = std::chrono::milliseconds(1000);
constexpr auto kOtherFamilyGrace = std::chrono::milliseconds(250);

std::uint16_t Get16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

// Skips a (possibly compressed) name starting at *at; false if it runs off.
bool SkipName(std::span<const std::uint8_t> p, std::size_t* at) {
  for (int labels = 0; labels < 128; ++labels) {
    if (*at >= p.size()) return false;
    std::uint8_t len = p[*at];
    if (len == 0) {
      *at += 1;
      return true;
    }
    if ((len & 0xC0) == 0xC0) {
      if (*at + 2 > p.size()) return false;
      *at += 2;
      return true;
    }
    if ((len & 0xC0) != 0) return false;
    *at += 1 + len;
  }
  return false;
}

}  // namespace

std::size_t BuildAddressQuery(std::string_view name, std::uint16_t qtype, std::uint16_t id,
                              std::span<std::uint8_t> out) {
  if (name.empty() || name.size() > 253 || out.size() < 512) return 0;
  std::size_t n = 0;
  auto put16 = [&](std::uint16_t v) {
    out[n++] = static_cast<std::uint8_t>(v >> 8);
    out[n++] = static_cast<std::uint8_t>(v);
  };
  put16(id);
  put16(0x0100);  // RD
  put16(1);       // QDCOUNT
  put16(0);
  put16(0);
  put16(1);  // ARCOUNT: OPT
  while (!name.empty()) {
    std::size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) return 0;
    out[n++] = static_cast<std::uint8_t>(label.size());
    for (char c : label) out[n++] = static_cast<std::uint8_t>(c);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  out[n++] = 0;
  put16(qtype);
  put16(1);  // IN
  out[n++] = 0;  // OPT: root owner
  put16(kTypeOpt);
  put16(1232);
  put16(0);
  put16(0);
  put16(0);  // RDLEN
  return n;
}

bool ParseAddressAnswer(std::span<const std::uint8_t> p, std::uint16_t id, std::uint16_t qtype,
                        std::vector<net::ip::address>* out, int* rcode, std::string* blocked_by) {
  if (p.size() < 12 || Get16(p, 0) != id || (p[2] & 0x80) == 0) return false;
  *rcode = p[3] & 0x0F;
  std::uint16_t qd = Get16(p, 4), an = Get16(p, 6), ns = Get16(p, 8), ar = Get16(p, 10);
  std::size_t at = 12;
  for (int i = 0; i < qd; ++i) {
    if (!SkipName(p, &at) || at + 4 > p.size()) return false;
    at += 4;
  }
  for (int i = 0; i < an; ++i) {
    if (!SkipName(p, &at) || at + 10 > p.size()) return false;
    std::uint16_t type = Get16(p, at), rdlen = Get16(p, at + 8);
    at += 10;
    if (at + rdlen > p.size()) return false;
    if (type == qtype && qtype == kTypeA && rdlen == 4) {
      net::ip::address_v4::bytes_type b;
      std::copy_n(p.begin() + static_cast<std::ptrdiff_t>(at), 4, b.begin());
      out->push_back(net::ip::address_v4(b));
    } else if (type == qtype && qtype == kTypeAAAA && rdlen == 16) {
      net::ip::address_v6::bytes_type b;
      std::copy_n(p.begin() + static_cast<std::ptrdiff_t>(at), 16, b.begin());
      out->push_back(net::ip::address_v6(b));
    }
    at += rdlen;
  }
  // The authority section is skipped; the additional one may hold the OPT
  // record with the Extended DNS Error. Past the answers, a malformed tail
  // only costs the EDE: the addresses stand.
  for (int i = 0; i < ns + ar; ++i) {
    if (!SkipName(p, &at) || at + 10 > p.size()) return true;
    std::uint16_t type = Get16(p, at), rdlen = Get16(p, at + 8);
    at += 10;
    if (at + rdlen > p.size()) return true;
    if (i >= ns && type == kTypeOpt && blocked_by != nullptr) {
      for (std::size_t o = at; o + 4 <= at + rdlen;) {
        std::uint16_t code = Get16(p, o), len = Get16(p, o + 2);
        if (o + 4 + len > at + rdlen) break;
        if (code == kOptionEde && len >= 2 && Get16(p, o + 4) == kEdeBlocked) {
          blocked_by->assign(reinterpret_cast<const char*>(p.data()) + o + 6, len - 2);
          if (blocked_by->empty()) *blocked_by = "blocked";
        }
        o += 4 + len;
      }
    }
    at += rdlen;
  }
  return true;
}

namespace {

// One lookup: owns its socket and timers until it calls done.
class Lookup : public std::enable_shared_from_this<Lookup> {
 public:
  Lookup(const net::any_io_executor& ex, udp::endpoint server, std::chrono::milliseconds timeout, DnsLookupDone done)
      : socket_(ex), resend_(ex), deadline_(ex), server_(server), done_(std::move(done)) {
    deadline_.expires_after(timeout);
  }

  void Start(std::string_view name) {
    boost::system::error_code ec;
    socket_.open(server_.protocol(), ec);
    if (!ec) socket_.connect(server_, ec);
    std::uint16_t base = static_cast<std::uint16_t>(std::random_device{}());
    for (int i = 0; i < 2 && !ec; ++i) {
      q_[i].id = static_cast<std::uint16_t>(base + i);
      q_[i].type = i == 0 ? kTypeA : kTypeAAAA;
      q_[i].size = BuildAddressQuery(name, q_[i].type, q_[i].id, q_[i].packet);
      if (q_[i].size == 0) ec = net::error::host_not_found;
    }
    if (ec) return Finish(ec);
    ArmDeadline();
    Send();
    Receive();
  }

 private:
  struct Question {
    std::uint16_t id = 0, type = 0;
    std::array<std::uint8_t, 512> packet{};
    std::size_t size = 0;
    bool answered = false;
    int rcode = 0;
  };

  // At the deadline: whatever addresses arrived, else a timeout.
  void ArmDeadline() {
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code tec) {
      if (tec) return;
      bool any = !self->v4_.empty() || !self->v6_.empty();
      self->Finish(any ? boost::system::error_code{} : net::error::timed_out);
    });
  }

  void Send() {
    if (finished_) return;
    for (auto& q : q_) {
      if (q.answered) continue;
      boost::system::error_code ignored;
      socket_.send(net::buffer(q.packet.data(), q.size), 0, ignored);  // UDP to loopback: does not block
    }
    resend_.expires_after(kResend);
    resend_.async_wait([self = shared_from_this()](boost::system::error_code tec) {
      if (!tec) self->Send();
    });
  }

  void Receive() {
    socket_.async_receive(net::buffer(in_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (self->finished_) return;
      if (ec == net::error::connection_refused) return self->Receive();  // ICMP from an earlier send
      if (ec) return self->Finish(ec);
      std::span<const std::uint8_t> packet(self->in_.data(), n);
      for (auto& q : self->q_) {
        if (q.answered) continue;
        std::vector<net::ip::address>& into = q.type == kTypeA ? self->v4_ : self->v6_;
        if (ParseAddressAnswer(packet, q.id, q.type, &into, &q.rcode, &self->blocked_by_)) q.answered = true;
      }
      if (self->q_[0].answered && self->q_[1].answered) {
        return self->Finish(self->v4_.empty() && self->v6_.empty() ? net::error::host_not_found
                                                                   : boost::system::error_code{});
      }
      // One family has addresses: the other gets a short grace, not the whole timeout.
      if ((!self->v4_.empty() || !self->v6_.empty()) && !self->grace_) {
        self->grace_ = true;
        if (self->deadline_.expiry() - net::steady_timer::clock_type::now() > kOtherFamilyGrace) {
          self->deadline_.expires_after(kOtherFamilyGrace);
          self->ArmDeadline();
        }
      }
      self->Receive();
    });
  }

  void Finish(boost::system::error_code ec) {
    if (finished_) return;
    finished_ = true;
    boost::system::error_code ignored;
    resend_.cancel();
    deadline_.cancel();
    socket_.close(ignored);
    std::vector<net::ip::address> all = std::move(v4_);
    all.insert(all.end(), v6_.begin(), v6_.end());
    // Answered on the executor, never inline from Start.
    net::post(socket_.get_executor(),
              [done = std::move(done_), ec, all = std::move(all), blocked_by = std::move(blocked_by_)]() mutable {
                done(ec, std::move(all), std::move(blocked_by));
              });
  }

  udp::socket socket_;
  net::steady_timer resend_, deadline_;
  udp::endpoint server_;
  DnsLookupDone done_;
  std::array<Question, 2> q_{};
  std::array<std::uint8_t, 1232> in_{};
  std::vector<net::ip::address> v4_, v6_;
  std::string blocked_by_;
  bool finished_ = false;
  bool grace_ = false;
};

}  // namespace

void AsyncDnsLookup(const net::any_io_executor& executor, const udp::endpoint& server, std::string_view name,
                    std::chrono::milliseconds timeout, DnsLookupDone done) {
  std::make_shared<Lookup>(executor, server, timeout, std::move(done))->Start(name);
}

}  // namespace saring::proxy
