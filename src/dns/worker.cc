// HOT PATH: the UDP query path (DrainUdp → Answer → sendmmsg, and upstream
// answers in DrainUpstream) allocates nothing and locks nothing: packets live
// in buffers and slots made when the worker starts, verdicts come from the
// worker's SnapshotReader, answers from its own cache. TCP sessions and
// upstream TCP retries (after TC) allocate per connection; they are rare.
//
// Statistics cost the query path no lock and no allocation either: counters
// are relaxed atomics of the worker's own, the blocked names and rules go to
// the worker's fixed-size TopTables (one hash and a few compares a block),
// and copies of those tables are published from the worker's own timer about
// once a second (that allocates, off the query path).
#include "dns/worker.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <random>

#include <spdlog/spdlog.h>

#include "dns/answer_cache.h"
#include "dns/top_names.h"
#include "dns/upstreams.h"
#include "dns/wire.h"
#include "saring/publisher.h"

namespace saring::dns {
namespace worker_internal {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr int kBatch = 32;                 // datagrams per recvmmsg/sendmmsg
constexpr std::size_t kPacketBytes = 4096; // largest UDP query or answer handled
constexpr std::size_t kMaxPending = 4096;  // queries in flight per worker
constexpr std::size_t kMaxForwardedQuery = 1232;  // larger queries are not forwarded
constexpr int kUpstreamSockets = 4;        // source ports to spread upstream queries over
constexpr std::size_t kMaxTcpMessage = 65535;
constexpr std::size_t kMaxTcpInFlight = 64;   // per connection
constexpr auto kTcpIdle = std::chrono::seconds(10);
constexpr auto kTick = std::chrono::milliseconds(20);
constexpr int kTicksPerTopsPublish = 50;  // about once a second

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// IPv4 as IPv4-mapped IPv6, the form Subnet matches.
std::array<std::uint8_t, 16> ClientBytes(const sockaddr_storage& ss) {
  std::array<std::uint8_t, 16> out{};
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    out[10] = out[11] = 0xff;
    std::memcpy(&out[12], &a.sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, 16);
  }
  return out;
}

std::array<std::uint8_t, 16> ClientBytes(const tcp::endpoint& ep) {
  sockaddr_storage ss{};
  std::memcpy(&ss, ep.data(), std::min<std::size_t>(ep.size(), sizeof ss));
  return ClientBytes(ss);
}

// The detailed query log, only when an investigation switches it on
// ([log] query_log): it names the client, so it is off by default, and it
// allocates (this is the one per-query allocation, and only then).
void LogQuery(const std::array<std::uint8_t, 16>& client, const Query& q, const Verdict& v) {
  asio::ip::address_v6 v6(client);
  std::string who = v6.is_v4_mapped() ? asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string()
                                      : v6.to_string();
  spdlog::info("query {} {} type {} {} {} {} {}", who, q.name.view(), q.qtype, ToString(v.decision),
               v.rule, v.source, v.category);
}

struct Counters {
  std::atomic<std::uint64_t> queries{0}, blocked{0}, allowed{0}, forwarded{0}, cache_hits{0},
      stale_answers{0}, servfail{0}, refused{0}, formerr{0}, dropped{0}, cname_blocked{0};
  // The answer cache's size, stored by the worker every tick (its own stats
  // are plain fields, not for other threads).
  std::atomic<std::uint64_t> cache_entries{0}, cache_bytes{0};
  // Zones of the config at start, then "other".
  std::unique_ptr<std::atomic<std::uint64_t>[]> zone_queries, zone_blocked;
  std::size_t zone_slots = 0;
  // Blocked answers per rule class (12-bit ids: 32 KiB a worker).
  static constexpr std::size_t kClasses = 4096;
  std::unique_ptr<std::atomic<std::uint64_t>[]> blocked_by_class =
      std::make_unique<std::atomic<std::uint64_t>[]>(kClasses);

  void CountBlock(std::size_t zone, const Verdict& v) {
    Bump(blocked);
    zone_blocked[zone].fetch_add(1, std::memory_order_relaxed);
    blocked_by_class[v.class_id % kClasses].fetch_add(1, std::memory_order_relaxed);
  }

  static void Bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

class TcpSession;

// A query waiting for an upstream answer.
struct Pending {
  bool in_use = false;
  std::uint32_t generation = 0;  // bumped on release: late TCP answers see the change
  int socket = 0;                // which upstream socket it went out on
  std::uint16_t wire_id = 0;     // the ID we sent upstream
  std::uint16_t client_id = 0;   // the ID the client sent
  std::size_t upstream = 0;
  std::int64_t sent_ms = 0, attempt_deadline_ms = 0, final_deadline_ms = 0;
  // The client.
  std::shared_ptr<TcpSession> tcp;  // null for UDP
  int reply_fd = -1;
  sockaddr_storage client{};
  socklen_t client_len = 0;
  std::size_t zone = 0;
  // The client's query as received is in Rep::queries[slot] (the question
  // keeps its letter case; its first two bytes carry wire_id while upstream).
  std::uint16_t size = 0;
  // The deadline list (send order is deadline order: one timeout for all).
  int prev = -1, next = -1;
};

// Where an answer goes: a UDP address on a listener socket, or a TCP session.
struct ClientRef {
  std::shared_ptr<TcpSession> tcp;
  int fd = -1;
  const sockaddr_storage* addr = nullptr;
  socklen_t addr_len = 0;
};

}  // namespace worker_internal

using namespace worker_internal;

struct Worker::Rep {
  Rep(int index, const WorkerSetup& setup);

