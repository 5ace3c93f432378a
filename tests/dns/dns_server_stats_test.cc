// DnsServer::counters() end to end, in process: a real engine (temporary
// store), one DNS worker on loopback, a scripted upstream that answers and
// one that never does. Checks the aggregate statistics: top blocked names
// and rules, per-upstream figures, cache size.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "saring/dns_server.h"
#include "saring/engine.h"
#include "testing/dns_packet.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace saring {
namespace {

using namespace std::chrono_literals;

using testing::DnsHeader;

std::string Question(const std::string& dotted) {
  return testing::WireName(dotted) + std::string{0, 1, 0, 1};  // A, IN
}

int UdpSocket(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (port != 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Asks `name` (type A) at 127.0.0.1:port; returns the rcode, or -1 without an answer.
int Ask(int port, const std::string& name, std::uint16_t id) {
  int fd = UdpSocket(0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string q = DnsHeader(id, 0x0100, 1, 0) + Question(name);
  sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  int rcode = -1;
  if (poll(&p, 1, 4000) == 1) {
    unsigned char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n >= 12 && ((buf[0] << 8) | buf[1]) == id) rcode = buf[3] & 0x0f;
  }
  close(fd);
  return rcode;
}

// Answers every query with one A record (TTL 60), on its own thread.
class Upstream {
 public:
  explicit Upstream(int port) : fd_(UdpSocket(port)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~Upstream() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      unsigned char buf[4096];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) continue;
      std::string in(reinterpret_cast<char*>(buf), n);
      std::size_t end = 12;  // the question: name, type, class
      while (end < in.size() && in[end] != 0) end += 1 + static_cast<unsigned char>(in[end]);
      end += 5;
      if (end > in.size()) continue;
      std::uint16_t id = static_cast<std::uint16_t>((buf[0] << 8) | buf[1]);
      std::string out = DnsHeader(id, 0x8180, 1, 1) + in.substr(12, end - 12);
      out += std::string{'\xc0', '\x0c', 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
      sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

const DnsCounters::TopEntry* Find(const std::vector<DnsCounters::TopEntry>& top,
                                  const std::string& value) {
  for (const auto& e : top) {
    if (e.value == value) return &e;
  }
  return nullptr;
}

TEST(DnsServerStatsTest, TopBlockedUpstreamsAndCache) {
  testing::TempDir dir;
  EngineOptions options;
  options.db_dir = dir.Sub("db");
  std::unique_ptr<Engine> engine;
  Status st = Engine::Open(options, &engine);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Rule domain;
  domain.value = "blocked.example";
  domain.source = "city";
  Rule pattern;
  pattern.kind = RuleKind::kPattern;
  pattern.value = "^ads[0-9]+\\.";
  pattern.source = "city";
  pattern.category = "ads";
  st = engine->AddRules({domain, pattern}, ChangeContext{});
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::uint16_t domain_class = engine->publisher().Current()->CheckName("blocked.example").class_id;
  std::uint16_t pattern_class = engine->publisher().Current()->CheckName("ads7.example").class_id;
  ASSERT_TRUE(engine->publisher().Current()->CheckName("ads7.example").blocked());

  int good_port = testing::FreePort();
  int dead_port = testing::FreePort();  // nothing listens: every attempt times out
  Upstream good(good_port);
  ASSERT_TRUE(good.ok());
  ServerConfig config;
  config.workers = 1;
  int port = testing::FreePort();
  config.dns_listen = {{"127.0.0.1", static_cast<std::uint16_t>(port)}};
  // The dead one first: with equal (prior) RTTs the first query tries it, times
  // out and goes on to the good one, which is picked from then on.
  config.upstreams = {{"127.0.0.1", static_cast<std::uint16_t>(dead_port)},
                      {"127.0.0.1", static_cast<std::uint16_t>(good_port)}};
  config.upstream_timeout_ms = 400;
  config.query_timeout_ms = 2500;
  ASSERT_TRUE(FinishServerConfig(&config).ok());
  std::unique_ptr<DnsServer> dns;
  st = DnsServer::Start(config, &engine->publisher(), &dns);
  ASSERT_TRUE(st.ok()) << st.ToString();

  std::uint16_t id = 1;
  EXPECT_EQ(Ask(port, "ok.example", id++), 0);  // forwarded (dead, then good), cached
  EXPECT_EQ(Ask(port, "ok.example", id++), 0);  // from the cache
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Ask(port, "blocked.example", id++), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Ask(port, "www.blocked.example", id++), 3);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Ask(port, "ads7.example", id++), 3);

  // Live figures: scalars and upstreams at once; the top tables within ~1 s.
  DnsCounters c = dns->counters();
  EXPECT_EQ(c.blocked, 10u);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((c.top_blocked_names.empty() || c.top_blocked_names[0].count < 5 || c.cache_entries == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    c = dns->counters();
  }
  ASSERT_EQ(c.top_blocked_names.size(), 3u);
  EXPECT_EQ(c.top_blocked_names[0].value, "blocked.example");
  EXPECT_EQ(c.top_blocked_names[0].count, 5u);
  EXPECT_EQ(c.top_blocked_names[0].class_id, domain_class);
  EXPECT_EQ(c.top_blocked_names[1].value, "www.blocked.example");
  EXPECT_EQ(c.top_blocked_names[1].count, 3u);
  EXPECT_EQ(c.top_blocked_names[2].value, "ads7.example");
  EXPECT_EQ(c.top_blocked_names[2].count, 2u);
  EXPECT_EQ(c.top_blocked_names[2].class_id, pattern_class);

  ASSERT_EQ(c.top_blocked_rules.size(), 2u);
  EXPECT_EQ(c.top_blocked_rules[0].value, "blocked.example");  // the matched suffix
  EXPECT_EQ(c.top_blocked_rules[0].count, 8u);
  EXPECT_EQ(c.top_blocked_rules[0].class_id, domain_class);
  EXPECT_EQ(c.top_blocked_rules[1].value, "^ads[0-9]+\\.");  // the pattern
  EXPECT_EQ(c.top_blocked_rules[1].count, 2u);
  EXPECT_EQ(c.top_blocked_rules[1].class_id, pattern_class);

  ASSERT_EQ(c.upstreams.size(), 2u);
  const DnsCounters::Upstream& dead = c.upstreams[0];
  const DnsCounters::Upstream& live = c.upstreams[1];
  EXPECT_EQ(dead.address, "127.0.0.1:" + std::to_string(dead_port));
  EXPECT_EQ(live.address, "127.0.0.1:" + std::to_string(good_port));
  EXPECT_EQ(dead.queries, 1u);
  EXPECT_EQ(dead.failures, 1u);
  EXPECT_EQ(dead.answers, 0u);
  EXPECT_EQ(dead.srtt_ms, 0.0);
  EXPECT_TRUE(dead.healthy);  // one timeout does not take it out (three in a row do)
  EXPECT_EQ(live.queries, 1u);
  EXPECT_EQ(live.answers, 1u);
  EXPECT_EQ(live.failures, 0u);
  EXPECT_TRUE(live.healthy);
  EXPECT_GT(live.srtt_ms, 0.0);
  EXPECT_LT(live.srtt_ms, 50.0);  // pulled down from the 50 ms prior by a loopback answer

  EXPECT_EQ(c.cache_hits, 1u);
  EXPECT_EQ(c.cache_entries, 1u);
  EXPECT_GT(c.cache_bytes, 0u);

  // After Stop the last blocks are published too.
  EXPECT_EQ(Ask(port, "ads8.example", id++), 3);
  dns->Stop();
  c = dns->counters();
  EXPECT_EQ(c.blocked, 11u);
  const DnsCounters::TopEntry* ads8 = Find(c.top_blocked_names, "ads8.example");
  ASSERT_NE(ads8, nullptr);
  EXPECT_EQ(ads8->count, 1u);
  ASSERT_NE(Find(c.top_blocked_rules, "^ads[0-9]+\\."), nullptr);
  EXPECT_EQ(Find(c.top_blocked_rules, "^ads[0-9]+\\.")->count, 3u);
}

// A worker that goes idle after a reload must not keep the snapshot it last
// used: during a reload that snapshot holds the whole old index, so an idle
// worker would double saringd's memory until its next query.
TEST(DnsServerStatsTest, IdleWorkerLetsGoOfAnOldSnapshot) {
  testing::TempDir dir;
  EngineOptions options;
  options.db_dir = dir.Sub("db");
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::Open(options, &engine).ok());
  Rule domain;
  domain.value = "blocked.example";
  domain.source = "city";
  ASSERT_TRUE(engine->AddRules({domain}, ChangeContext{}).ok());

  ServerConfig config;
  config.workers = 1;
  int port = testing::FreePort();
  config.dns_listen = {{"127.0.0.1", static_cast<std::uint16_t>(port)}};
  config.upstreams = {{"127.0.0.1", static_cast<std::uint16_t>(testing::FreePort())}};
  ASSERT_TRUE(FinishServerConfig(&config).ok());
  std::unique_ptr<DnsServer> dns;
  ASSERT_TRUE(DnsServer::Start(config, &engine->publisher(), &dns).ok());
  EXPECT_EQ(Ask(port, "blocked.example", 1), 3);  // the worker now holds this snapshot

  std::weak_ptr<const Snapshot> old = engine->publisher().Current();
  domain.value = "other.example";
  ASSERT_TRUE(engine->AddRules({domain}, ChangeContext{}).ok());  // publishes a new one
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!old.expired() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(old.expired()) << "the idle worker still holds the old snapshot";
  EXPECT_EQ(Ask(port, "other.example", 2), 3);
}

}  // namespace
}  // namespace saring
