// saringd as a DNS server, end to end: the real saringd on loopback, Debian's
// unbound as its upstream (serving a small local zone, started here), queried
// with dig and kdig, and with raw packets where a real client would not send
// them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "saring/reference.h"
#include "testing/process.h"
#include "testing/subprocess.h"
#include "testing/dns_packet.h"
#include "testing/temp_dir.h"
#include "testing/unbound.h"

namespace saring {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::FreePort;
using testing::RunProgram;

// One dig answer, as the tests look at it.
struct Dig {
  std::string status;  // NOERROR, NXDOMAIN, ...
  std::vector<std::string> answers;  // "name ttl IN type data", whitespace folded
  std::vector<std::string> authority;
  std::string ede;  // "15 (Blocked): (blocked by feed (gambling))"
  std::string flags;
  bool ok = false;
  std::string raw;
};

Dig ParseDig(const std::string& out) {
  Dig d;
  d.raw = out;
  std::smatch m;
  if (std::regex_search(out, m, std::regex("status: ([A-Z]+)"))) d.status = m[1], d.ok = true;
  if (std::regex_search(out, m, std::regex("flags: ([a-z ]+);"))) d.flags = m[1];
  if (std::regex_search(out, m, std::regex("EDE: ([^\\n]+)"))) d.ede = m[1];
  std::istringstream in(out);
  std::vector<std::string>* section = nullptr;
  for (std::string line; std::getline(in, line);) {
    if (line.find("ANSWER SECTION") != std::string::npos) section = &d.answers;
    else if (line.find("AUTHORITY SECTION") != std::string::npos) section = &d.authority;
    else if (line.empty() || line[0] == ';') {
      if (line.empty()) section = nullptr;
    } else if (section) {
      section->push_back(std::regex_replace(line, std::regex("\\s+"), " "));
    }
  }
  return d;
}

// A raw UDP exchange: sends `packet`, returns the answer or "" after `wait`.
std::string RawUdp(int port, const std::string& packet, std::chrono::milliseconds wait = 1000ms) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  std::string answer;
  if (poll(&p, 1, static_cast<int>(wait.count())) == 1) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) answer.assign(buf, n);
  }
  close(fd);
  return answer;
}

using testing::DnsHeader;
using testing::WireName;

std::string Question(const std::string& name, std::uint16_t type = 1) {
  return WireName(name) + std::string{static_cast<char>(type >> 8), static_cast<char>(type), 0, 1};
}

int Rcode(const std::string& answer) { return answer.size() >= 4 ? answer[3] & 0x0f : -1; }

class DnsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    upstream_port_ = FreePort();
    unbound_ = new ChildProcess;
    testing::StartUnbound(dir_->Sub("unbound"), upstream_port_, SuiteZone(), unbound_);
    WriteRules(dir_->Sub("rules"));
    port_ = FreePort();
    saringd_ = new ChildProcess;
    StartSaringd("main", port_, upstream_port_, "", saringd_);
  }

  static void TearDownTestSuite() {
    delete saringd_;
    delete unbound_;
    delete dir_;
  }


  // The suite's upstream zone.
  static std::string SuiteZone() {
    std::string big_txt;
    for (int i = 0; i < 30; ++i) {
      big_txt += "  local-data: 'big.example.test. 300 IN TXT \"" + std::string(60, 'a' + i % 26) +
                 std::to_string(i) + "\"'\n";
    }
    return "  local-zone: \"example.test.\" static\n"
           "  local-data: \"www.example.test. 300 IN A 192.0.2.10\"\n"
           "  local-data: \"example.test. 300 IN A 192.0.2.1\"\n"
           "  local-data: \"alias.example.test. 300 IN CNAME www.slot88.com.\"\n"
           "  local-data: \"safe-alias.example.test. 300 IN CNAME www.example.test.\"\n"
           "  local-data: \"ok.example.test. 300 IN A 192.0.2.20\"\n" +
           big_txt +
           "  local-zone: \"slot88.com.\" static\n"
           "  local-data: \"www.slot88.com. 300 IN A 192.0.2.88\"\n"
           "  local-data: \"allowed.slot88.com. 300 IN A 192.0.2.89\"\n";
  }

  static void WriteRules(const std::string& dir) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/manifest.toml")
        << "[[source]]\nname = \"feed\"\nfile = \"feed.txt\"\n"
           "[[source]]\nname = \"ops\"\nfile = \"allow.txt\"\naction = \"allow\"\ncategory = \"critical\"\n"
           "[[source]]\nname = \"pats\"\nfile = \"patterns.txt\"\nformat = \"patterns\"\n"
           "[[source]]\nname = \"doh\"\nfile = \"doh.txt\"\ncategory = \"doh\"\n";
    std::ofstream(dir + "/feed.txt") << "slot88.com\njudi.example.test\n";
    std::ofstream(dir + "/allow.txt") << "allowed.slot88.com\n";
    std::ofstream(dir + "/patterns.txt") << "gacor\n";
    std::ofstream(dir + "/doh.txt") << "dns.example.test\n";
  }

  // Starts saringd with its own store `name` under the suite's folder: its
  // config is [server] (db, rules, then `server_lines`), then `rest`; `args`
  // are added to the command line.
  static void StartSaringdWith(const std::string& name, const std::string& server_lines,
                               const std::string& rest, std::vector<std::string> args,
                               ChildProcess* process) {
    std::string base = dir_->Sub(name);
    std::filesystem::create_directories(base);
    std::ofstream(base + "/saringd.toml") << "[server]\ndb = \"" << base << "/db\"\nrules = \""
                                          << dir_->Sub("rules") << "\"\n" << server_lines << rest;
    // The admin API is tested elsewhere; here several saringd run at once.
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringd", "--config", base + "/saringd.toml",
                               "--admin-listen", "off", "--proxy-listen", "off"});
    ASSERT_TRUE(process->Start(args, base + "/log"));
    ASSERT_TRUE(process->WaitForLog("ready", 20s)) << process->Log();
  }

  // The usual shape: one upstream, short timeouts, `extra` config after them.
  static void StartSaringd(const std::string& name, int port, int upstream, const std::string& extra,
                           ChildProcess* process, int workers = 2) {
    StartSaringdWith(name, "workers = " + std::to_string(workers) + "\n",
                     "[upstream]\ntimeout_ms = 400\nquery_timeout_ms = 1200\n" + extra,
                     {"--dns-listen", "127.0.0.1:" + std::to_string(port), "--upstream",
                      "127.0.0.1:" + std::to_string(upstream)},
                     process);
  }

  static Dig Query(int port, const std::string& name, const std::string& type = "A",
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"/usr/bin/dig", "@127.0.0.1", "-p", std::to_string(port),
                                     name, type, "+tries=1", "+time=3"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return ParseDig(RunProgram(argv, "", scratch()).out);
  }
  Dig Query(const std::string& name, const std::string& type = "A", std::vector<std::string> extra = {}) {
    return Query(port_, name, type, std::move(extra));
  }

  static std::string scratch() {
    static testing::TempDir dir;
    return dir.path();
  }

  static testing::TempDir* dir_;
  static ChildProcess* unbound_;
  static ChildProcess* saringd_;
  static int port_, upstream_port_;
};

testing::TempDir* DnsTest::dir_ = nullptr;
ChildProcess* DnsTest::unbound_ = nullptr;
ChildProcess* DnsTest::saringd_ = nullptr;
int DnsTest::port_ = 0;
int DnsTest::upstream_port_ = 0;