  int index;
  WorkerSetup setup;
  asio::io_context io;
  SnapshotReader snapshots;
  Reader<Policy> policy;
  Upstreams upstreams;
  AnswerCache cache;
  asio::steady_timer timer;
  std::mt19937_64 rng;
  Counters counters;
  // Heavy hitters among blocked names and deciding rules: the worker's own,
  // copied to `tops` (for DnsServer::counters) every kTicksPerTopsPublish ticks
  // when changed, and once more when the worker stops.
  WorkerTops top;
  bool top_changed = false;
  int ticks_to_publish = kTicksPerTopsPublish;
  Publisher<WorkerTops> tops;

  std::vector<std::unique_ptr<udp::socket>> listeners;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::size_t tcp_sessions = 0;
  std::vector<std::unique_ptr<udp::socket>> upstream_sockets;
  std::vector<std::array<std::int32_t, 65536>> id_to_slot;  // per upstream socket; -1 = free

  std::vector<Pending> pending;
  // Kept apart from the slots and left uninitialized, so memory for queries
  // in flight is only touched (and resident) as far as it is used.
  using QueryBytes = std::array<std::uint8_t, kMaxForwardedQuery>;
  std::unique_ptr<QueryBytes[]> queries{new QueryBytes[kMaxPending]};
  std::vector<int> free_slots;
  int deadline_head = -1, deadline_tail = -1;

  // recvmmsg / sendmmsg state and answer buffers, made once.
  struct Batch {
    std::array<std::array<std::uint8_t, kPacketBytes>, kBatch> in, out;
    std::array<mmsghdr, kBatch> in_msgs, out_msgs;
    std::array<iovec, kBatch> in_iov, out_iov;
    std::array<sockaddr_storage, kBatch> addrs;
    std::array<Query, kBatch> queries;
    std::array<ParseStatus, kBatch> status;
    std::array<std::string_view, kBatch> names;
    std::array<Verdict, kBatch> verdicts;
    std::array<int, kBatch> name_of;  // index into names, or -1
  };
  std::unique_ptr<Batch> batch = std::make_unique<Batch>();
  std::vector<std::uint8_t> upstream_in = std::vector<std::uint8_t>(kMaxTcpMessage);
  std::vector<std::uint8_t> answer_out = std::vector<std::uint8_t>(kMaxTcpMessage);

  Status Open();
  void Start();
  void ArmUdp(udp::socket* s);
  void ArmUpstream(int i);
  void Tick();
  void PublishTops();
  // A blocked answer: counters and the top tables. `name` is the name asked
  // for; `v` the verdict that blocked it (for a CNAME block, its target's).
  void CountBlock(std::size_t zone, std::string_view name, const Verdict& v) {
    counters.CountBlock(zone, v);
    top.names.Add(name, v.class_id);
    if (!v.rule.empty()) top.rules.Add(v.rule, v.class_id);
    top_changed = true;
  }

  void DrainUdp(udp::socket* s);
  void ProcessUdpBatch(int fd, int n);
  std::size_t Answer(const Policy& p, std::span<const std::uint8_t> packet, const Query& q,
                     ParseStatus status, const Verdict* verdict,
                     const std::array<std::uint8_t, 16>& client, const ClientRef& ref,
                     std::span<std::uint8_t> out, std::size_t limit, bool* forwarded);

  bool Forward(std::span<const std::uint8_t> packet, const Query& q, const ClientRef& ref,
               std::size_t zone);
  void SendUpstream(int slot, std::int64_t now);
  void DrainUpstream(udp::socket* s, int sock);
  void OnUpstreamAnswer(int slot, std::span<std::uint8_t> answer);
  void ForwardOverTcp(int slot);
  void ExpirePending(std::int64_t now);
  void FinishWithError(int slot);
  void Reply(int slot, std::span<const std::uint8_t> answer);
  void Release(int slot);
  void Unlink(int slot);
  void Append(int slot);

  void Accept(tcp::acceptor* a);
  void HandleTcpQuery(const std::shared_ptr<TcpSession>& session, std::span<const std::uint8_t> packet,
                      const std::array<std::uint8_t, 16>& client);