TEST_F(DnsTest, AllowedNamesResolveThroughTheUpstream) {
  Dig d = Query("www.example.test");
  ASSERT_EQ(d.status, "NOERROR") << d.raw;
  ASSERT_EQ(d.answers.size(), 1u) << d.raw;
  EXPECT_NE(d.answers[0].find("192.0.2.10"), std::string::npos);
  // The second time comes from the cache, with the TTL counting down.
  Dig again = Query("www.example.test");
  ASSERT_EQ(again.answers.size(), 1u);
  EXPECT_NE(again.answers[0].find("192.0.2.10"), std::string::npos);
  // A CNAME that stays clean is passed on (unbound's local data does not chase it).
  Dig chain = Query("safe-alias.example.test");
  EXPECT_EQ(chain.status, "NOERROR");
  ASSERT_FALSE(chain.answers.empty()) << chain.raw;
  EXPECT_NE(chain.answers[0].find("CNAME www.example.test."), std::string::npos) << chain.raw;
}

TEST_F(DnsTest, BlockedNamesAndSubdomainsGetNxdomainWithEde) {
  for (const char* name : {"slot88.com", "www.slot88.com", "a.b.c.slot88.com", "judi.example.test"}) {
    Dig d = Query(name);
    EXPECT_EQ(d.status, "NXDOMAIN") << name << d.raw;
    EXPECT_TRUE(d.ede.starts_with("15 (Blocked)")) << name << d.raw;
    EXPECT_NE(d.ede.find("feed"), std::string::npos) << d.ede;
    // The reference code an admin looks up, as a block page shows it.
    std::smatch code;
    ASSERT_TRUE(std::regex_search(d.ede, code, std::regex("ref (SRG-[0-9A-Z-]+)"))) << d.ede;
    std::uint64_t serial = 0;
    std::uint16_t class_id = 0;
    RuleKind kind = RuleKind::kUrl;
    EXPECT_TRUE(DecodeReference(code[1].str(), &serial, &class_id, &kind)) << code[1];
    EXPECT_GT(serial, 0u);
    if (std::string_view(name).ends_with("slot88.com")) EXPECT_EQ(kind, RuleKind::kDomain);
    ASSERT_EQ(d.authority.size(), 1u) << d.raw;
    EXPECT_NE(d.authority[0].find("SOA"), std::string::npos);
  }
  // The SOA is the blocked domain's, so resolvers cache the block for all of it.
  EXPECT_TRUE(Query("www.slot88.com").authority[0].starts_with("slot88.com. "));
  // Pattern rules too; the letter case of the question is kept (0x20).
  Dig p = Query("WWW.SlotGacor-88.xyz");
  EXPECT_EQ(p.status, "NXDOMAIN");
  EXPECT_NE(p.ede.find("pats"), std::string::npos);
  EXPECT_NE(p.raw.find("WWW.SlotGacor-88.xyz."), std::string::npos) << p.raw;
  // No EDNS from the client: no OPT, still NXDOMAIN.
  Dig plain = Query("slot88.com", "A", {"+noedns"});
  EXPECT_EQ(plain.status, "NXDOMAIN");
  EXPECT_EQ(plain.ede, "");
}

TEST_F(DnsTest, AllowRulesWin) {
  Dig d = Query("allowed.slot88.com");
  EXPECT_EQ(d.status, "NOERROR") << d.raw;
  ASSERT_EQ(d.answers.size(), 1u) << d.raw;
  EXPECT_NE(d.answers[0].find("192.0.2.89"), std::string::npos);
}

TEST_F(DnsTest, CnameIntoABlockedDomainIsBlocked) {
  Dig d = Query("alias.example.test");
  EXPECT_EQ(d.status, "NXDOMAIN") << d.raw;
  EXPECT_NE(d.ede.find("feed"), std::string::npos) << d.raw;
  EXPECT_TRUE(d.answers.empty());
}

TEST_F(DnsTest, DohCanaryIsNxdomain) {
  EXPECT_EQ(Query("use-application-dns.net").status, "NXDOMAIN");
  Dig doh = Query("dns.example.test");
  EXPECT_EQ(doh.status, "NXDOMAIN");
  EXPECT_NE(doh.ede.find("doh"), std::string::npos);
}

TEST_F(DnsTest, TcpWorksAndPipelinedQueriesAllGetAnswers) {
  Dig d = Query("www.example.test", "A", {"+tcp"});
  EXPECT_EQ(d.status, "NOERROR");
  EXPECT_EQ(d.answers.size(), 1u);
  // kdig over one kept-open connection.
  auto k = RunProgram({"/usr/bin/kdig", "@127.0.0.1", "-p", std::to_string(port_), "+tcp",
                       "+keepopen", "+short", "www.example.test", "ok.example.test", "example.test"},
                      "", scratch());
  EXPECT_NE(k.out.find("192.0.2.10"), std::string::npos) << k.out << k.err;
  EXPECT_NE(k.out.find("192.0.2.20"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("192.0.2.1\n"), std::string::npos) << k.out;

  // Real pipelining: three queries written at once, answers read after.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port_);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  std::string out;
  const char* names[] = {"www.example.test", "slot88.com", "ok.example.test"};
  for (int i = 0; i < 3; ++i) {
    std::string q = DnsHeader(static_cast<std::uint16_t>(100 + i), 0x0100, 1, 0, 0, 0) + Question(names[i]);
    out.push_back(static_cast<char>(q.size() >> 8));
    out.push_back(static_cast<char>(q.size()));
    out += q;
  }
  ASSERT_EQ(write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
  std::map<int, int> rcode_by_id;
  std::string in;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rcode_by_id.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) != 1) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    in.append(buf, n);
    while (in.size() >= 2) {
      std::size_t len = (static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1]);
      if (in.size() < len + 2) break;
      std::string msg = in.substr(2, len);
      in.erase(0, len + 2);
      rcode_by_id[(static_cast<unsigned char>(msg[0]) << 8) | static_cast<unsigned char>(msg[1])] = Rcode(msg);
    }
  }
  close(fd);
  ASSERT_EQ(rcode_by_id.size(), 3u);
  EXPECT_EQ(rcode_by_id[100], 0);
  EXPECT_EQ(rcode_by_id[101], 3);
  EXPECT_EQ(rcode_by_id[102], 0);
}

TEST_F(DnsTest, LargeAnswersAreTruncatedOverUdpAndWholeOverTcp) {
  Dig udp = Query("big.example.test", "TXT", {"+noedns", "+ignore"});
  EXPECT_NE(udp.flags.find("tc"), std::string::npos) << udp.raw;
  Dig tcp = Query("big.example.test", "TXT", {"+tcp"});
  EXPECT_EQ(tcp.status, "NOERROR");
  EXPECT_EQ(tcp.answers.size(), 30u) << tcp.raw;
  // dig's own retry over TCP after TC.
  Dig retried = Query("big.example.test", "TXT", {"+noedns"});
  EXPECT_EQ(retried.answers.size(), 30u) << retried.raw;
}