  std::size_t ZoneSlot(const Policy& p, const std::array<std::uint8_t, 16>& client) const {
    return std::min(p.ZoneOf(client), counters.zone_slots - 1);
  }
};

namespace worker_internal {

// One client TCP connection: reads length-prefixed queries one after another
// without waiting for answers (pipelining; answers go out as they come, in any
// order), closes after kTcpIdle without queries in flight. Runs on its
// worker's single thread, so it needs no strand.
class TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(tcp::socket socket, Worker::Rep* worker)
      : socket_(std::move(socket)), idle_(socket_.get_executor()), worker_(worker) {
    boost::system::error_code ec;
    tcp::endpoint peer = socket_.remote_endpoint(ec);
    client_ = ClientBytes(peer);
  }
  ~TcpSession() { --worker_->tcp_sessions; }

  void Start() {
    ArmIdle();
    DoReadLength();
  }

  // Queues one answer.
  void Send(std::span<const std::uint8_t> answer) {
    if (closed_) return;
    std::vector<std::uint8_t> framed(answer.size() + 2);
    framed[0] = static_cast<std::uint8_t>(answer.size() >> 8);
    framed[1] = static_cast<std::uint8_t>(answer.size());
    std::memcpy(framed.data() + 2, answer.data(), answer.size());
    writes_.push_back(std::move(framed));
    if (!writing_) DoWrite();
  }

  // An upstream answered (or gave up on) one of this connection's queries.
  void QueryDone() {
    --in_flight_;
    if (paused_ && !closed_) {
      paused_ = false;
      DoReadLength();
    }
  }
  void QueryStarted() { ++in_flight_; }

 private:
  void DoReadLength() {
    if (in_flight_ >= kMaxTcpInFlight) {
      paused_ = true;  // back-pressure: read on once answers go out
      return;
    }
    asio::async_read(socket_, asio::buffer(length_),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->OnReadLength(ec);
                     });
  }

  void OnReadLength(const boost::system::error_code& ec) {
    if (ec) return Close();
    std::size_t n = (length_[0] << 8) | length_[1];
    if (n < kHeaderSize) return Close();  // nothing answerable can be that short
    body_.resize(n);
    asio::async_read(socket_, asio::buffer(body_),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->OnReadBody(ec);
                     });
  }

  void OnReadBody(const boost::system::error_code& ec) {
    if (ec) return Close();
    ArmIdle();
    worker_->HandleTcpQuery(shared_from_this(), body_, client_);
    if (!closed_) DoReadLength();
  }

  void DoWrite() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(writes_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(const boost::system::error_code& ec) {
    writing_ = false;
    if (ec) return Close();
    writes_.pop_front();
    if (!writes_.empty()) DoWrite();
  }

  void ArmIdle() {
    idle_.expires_after(kTcpIdle);
    idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed or closed
      if (self->in_flight_ > 0) return self->ArmIdle();
      self->Close();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    idle_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  asio::steady_timer idle_;
  Worker::Rep* worker_;
  std::array<std::uint8_t, 16> client_;
  std::array<std::uint8_t, 2> length_;
  std::vector<std::uint8_t> body_;
  std::deque<std::vector<std::uint8_t>> writes_;
  bool writing_ = false;
  bool paused_ = false;
  bool closed_ = false;
  std::size_t in_flight_ = 0;
};

// One query retried over TCP after a truncated UDP answer.
class TcpUpstreamQuery : public std::enable_shared_from_this<TcpUpstreamQuery> {
 public:
  TcpUpstreamQuery(asio::io_context& io, Worker::Rep* worker, int slot, std::uint32_t generation,
                   std::span<const std::uint8_t> packet)
      : socket_(io), worker_(worker), slot_(slot), generation_(generation), out_(packet.size() + 2) {
    out_[0] = static_cast<std::uint8_t>(packet.size() >> 8);
    out_[1] = static_cast<std::uint8_t>(packet.size());
    std::memcpy(out_.data() + 2, packet.data(), packet.size());
  }

  void Start(const udp::endpoint& upstream) {
    socket_.async_connect(tcp::endpoint(upstream.address(), upstream.port()),
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            if (ec) return;  // the slot's deadline answers the client
                            asio::async_write(self->socket_, asio::buffer(self->out_),
                                              [self](const boost::system::error_code& ec, std::size_t) {
                                                if (!ec) self->ReadLength();
                                              });
                          });
  }

 private:
  void ReadLength() {
    asio::async_read(socket_, asio::buffer(length_),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return;
                       self->in_.resize((self->length_[0] << 8) | self->length_[1]);
                       asio::async_read(self->socket_, asio::buffer(self->in_),
                                        [self](const boost::system::error_code& ec, std::size_t) {
                                          if (!ec) self->Done();
                                        });
                     });
  }

  void Done() {
    const Pending& p = worker_->pending[slot_];
    if (!p.in_use || p.generation != generation_) return;  // answered or given up meanwhile
    worker_->OnUpstreamAnswer(slot_, in_);
  }

  tcp::socket socket_;
  Worker::Rep* worker_;
  int slot_;
  std::uint32_t generation_;
  std::vector<std::uint8_t> out_, in_;
  std::array<std::uint8_t, 2> length_;
};

}  // namespace worker_internal