TEST_F(DnsTest, MalformedAndHostilePacketsGetFormerrOrNothing) {
  std::string good = DnsHeader(7, 0x0100, 1, 0, 0, 0) + Question("www.example.test");
  struct Case {
    std::string name;
    std::string packet;
    int rcode;  // -1: no answer expected
  } cases[] = {
      {"empty", "", -1},
      {"short header", good.substr(0, 5), -1},
      {"a response", DnsHeader(7, 0x8100, 1, 0, 0, 0) + Question("x.test"), -1},
      {"question cut short", good.substr(0, good.size() - 3), 1},
      {"two questions", DnsHeader(7, 0x0100, 2, 0, 0, 0) + Question("a.test") + Question("b.test"), 1},
      {"no question", DnsHeader(7, 0x0100, 0, 0, 0, 0), 1},
      {"compression loop", DnsHeader(7, 0x0100, 1, 0, 0, 0) + std::string("\xc0\x0c\x00\x01\x00\x01", 6), 1},
      {"label too long", DnsHeader(7, 0x0100, 1, 0, 0, 0) + std::string(1, 64) + std::string(64, 'a') +
                             std::string("\0\0\1\0\1", 5), 1},
      {"opcode status", DnsHeader(7, 0x1100, 1, 0, 0, 0) + Question("a.test"), 4},
      {"huge EDNS size", DnsHeader(7, 0x0100, 1, 0, 0, 1) + Question("www.example.test") +
                             std::string("\0\0\x29\xff\xff\0\0\0\0\0\0", 11), 0},
      {"EDNS version 1", DnsHeader(7, 0x0100, 1, 0, 0, 1) + Question("www.example.test") +
                             std::string("\0\0\x29\x04\xd0\0\x01\0\0\0\0", 11), 0},
      {"garbage after", good + "garbage", 1},
  };
  for (const Case& c : cases) {
    std::string answer = RawUdp(port_, c.packet, c.rcode < 0 ? 300ms : 2000ms);
    if (c.rcode < 0) {
      EXPECT_TRUE(answer.empty()) << c.name;
    } else {
      ASSERT_GE(answer.size(), 12u) << c.name;
      EXPECT_EQ(answer[0], 0) << c.name;
      EXPECT_EQ(answer[1], 7) << c.name;  // the ID is echoed
      EXPECT_EQ(Rcode(answer), c.rcode) << c.name;
    }
  }
  // 2,000 random packets, then the server still answers properly.
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 80, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    if (rng() % 2) junk = good.substr(0, rng() % good.size()) + junk;
    RawUdp(port_, junk, 0ms);
  }
  EXPECT_TRUE(saringd_->Running());
  EXPECT_EQ(Query("www.example.test").status, "NOERROR");
}

TEST_F(DnsTest, UpstreamDownGivesServfailWithinTheTimeout) {
  ChildProcess down;
  int port = FreePort();
  StartSaringd("down", port, FreePort(), "", &down);
  auto start = std::chrono::steady_clock::now();
  Dig d = Query(port, "www.example.test");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(d.status, "SERVFAIL") << d.raw;
  EXPECT_TRUE(d.ede.starts_with("23")) << d.raw;
  EXPECT_LT(seconds, 2.9);  // query_timeout_ms = 1200 (dig would give up at 3 s)
  // Blocked names need no upstream.
  EXPECT_EQ(Query(port, "slot88.com").status, "NXDOMAIN");
}

TEST_F(DnsTest, ClientsOutsideTheAllowedSubnetsAreRefused) {
  ChildProcess strict;
  int port = FreePort();
  StartSaringdWith("strict", "allow_clients = [\"10.0.0.0/8\"]\n", "",
                   {"--dns-listen", "127.0.0.1:" + std::to_string(port), "--upstream",
                    "127.0.0.1:" + std::to_string(upstream_port_)},
                   &strict);
  Dig d = Query(port, "www.example.test");
  EXPECT_EQ(d.status, "REFUSED") << d.raw;
  EXPECT_TRUE(d.answers.empty());
  EXPECT_EQ(Query(port, "slot88.com").status, "REFUSED");  // not even the block answer
}

TEST_F(DnsTest, SinkholeAndCnameModesPerCategory) {
  ChildProcess modes;
  int port = FreePort();
  StartSaringd("modes", port, upstream_port_,
               "[[blocking.override]]\ncategory = \"gambling\"\nmode = \"sinkhole\"\nsinkhole_ipv4 = \"192.0.2.250\"\n"
               "sinkhole_ipv6 = \"2001:db8::250\"\n"
               "[[blocking.override]]\ncategory = \"doh\"\nmode = \"cname\"\n"
               "cname_target = \"blocked.city.example\"\n",
               &modes);
  Dig a = Query(port, "www.slot88.com");
  EXPECT_EQ(a.status, "NOERROR");
  ASSERT_EQ(a.answers.size(), 1u) << a.raw;
  EXPECT_NE(a.answers[0].find("192.0.2.250"), std::string::npos);
  EXPECT_TRUE(a.ede.starts_with("15")) << a.raw;
  Dig aaaa = Query(port, "www.slot88.com", "AAAA");
  ASSERT_EQ(aaaa.answers.size(), 1u) << aaaa.raw;
  EXPECT_NE(aaaa.answers[0].find("2001:db8::250"), std::string::npos);
  Dig mx = Query(port, "www.slot88.com", "MX");  // no address to give: NODATA
  EXPECT_EQ(mx.status, "NOERROR");
  EXPECT_TRUE(mx.answers.empty());
  Dig doh = Query(port, "dns.example.test");
  ASSERT_EQ(doh.answers.size(), 1u) << doh.raw;
  EXPECT_NE(doh.answers[0].find("CNAME blocked.city.example."), std::string::npos) << doh.raw;
}

TEST_F(DnsTest, StopsCleanlyOnSigterm) {
  ChildProcess p;
  int port = FreePort();
  StartSaringd("stop", port, upstream_port_, "", &p);
  EXPECT_EQ(Query(port, "www.example.test").status, "NOERROR");
  EXPECT_EQ(p.Stop(), 0) << p.Log();
  EXPECT_NE(p.Log().find("stopped"), std::string::npos);
}

// saringctl while saringd runs: the commands go over the control socket and
// take effect without a restart.
TEST_F(DnsTest, RuleChangesThroughTheControlSocketTakeEffectAtOnce) {
  std::string db = dir_->Sub("main") + "/db";
  struct stat st{};
  ASSERT_EQ(stat((db + "/control.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto ctl = [&](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringctl", "--db", db});
    return RunProgram(args, input, scratch());
  };
  EXPECT_EQ(Query("ok.example.test").status, "NOERROR");
  auto r = ctl({"rules", "add", "--source", "city", "--by", "tester", "ok.example.test"});
  ASSERT_EQ(r.status, 0) << r.err;
  Dig blocked = Query("www.ok.example.test");
  EXPECT_EQ(blocked.status, "NXDOMAIN");
  EXPECT_NE(blocked.ede.find("city"), std::string::npos);
  r = ctl({"check", "--json", "ok.example.test"});
  EXPECT_NE(r.out.find("\"by\":\"tester\""), std::string::npos) << r.out << r.err;
  r = ctl({"import", "--source", "city2", "-"}, "www.example.test\n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Query("www.example.test").status, "NXDOMAIN");  // cached before; the rule wins
  ASSERT_EQ(ctl({"import", "--source", "city2", "--force", "-"}, "other.example.test\n").status, 0);
  ASSERT_EQ(ctl({"rules", "remove", "--source", "city", "ok.example.test"}).status, 0);
  EXPECT_EQ(Query("ok.example.test").status, "NOERROR");
  EXPECT_EQ(Query("www.example.test").status, "NOERROR");
  r = ctl({"init"});
  EXPECT_EQ(r.status, 1);  // the store exists: saringd has it
  EXPECT_NE(saringd_->Log().find("control: --by"), std::string::npos);
}

// dnsperf against saringd while a 1M-name list is imported and single rules
// are added: no query may be lost, and the new verdicts are seen.
TEST_F(DnsTest, NoQueryIsLostWhileALargeListIsReimported) {
  std::string db = dir_->Sub("main") + "/db";
  std::string list = dir_->Sub("million.txt"), queries = dir_->Sub("queries.txt");
  {
    std::ofstream l(list), q(queries);
    for (int i = 0; i < 1000000; ++i) l << "judi" << i << "-perf.xyz\n";
    for (int i = 0; i < 2000; ++i) {
      q << "www.example.test A\n" << "judi" << i * 7 << "-perf.xyz A\nslot88.com A\nok.example.test A\n";
    }
  }
  ChildProcess perf;
  ASSERT_TRUE(perf.Start({"/usr/bin/dnsperf", "-s", "127.0.0.1", "-p", std::to_string(port_), "-d",
                          queries, "-l", "12", "-Q", "3000", "-c", "4", "-t", "2"},
                         dir_->Sub("dnsperf.log")));
  std::this_thread::sleep_for(1s);
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringctl", "--db", db});
    return RunProgram(args, "", scratch());
  };
  for (int round = 0; round < 2; ++round) {  // the second import replaces the set with itself
    auto r = ctl({"import", "--source", "perf", list});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(Query("judi999999-perf.xyz").status, "NXDOMAIN");
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(ctl({"rules", "add", "--source", "city", "live" + std::to_string(i) + ".example.test"}).status, 0);
    EXPECT_EQ(Query("live" + std::to_string(i) + ".example.test").status, "NXDOMAIN") << i;
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (perf.Running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  std::string log = perf.Log();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("Queries sent:\\s+(\\d+)"))) << log;
  EXPECT_GT(std::stoi(m[1]), 10000) << log;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("Queries lost:\\s+(\\d+)"))) << log;
  EXPECT_EQ(m[1], "0") << log;
  EXPECT_EQ(log.find("SERVFAIL"), std::string::npos) << log;  // and none failed
  ctl({"import", "--source", "perf", "--force", "-"});  // leave the suite's store small
}