Worker::Rep::Rep(int index, const WorkerSetup& setup)
    : index(index),
      setup(setup),
      io(1),
      snapshots(setup.snapshots),
      policy(setup.policy),
      upstreams(setup.upstreams),
      cache([&] {
        AnswerCache::Options o;
        o.max_bytes = setup.cache_bytes;
        return o;
      }()),
      timer(io),
      rng(std::random_device{}()) {}

// ---- sockets ----------------------------------------------------------------

Status Worker::Rep::Open() {
  try {
    for (const Endpoint& e : setup.listen) {
      udp::endpoint ep(asio::ip::make_address(e.address), e.port);
      auto s = std::make_unique<udp::socket>(io, ep.protocol());
      s->set_option(udp::socket::reuse_address(true));
      s->set_option(ReusePort(true));
      if (ep.address().is_v6()) s->set_option(asio::ip::v6_only(true));
      s->non_blocking(true);
      s->bind(ep);
      listeners.push_back(std::move(s));

      tcp::endpoint tep(ep.address(), e.port);
      auto a = std::make_unique<tcp::acceptor>(io, tep.protocol());
      a->set_option(tcp::acceptor::reuse_address(true));
      a->set_option(ReusePort(true));
      if (tep.address().is_v6()) a->set_option(asio::ip::v6_only(true));
      a->bind(tep);
      a->listen(1024);
      acceptors.push_back(std::move(a));
    }
    if (upstreams.size() > 0) {
      bool v6 = upstreams.endpoint(0).address().is_v6();
      for (int i = 0; i < kUpstreamSockets; ++i) {  // the kernel picks each a random port
        auto s = std::make_unique<udp::socket>(io, v6 ? udp::v6() : udp::v4());
        s->non_blocking(true);
        s->bind(udp::endpoint(v6 ? udp::v6() : udp::v4(), 0));
        upstream_sockets.push_back(std::move(s));
      }
    }
  } catch (const boost::system::system_error& e) {
    return Status::IOError("worker " + std::to_string(index) + ": " + e.what());
  }
  id_to_slot.resize(upstream_sockets.size());
  for (auto& map : id_to_slot) map.fill(-1);
  pending.resize(kMaxPending);
  for (int i = kMaxPending - 1; i >= 0; --i) free_slots.push_back(i);

  const Policy* p = policy.Get();
  counters.zone_slots = (p ? p->zones.size() : 0) + 1;
  counters.zone_queries = std::make_unique<std::atomic<std::uint64_t>[]>(counters.zone_slots);
  counters.zone_blocked = std::make_unique<std::atomic<std::uint64_t>[]>(counters.zone_slots);
  return Status::OK();
}

void Worker::Rep::Start() {
  for (auto& l : listeners) ArmUdp(l.get());
  for (auto& a : acceptors) Accept(a.get());
  for (std::size_t i = 0; i < upstream_sockets.size(); ++i) ArmUpstream(static_cast<int>(i));
  Tick();
}

void Worker::Rep::ArmUdp(udp::socket* s) {
  s->async_wait(udp::socket::wait_read, [this, s](const boost::system::error_code& ec) {
    if (ec) return;
    DrainUdp(s);
    ArmUdp(s);
  });
}

void Worker::Rep::ArmUpstream(int i) {
  udp::socket* s = upstream_sockets[i].get();
  s->async_wait(udp::socket::wait_read, [this, s, i](const boost::system::error_code& ec) {
    if (ec) return;
    DrainUpstream(s, i);
    ArmUpstream(i);
  });
}

void Worker::Rep::Tick() {
  timer.expires_after(kTick);
  timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    ExpirePending(NowMs());
    // An idle worker would otherwise keep the snapshot it last used (and,
    // during a reload, the old index with it) until its next query.
    snapshots.Get();
    policy.Get();
    const AnswerCache::Stats& cs = cache.stats();
    counters.cache_entries.store(cs.entries, std::memory_order_relaxed);
    counters.cache_bytes.store(cs.bytes_used, std::memory_order_relaxed);
    if (--ticks_to_publish <= 0) {
      ticks_to_publish = kTicksPerTopsPublish;
      PublishTops();
    }
    Tick();
  });
}

void Worker::Rep::PublishTops() {
  if (!top_changed) return;
  top_changed = false;
  tops.Publish(std::make_shared<const WorkerTops>(top));
}

// ---- the query path ---------------------------------------------------------