TEST_F(DnsTest, StaleAnswersWhenTheUpstreamIsGone) {
  ChildProcess upstream;
  int up_port = FreePort();
  testing::StartUnbound(dir_->Sub("stale-unbound"), up_port,
               "  local-zone: \"short.test.\" static\n"
               "  local-data: \"www.short.test. 1 IN A 192.0.2.77\"\n",
               &upstream);
  ChildProcess server;
  int port = FreePort();
  // One worker: each worker keeps its own cache, and this test needs the
  // second query to reach the cache the first one filled.
  StartSaringd("stale", port, up_port, "", &server, /*workers=*/1);
  ASSERT_EQ(Query(port, "www.short.test").status, "NOERROR");
  upstream.Stop();
  std::this_thread::sleep_for(2100ms);  // the 1 s TTL has run out
  Dig d = Query(port, "www.short.test");
  EXPECT_EQ(d.status, "NOERROR") << d.raw;
  ASSERT_EQ(d.answers.size(), 1u) << d.raw;
  EXPECT_NE(d.answers[0].find(" 30 IN A 192.0.2.77"), std::string::npos) << d.answers[0];
  EXPECT_TRUE(d.ede.starts_with("3 (Stale Answer)")) << d.raw;
  // A name never seen before has nothing stale to give.
  EXPECT_EQ(Query(port, "other.short.test").status, "SERVFAIL");
}