// Reads waiting datagrams in batches; answers what can be answered here with
// one sendmmsg per batch and forwards the rest.
void Worker::Rep::DrainUdp(udp::socket* s) {
  Batch& b = *batch;
  int fd = s->native_handle();
  for (int rounds = 0; rounds < 64; ++rounds) {  // then other sockets get a turn
    for (int i = 0; i < kBatch; ++i) {
      b.in_iov[i] = {b.in[i].data(), b.in[i].size()};
      b.in_msgs[i].msg_hdr = {};
      b.in_msgs[i].msg_hdr.msg_name = &b.addrs[i];
      b.in_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      b.in_msgs[i].msg_hdr.msg_iov = &b.in_iov[i];
      b.in_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, b.in_msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    ProcessUdpBatch(fd, n);
    if (n < kBatch) return;
  }
}

void Worker::Rep::ProcessUdpBatch(int fd, int n) {
  Batch& b = *batch;
  const Snapshot* snapshot = snapshots.Get();
  const Policy* p = policy.Get();
  if (!p || !snapshot) {  // not ready: answer nothing rather than fail open
    counters.dropped.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  // Parse all, then check all names at once (their index fetches overlap).
  int names = 0;
  for (int i = 0; i < n; ++i) {
    b.name_of[i] = -1;
    b.status[i] = ParseQuery({b.in[i].data(), b.in_msgs[i].msg_len}, &b.queries[i]);
    if (b.status[i] == ParseStatus::kOk) {
      b.names[names] = b.queries[i].name.view();
      b.name_of[i] = names++;
    }
  }
  snapshot->CheckNames({b.names.data(), static_cast<std::size_t>(names)},
                       {b.verdicts.data(), static_cast<std::size_t>(names)});
  int replies = 0;
  for (int i = 0; i < n; ++i) {
    const Verdict* verdict = b.name_of[i] >= 0 ? &b.verdicts[b.name_of[i]] : nullptr;
    ClientRef ref{nullptr, fd, &b.addrs[i], b.in_msgs[i].msg_hdr.msg_namelen};
    bool forwarded = false;
    std::size_t size = Answer(*p, {b.in[i].data(), b.in_msgs[i].msg_len}, b.queries[i],
                              b.status[i], verdict, ClientBytes(b.addrs[i]), ref, b.out[i],
                              b.queries[i].udp_payload, &forwarded);
    if (size == 0) continue;
    mmsghdr& m = b.out_msgs[replies];
    b.out_iov[replies] = {b.out[i].data(), size};
    m.msg_hdr = {};
    m.msg_hdr.msg_name = &b.addrs[i];
    m.msg_hdr.msg_namelen = b.in_msgs[i].msg_hdr.msg_namelen;
    m.msg_hdr.msg_iov = &b.out_iov[replies];
    m.msg_hdr.msg_iovlen = 1;
    ++replies;
  }
  for (int sent = 0; sent < replies;) {
    int k = sendmmsg(fd, b.out_msgs.data() + sent, replies - sent, MSG_DONTWAIT);
    if (k <= 0) break;  // the socket buffer is full: those clients retry
    sent += k;
  }
}

// Decides one query. Returns the size of an answer written into `out` now, or
// 0 when nothing goes out now (dropped, or forwarded: then `*forwarded`).
std::size_t Worker::Rep::Answer(const Policy& p, std::span<const std::uint8_t> packet,
                                const Query& q, ParseStatus status, const Verdict* verdict,
                                const std::array<std::uint8_t, 16>& client, const ClientRef& ref,
                                std::span<std::uint8_t> out, std::size_t limit, bool* forwarded) {
  *forwarded = false;
  if (status == ParseStatus::kDrop) {
    Counters::Bump(counters.dropped);
    return 0;
  }
  Counters::Bump(counters.queries);
  std::size_t zone = ZoneSlot(p, client);
  counters.zone_queries[zone].fetch_add(1, std::memory_order_relaxed);
  if (!p.Allowed(client)) {
    Counters::Bump(counters.refused);
    return WriteError(out, q, status == ParseStatus::kOk ? status : ParseStatus::kFormErr,
                      Rcode::kRefused, kEdeProhibited, "not a client of this resolver");
  }
  if (status != ParseStatus::kOk) {
    Counters::Bump(counters.formerr);
    return WriteError(out, q, status,
                      status == ParseStatus::kNotImp ? Rcode::kNotImp : Rcode::kFormErr);
  }
  if (IsDohCanary(q.name.view())) return WriteCanaryAnswer(q, p, out, limit);
  Verdict local;
  if (!verdict) {
    local = snapshots.Get()->CheckName(q.name.view());
    verdict = &local;
  }
  if (p.query_log) LogQuery(client, q, *verdict);
  if (verdict->blocked()) {
    CountBlock(zone, q.name.view(), *verdict);
    // The snapshot the verdict came from, or the one just published after it
    // (the reference's class id means the same in both).
    const Snapshot* decided_by = snapshots.Get();
    return WriteBlockedAnswer(q, *verdict, decided_by ? decided_by->serial() : 0, p, out, limit);
  }
  if (verdict->decision == Decision::kAllow) Counters::Bump(counters.allowed);

  std::size_t size = 0;
  if (cache.Lookup({q.name.view(), q.qtype, q.qclass, q.dnssec_ok}, NowMs() / 1000, false, q.id,
                   q.question, out, &size) == AnswerCache::Hit::kFresh &&
      size <= limit) {
    Counters::Bump(counters.cache_hits);
    return size;
  }
  if (Forward(packet, q, ref, zone)) {
    *forwarded = true;
    return 0;
  }
  Counters::Bump(counters.servfail);
  return WriteError(out, q, ParseStatus::kOk, Rcode::kServFail, kEdeNetworkError,
                    "too many queries in flight");
}

// ---- forwarding -------------------------------------------------------------

void Worker::Rep::Unlink(int slot) {
  Pending& s = pending[slot];
  if (s.prev >= 0) pending[s.prev].next = s.next;
  else if (deadline_head == slot) deadline_head = s.next;
  if (s.next >= 0) pending[s.next].prev = s.prev;
  else if (deadline_tail == slot) deadline_tail = s.prev;
  s.prev = s.next = -1;
}

void Worker::Rep::Append(int slot) {
  Pending& s = pending[slot];
  s.prev = deadline_tail;
  s.next = -1;
  if (deadline_tail >= 0) pending[deadline_tail].next = slot;
  else deadline_head = slot;
  deadline_tail = slot;
}

void Worker::Rep::Release(int slot) {
  Pending& s = pending[slot];
  Unlink(slot);
  if (id_to_slot[s.socket][s.wire_id] == slot) id_to_slot[s.socket][s.wire_id] = -1;
  s.in_use = false;
  ++s.generation;
  s.tcp.reset();
  free_slots.push_back(slot);
}

bool Worker::Rep::Forward(std::span<const std::uint8_t> packet, const Query& q,
                          const ClientRef& ref, std::size_t zone) {
  if (free_slots.empty() || packet.size() > kMaxForwardedQuery || upstream_sockets.empty()) return false;
  int slot = free_slots.back();
  free_slots.pop_back();
  Pending& s = pending[slot];
  s.in_use = true;
  std::memcpy(queries[slot].data(), packet.data(), packet.size());
  s.size = static_cast<std::uint16_t>(packet.size());
  s.client_id = q.id;
  s.tcp = ref.tcp;
  if (s.tcp) s.tcp->QueryStarted();
  s.reply_fd = ref.fd;
  if (ref.addr) {
    s.client = *ref.addr;
    s.client_len = ref.addr_len;
  }
  s.zone = zone;
  std::int64_t now = NowMs();
  s.final_deadline_ms = now + setup.query_timeout_ms;
  s.upstream = upstreams.Pick(now);
  s.socket = 0;
  s.wire_id = 0;
  Counters::Bump(counters.forwarded);
  SendUpstream(slot, now);
  return true;
}

// Sends the slot's query to its upstream under a fresh random ID and source port.
void Worker::Rep::SendUpstream(int slot, std::int64_t now) {
  Pending& s = pending[slot];
  if (id_to_slot[s.socket][s.wire_id] == slot) id_to_slot[s.socket][s.wire_id] = -1;
  int sock = static_cast<int>(rng() % upstream_sockets.size());
  std::uint16_t id = static_cast<std::uint16_t>(rng());
  for (int tries = 0; tries < 16 && id_to_slot[sock][id] >= 0; ++tries) {
    id = static_cast<std::uint16_t>(rng());
  }
  if (id_to_slot[sock][id] >= 0) return FinishWithError(slot);  // IDs nearly exhausted
  s.socket = sock;
  s.wire_id = id;
  id_to_slot[sock][id] = slot;
  queries[slot][0] = static_cast<std::uint8_t>(id >> 8);
  queries[slot][1] = static_cast<std::uint8_t>(id);
  s.sent_ms = now;
  upstreams.Sent(s.upstream);
  s.attempt_deadline_ms = std::min<std::int64_t>(now + setup.upstream_timeout_ms, s.final_deadline_ms);
  Unlink(slot);
  Append(slot);
  boost::system::error_code ec;
  upstream_sockets[sock]->send_to(asio::buffer(queries[slot].data(), s.size),
                                  upstreams.endpoint(s.upstream), 0, ec);
  // A failed send is handled like a lost packet: the deadline retries it.
}

void Worker::Rep::DrainUpstream(udp::socket* s, int sock) {
  for (int rounds = 0; rounds < 256; ++rounds) {
    udp::endpoint from;
    boost::system::error_code ec;
    std::size_t n = s->receive_from(asio::buffer(upstream_in), from, 0, ec);
    if (ec) return;
    if (n < kHeaderSize) continue;
    std::uint16_t id = static_cast<std::uint16_t>((upstream_in[0] << 8) | upstream_in[1]);
    int slot = id_to_slot[sock][id];
    if (slot < 0 || from != upstreams.endpoint(pending[slot].upstream)) continue;  // not ours
    OnUpstreamAnswer(slot, {upstream_in.data(), n});
  }
}

void Worker::Rep::OnUpstreamAnswer(int slot, std::span<std::uint8_t> answer) {
  Pending& s = pending[slot];
  Query q;
  ParseQuery({queries[slot].data(), s.size}, &q);  // parsed fine before it was forwarded
  ResponseInfo info;
  if (!ParseResponse(answer, q, &info)) return;  // spoofed or broken: keep waiting
  std::int64_t now = NowMs();
  upstreams.Succeeded(s.upstream, now - s.sent_ms);
  q.id = s.client_id;
  if (info.truncated && s.tcp) return ForwardOverTcp(slot);
  // (A truncated answer to a UDP client goes to it as is: it asks again over TCP.)

  std::span<std::uint8_t> out(answer_out);
  std::size_t limit = s.tcp ? kMaxTcpMessage : q.udp_payload;
  const Snapshot* snapshot = snapshots.Get();
  const Policy* p = policy.Get();
  struct ChainCheck {
    const Snapshot* snapshot;
    NameText target;
    Verdict verdict;
    static bool Check(const NameText& t, void* ctx) {
      auto* self = static_cast<ChainCheck*>(ctx);
      self->target = t;
      self->verdict = self->snapshot->CheckName(self->target.view());
      return self->verdict.blocked();
    }
  } chain{snapshot, {}, {}};
  if (snapshot && p && ForEachCnameTarget(answer, &ChainCheck::Check, &chain)) {
    Counters::Bump(counters.cname_blocked);
    CountBlock(s.zone, q.name.view(), chain.verdict);
    return Reply(slot, out.first(WriteBlockedAnswer(q, chain.verdict, snapshot->serial(), *p, out, limit)));
  }
  if (info.cacheable && !info.truncated && info.cache_ttl > 0 &&
      (info.rcode == Rcode::kNoError || info.rcode == Rcode::kNxDomain)) {
    bool negative = info.rcode == Rcode::kNxDomain || info.answer_count == 0;
    cache.Insert({q.name.view(), q.qtype, q.qclass, q.dnssec_ok}, answer,
                 {info.ttl_offsets.data(), info.ttl_offset_count}, info.cache_ttl, negative,
                 now / 1000);
  }
  if (info.rcode == Rcode::kServFail) Counters::Bump(counters.servfail);
  if (answer.size() > limit) {
    std::size_t size = WriteError(out, q, ParseStatus::kOk, Rcode::kNoError);
    out[2] |= 0x02;  // TC: too big for this client over UDP; it asks again over TCP
    return Reply(slot, out.first(size));
  }
  answer[0] = static_cast<std::uint8_t>(s.client_id >> 8);
  answer[1] = static_cast<std::uint8_t>(s.client_id);
  Reply(slot, answer);
}

void Worker::Rep::ForwardOverTcp(int slot) {
  Pending& s = pending[slot];
  upstreams.Sent(s.upstream);
  auto op = std::make_shared<TcpUpstreamQuery>(io, this, slot, s.generation,
                                               std::span<const std::uint8_t>(queries[slot].data(), s.size));
  op->Start(upstreams.endpoint(s.upstream));
}

// Attempts past their deadline: another upstream while the query has time
// left, else stale data or SERVFAIL.
void Worker::Rep::ExpirePending(std::int64_t now) {
  while (deadline_head >= 0 && pending[deadline_head].attempt_deadline_ms <= now) {
    int slot = deadline_head;
    Pending& s = pending[slot];
    upstreams.Failed(s.upstream, now);
    if (s.final_deadline_ms - now >= setup.upstream_timeout_ms / 4) {
      s.upstream = upstreams.Pick(now, s.upstream);
      SendUpstream(slot, now);
    } else {
      FinishWithError(slot);
    }
  }
}

void Worker::Rep::FinishWithError(int slot) {
  Pending& s = pending[slot];
  Query q;
  ParseQuery({queries[slot].data(), s.size}, &q);
  q.id = s.client_id;
  std::span<std::uint8_t> out(answer_out);
  const Policy* p = policy.Get();
  std::size_t size = 0;
  if (p && p->serve_stale &&
      cache.Lookup({q.name.view(), q.qtype, q.qclass, q.dnssec_ok}, NowMs() / 1000, true, q.id,
                   q.question, out, &size) != AnswerCache::Hit::kMiss &&
      size <= (s.tcp ? kMaxTcpMessage : q.udp_payload)) {
    Counters::Bump(counters.stale_answers);
    size = AppendEde(out, size, s.tcp ? kMaxTcpMessage : q.udp_payload, kEdeStaleAnswer,
                     "no upstream resolver answered");
    return Reply(slot, out.first(size));
  }
  Counters::Bump(counters.servfail);
  size = WriteError(out, q, ParseStatus::kOk, Rcode::kServFail, kEdeNetworkError,
                    "no upstream resolver answered");
  Reply(slot, out.first(size));
}

void Worker::Rep::Reply(int slot, std::span<const std::uint8_t> answer) {
  Pending& s = pending[slot];
  if (s.tcp) {
    s.tcp->Send(answer);
    s.tcp->QueryDone();
  } else {
    sendto(s.reply_fd, answer.data(), answer.size(), MSG_DONTWAIT,
           reinterpret_cast<const sockaddr*>(&s.client), s.client_len);
  }
  Release(slot);
}

// ---- TCP --------------------------------------------------------------------

void Worker::Rep::Accept(tcp::acceptor* a) {
  a->async_accept([this, a](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (tcp_sessions >= 1024) {
        boost::system::error_code ignored;
        socket.close(ignored);  // over the per-worker limit
      } else {
        ++tcp_sessions;
        std::make_shared<TcpSession>(std::move(socket), this)->Start();
      }
    }
    Accept(a);
  });
}

void Worker::Rep::HandleTcpQuery(const std::shared_ptr<TcpSession>& session,
                                 std::span<const std::uint8_t> packet,
                                 const std::array<std::uint8_t, 16>& client) {
  const Snapshot* snapshot = snapshots.Get();
  const Policy* p = policy.Get();
  if (!p || !snapshot) {
    Counters::Bump(counters.dropped);
    return;
  }
  Query q;
  ParseStatus status = ParseQuery(packet, &q);
  ClientRef ref{session, -1, nullptr, 0};
  bool forwarded = false;
  std::span<std::uint8_t> out(answer_out);
  std::size_t size = Answer(*p, packet, q, status, nullptr, client, ref, out, kMaxTcpMessage, &forwarded);
  if (size > 0) session->Send(out.first(size));
}

// ---- Worker -----------------------------------------------------------------

Worker::Worker(int index, const WorkerSetup& setup) : rep_(std::make_unique<Rep>(index, setup)) {}
Worker::~Worker() = default;

Status Worker::Open() { return rep_->Open(); }

void Worker::Run() {
  rep_->Start();
  rep_->io.run();
  rep_->PublishTops();  // the last blocks, for counters() after Stop
}

void Worker::Stop() { rep_->io.stop(); }

void Worker::AddCounters(DnsCounters* total) const {
  const Counters& c = rep_->counters;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  total->queries += get(c.queries);
  total->blocked += get(c.blocked);
  total->allowed += get(c.allowed);
  total->forwarded += get(c.forwarded);
  total->cache_hits += get(c.cache_hits);
  total->stale_answers += get(c.stale_answers);
  total->servfail += get(c.servfail);
  total->refused += get(c.refused);
  total->formerr += get(c.formerr);
  total->dropped += get(c.dropped);
  total->cname_blocked += get(c.cname_blocked);
  if (total->zones.size() < c.zone_slots) total->zones.resize(c.zone_slots);
  for (std::size_t i = 0; i < c.zone_slots; ++i) {
    total->zones[i].queries += get(c.zone_queries[i]);
    total->zones[i].blocked += get(c.zone_blocked[i]);
  }
  for (std::size_t i = 0; i < Counters::kClasses; ++i) {
    std::uint64_t n = get(c.blocked_by_class[i]);
    if (n == 0) continue;
    if (total->blocked_by_class.size() <= i) total->blocked_by_class.resize(i + 1);
    total->blocked_by_class[i] += n;
  }
  total->cache_entries += get(c.cache_entries);
  total->cache_bytes += get(c.cache_bytes);
  const Upstreams& ups = rep_->upstreams;
  std::int64_t now = NowMs();
  for (std::size_t i = 0; i < ups.size(); ++i) {
    if (total->upstreams.size() <= i) {
      total->upstreams.resize(i + 1);
      total->upstreams[i].healthy = false;  // until a worker finds it healthy
    }
    DnsCounters::Upstream& u = total->upstreams[i];
    Upstreams::Figures f = ups.figures(i, now);
    if (u.address.empty()) u.address = f.address;
    u.healthy = u.healthy || f.healthy;
    u.queries += f.queries;
    u.failures += f.failures;
    if (f.answers > 0) {  // a running mean weighted by answers; workers without answers know nothing
      u.srtt_ms = (u.srtt_ms * static_cast<double>(u.answers) + f.srtt_ms * static_cast<double>(f.answers)) /
                  static_cast<double>(u.answers + f.answers);
    }
    u.answers += f.answers;
  }
}

std::shared_ptr<const WorkerTops> Worker::Tops() const { return rep_->tops.Current(); }

}  // namespace saring::dns