TEST_F(DnsTest, SighupReloadsTheBlockingAnswerAndABadFileIsRefused) {
  ChildProcess p;
  int port = FreePort();
  StartSaringd("reload", port, upstream_port_, "", &p);
  EXPECT_EQ(Query(port, "slot88.com").status, "NXDOMAIN");
  std::string config = dir_->Sub("reload") + "/saringd.toml";
  std::string text;
  {
    std::ifstream in(config);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(config) << text << "[blocking]\nmode = \"sinkhole\"\nsinkhole_ipv4 = \"192.0.2.99\"\n";
  p.Signal(SIGHUP);
  ASSERT_TRUE(p.WaitForLog("configuration reloaded", 5s)) << p.Log();
  Dig d = Query(port, "slot88.com");
  ASSERT_EQ(d.answers.size(), 1u) << d.raw;
  EXPECT_NE(d.answers[0].find("192.0.2.99"), std::string::npos);

  std::ofstream(config) << text << "[blocking]\nmode = \"bogus\"\n";
  p.Signal(SIGHUP);
  ASSERT_TRUE(p.WaitForLog("reload refused", 5s)) << p.Log();
  EXPECT_NE(Query(port, "slot88.com").raw.find("192.0.2.99"), std::string::npos);  // unchanged
  EXPECT_TRUE(p.Running());
}

TEST_F(DnsTest, ServesIpv6AndCountsPerZone) {
  ChildProcess p;
  int port = FreePort();
  std::string base = dir_->Sub("v6");
  StartSaringdWith("v6",
                   "dns_listen = [\"127.0.0.1:" + std::to_string(port) + "\", \"[::1]:" +
                       std::to_string(port) + "\"]\n",
                   "[upstream]\nservers = [\"127.0.0.1:" + std::to_string(upstream_port_) + "\"]\n"
                   "[[zone]]\nname = \"loopback-v4\"\nsubnets = [\"127.0.0.0/8\"]\n"
                   "[log]\nquery_log = true\n",
                   {}, &p);
  auto v6 = RunProgram({"/usr/bin/dig", "@::1", "-p", std::to_string(port), "slot88.com", "+tries=1",
                        "+time=3"},
                       "", scratch());
  EXPECT_EQ(ParseDig(v6.out).status, "NXDOMAIN") << v6.out << v6.err;
  EXPECT_EQ(Query(port, "www.example.test").status, "NOERROR");
  EXPECT_EQ(Query(port, "www.slot88.com").status, "NXDOMAIN");
  auto stats = RunProgram({std::string(SARING_BIN_DIR) + "/saringctl", "--db", base + "/db", "stats", "--json"},
                          "", scratch());
  ASSERT_EQ(stats.status, 0) << stats.err;
  nlohmann::json j = nlohmann::json::parse(stats.out);
  EXPECT_EQ(j["dns"]["queries"], 3);
  EXPECT_EQ(j["dns"]["blocked"], 2);
  ASSERT_EQ(j["dns"]["zones"].size(), 2u);
  EXPECT_EQ(j["dns"]["zones"][0]["name"], "loopback-v4");
  EXPECT_EQ(j["dns"]["zones"][0]["queries"], 2);
  EXPECT_EQ(j["dns"]["zones"][1]["name"], "other");
  EXPECT_EQ(j["dns"]["zones"][1]["blocked"], 1);  // ::1
  ASSERT_EQ(j["dns"]["blocked_by_source"].size(), 1u) << stats.out;
  EXPECT_EQ(j["dns"]["blocked_by_source"][0]["source"], "feed");
  EXPECT_EQ(j["dns"]["blocked_by_source"][0]["category"], "gambling");
  EXPECT_EQ(j["dns"]["blocked_by_source"][0]["blocked"], 2);
  // The query log names clients only because it was switched on here.
  EXPECT_NE(p.Log().find("query ::1 slot88.com"), std::string::npos) << p.Log();
  EXPECT_NE(p.Log().find("query 127.0.0.1 www.slot88.com type 1 block slot88.com feed gambling"),
            std::string::npos) << p.Log();
}

TEST_F(DnsTest, FailsOverFromADeadUpstream) {
  ChildProcess p;
  int port = FreePort();
  StartSaringdWith("failover", "workers = 1\n",
                   "[upstream]\nservers = [\"127.0.0.1:" + std::to_string(FreePort()) +
                       "\", \"127.0.0.1:" + std::to_string(upstream_port_) +
                       "\"]\ntimeout_ms = 300\nquery_timeout_ms = 2000\n",
                   {"--dns-listen", "127.0.0.1:" + std::to_string(port)}, &p);
  // Whichever upstream a query tries first, it is answered; after a few
  // timeouts the dead one is set aside and answers come at once.
  for (const char* name : {"www.example.test", "ok.example.test", "example.test", "allowed.slot88.com"}) {
    EXPECT_EQ(Query(port, name).status, "NOERROR") << name;
  }
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Query(port, "n" + std::to_string(i) + ".example.test").status, "NXDOMAIN");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST_F(DnsTest, ABadConfigurationStopsTheStartWithAClearMessage) {
  std::string path = dir_->Sub("bad.toml");
  std::ofstream(path) << "[server]\ndns_listn = [\"127.0.0.1:53\"]\n";
  auto r = RunProgram({std::string(SARING_BIN_DIR) + "/saringd", "--config", path}, "", scratch());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE((r.out + r.err).find("unknown setting 'dns_listn' in [server]"), std::string::npos)
      << r.out << r.err;
  r = RunProgram({std::string(SARING_BIN_DIR) + "/saringd", "--dns-listen", "nowhere:53"}, "", scratch());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE((r.out + r.err).find("--dns-listen"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace saring
