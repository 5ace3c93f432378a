// The HTTP/HTTPS proxy end to end: the real saringd (started here, owned by
// PID) with Debian's unbound as its upstream serving a local zone (kota.test),
// scripted HTTP and HTTPS origins on loopback (tests/testing/http_origin.h),
// and real clients: curl, openssl s_client, headless Chromium
// (tests/testing/chromium.h), and raw TCP sockets for hostile input.
//
//   ExplicitProxyTest     one saringd for the suite: explicit proxy, block-page
//                         listener (DNS in sinkhole mode), access log, admin API
//                         (the block page's report form), header_timeout_s = 2.
//   ProxyAllowClientsTest a saringd whose proxy serves only 10.0.0.0/8.
//   TransparentProxyTest  saringd inside a gateway network namespace, curl in a
//                         client namespace, ports 80/443 redirected by nftables
//                         (tests/testing/netns.h); origins inside the gateway.
//
// Network only on loopback or in the namespaces the test creates. Every wait is
// bounded; programs run under a deadline and are killed by PID when it passes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "testing/chromium.h"
#include "testing/http_origin.h"
#include "testing/netns.h"
#include "testing/process.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/unbound.h"

namespace saring {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::FreePort;
using testing::HttpOrigin;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::NetnsTopology;
using testing::TempDir;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---------------------------------------------------------------------------
// Names. unbound answers every one of them with 127.0.0.1 (so only saringd's
// rules can keep a client off the blocked ones); the origins' certificate
// names the TLS ones.

constexpr char kWww[] = "www.kota.test";         // allowed, plain HTTP origin
constexpr char kSecure[] = "secure.kota.test";   // allowed, HTTPS origin
constexpr char kOther[] = "other.kota.test";     // allowed, in the cert too (SNI mismatch)
constexpr char kBlocked[] = "blocked.kota.test"; // a domain rule of source "trustpositif"
// A URL rule added while saringd runs: this path of www is blocked, the rest is not.
constexpr char kUrlRule[] = R"(^http://www\.kota\.test(:\d+)?/slot/)";

constexpr char kHtmlPage[] =
    "<!DOCTYPE html><html><head><title>Kota</title></head>"
    "<body><h1>Selamat datang di kota.test</h1><p id=\"msg\">origin page served through saring</p></body></html>";

const std::regex kReferenceCode("SRG-[0-9A-Z]{4}-[0-9A-Z]{4}(-[0-9A-Z]{1,4})*");

// ---------------------------------------------------------------------------
// Programs, with a deadline.

using Ran = testing::BoundedRun;
using testing::ReadWholeFile;
using testing::RunBounded;


bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return s;
}

bool IsPng(const std::string& path) {
  std::string data = ReadWholeFile(path);
  return data.size() > 100 && data.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

// ---------------------------------------------------------------------------
// curl.

struct CurlResult {
  int exit = -1;     // curl's exit status (0 = a response arrived; 35 = TLS handshake failed; 56 = recv/CONNECT failure)
  int code = 0;      // HTTP status (0 = none)
  std::string body;  // the response body (last response)
  std::string headers;  // the response heads as received (-D), names as sent
  std::string err;
  double seconds = 0;
  std::string Show() const {
    return "curl exit " + std::to_string(exit) + ", HTTP " + std::to_string(code) + " after " +
           std::to_string(seconds) + " s\n--- headers:\n" + headers + "--- body (first 2000 bytes):\n" +
           body.substr(0, 2000) + "\n--- stderr:\n" + err;
  }
  // Header `name` (any case) of the last response head; "" if absent.
  std::string Header(const std::string& name) const {
    std::string last_head = headers;
    std::size_t pos = last_head.rfind("HTTP/", last_head.size() > 5 ? last_head.size() - 5 : 0);
    if (pos != std::string::npos) last_head = last_head.substr(pos);
    std::istringstream in(last_head);
    std::string line, value;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      if (Lower(line.substr(0, colon)) == Lower(name)) {
        value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
      }
    }
    return value;
  }
};

// curl `args` (URL and options), output kept; `prefix` puts it into a
// namespace (NetnsTopology::InClient({})).
CurlResult Curl(std::vector<std::string> args, const std::string& scratch,
                const std::vector<std::string>& prefix = {}, std::chrono::seconds max_time = 30s) {
  static std::atomic<int> seq{0};
  std::string stem = scratch + "/curl" + std::to_string(++seq);
  std::vector<std::string> argv = prefix;
  for (const std::string& a :
       {std::string("/usr/bin/curl"), std::string("-sS"), std::string("--max-time"), std::to_string(max_time.count()),
        std::string("-o"), stem + ".body", std::string("-D"), stem + ".head", std::string("-w"),
        std::string("%{http_code}")}) {
    argv.push_back(a);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  Ran r = RunBounded(argv, scratch, max_time + 15s);
  CurlResult c;
  c.exit = r.status;
  c.code = std::atoi(r.out.c_str());
  c.body = ReadWholeFile(stem + ".body");
  c.headers = ReadWholeFile(stem + ".head");
  c.err = r.err;
  c.seconds = r.seconds;
  std::error_code ec;
  std::filesystem::remove(stem + ".body", ec);
  std::filesystem::remove(stem + ".head", ec);
  return c;
}

// ---------------------------------------------------------------------------
// Raw TCP: what no well-behaved client sends.

class RawClient {
 public:
  RawClient() = default;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { Close(); }

  // Connects to `address`:`port` from `from` (any 127/8 address), in the
  // calling thread's network namespace.
  bool Connect(const std::string& address, int port, const std::string& from = "") {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (!from.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, from.c_str(), &local.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() and send()
    return connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  // Sends everything; false when the peer has closed or reset (never SIGPIPE).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `done(received)` holds, the peer closes or resets (closed()),
  // or `timeout` passes. Returns true unless it timed out.
  bool ReadUntil(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!closed_ && !done(in_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      if (r <= 0) continue;
      char buf[16384];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        closed_ = true;
      } else if (errno != EINTR && errno != EAGAIN) {
        closed_ = true;
        reset_ = errno == ECONNRESET;
      }
    }
    return true;
  }
  // Reads until the peer closes (or `timeout`); true if it closed.
  bool ReadToClose(std::chrono::milliseconds timeout) {
    ReadUntil([](const std::string&) { return false; }, timeout);
    return closed_;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  const std::string& received() const { return in_; }
  void Consume(std::size_t n) { in_.erase(0, n); }
  bool closed() const { return closed_; }
  bool reset() const { return reset_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string in_;
  bool closed_ = false, reset_ = false;
};

struct RawResponse {
  int status = 0;  // 0: no complete head
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::size_t size = 0;  // head + body bytes of this response
};

// Parses the response at the start of `in`; complete when the head and a
// Content-Length body are in (a response without Content-Length: head only).
bool ParseRawResponse(const std::string& in, RawResponse* out) {
  std::size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos || !in.starts_with("HTTP/1.")) return false;
  RawResponse r;
  r.status = std::atoi(in.c_str() + 9);
  std::istringstream head(in.substr(0, end));
  std::string line;
  std::getline(head, line);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[Lower(line.substr(0, colon))] = value;
  }
  std::size_t want = 0;
  auto cl = r.headers.find("content-length");
  if (cl != r.headers.end()) want = std::stoul(cl->second);
  if (in.size() < end + 4 + want) return false;
  r.body = in.substr(end + 4, want);
  r.size = end + 4 + want;
  *out = std::move(r);
  return true;
}

bool HasResponse(const std::string& in) {
  RawResponse r;
  return ParseRawResponse(in, &r);
}

// ---------------------------------------------------------------------------
// TLS ClientHellos, built by hand (no handshake ever completes with them).

std::string U16(std::size_t v) { return {static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)}; }
std::string U24(std::size_t v) {
  return {static_cast<char>((v >> 16) & 0xFF), static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

// A well-formed TLS 1.2-style ClientHello in one record, with SNI `sni`
// ("" = no server_name extension).
std::string ClientHello(const std::string& sni) {
  std::string exts;
  if (!sni.empty()) {
    std::string entry = std::string(1, '\0') + U16(sni.size()) + sni;  // host_name
    std::string list = U16(entry.size()) + entry;
    exts += U16(0x0000) + U16(list.size()) + list;
  }
  // supported_groups (x25519, secp256r1), ec_point_formats, signature_algorithms
  exts += U16(0x000a) + U16(6) + U16(4) + U16(0x001d) + U16(0x0017);
  exts += U16(0x000b) + U16(2) + std::string{'\x01', '\x00'};
  exts += U16(0x000d) + U16(6) + U16(4) + U16(0x0403) + U16(0x0804);
  std::string body = U16(0x0303) + std::string(32, '\x5a') + std::string(1, '\0') + U16(4) + U16(0xc02f) +
                     U16(0xc02b) + std::string{'\x01', '\x00'} + U16(exts.size()) + exts;
  std::string hs = std::string(1, '\x01') + U24(body.size()) + body;
  return std::string{'\x16', '\x03', '\x01'} + U16(hs.size()) + hs;
}

// A fatal TLS alert record (level 2) as the proxy sends it; -1 if `in` does
// not start with one.
int AlertDescription(const std::string& in) {
  if (in.size() < 7 || in[0] != '\x15' || in[1] != '\x03' || in[3] != '\0' || in[4] != '\x02' || in[5] != '\x02') {
    return -1;
  }
  return static_cast<unsigned char>(in[6]);
}

std::string Hex(const std::string& s, std::size_t max = 64) {
  std::string out;
  char b[4];
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    std::snprintf(b, sizeof b, "%02x ", static_cast<unsigned char>(s[i]));
    out += b;
  }
  return out;
}

constexpr int kAlertHandshakeFailure = 40;
constexpr int kAlertAccessDenied = 49;

// ---------------------------------------------------------------------------
// Files every suite needs.

// A self-signed certificate (also the CA bundle clients trust) for the TLS
// names, localhost and 127.0.0.1.
::testing::AssertionResult MakeCert(const std::string& dir, std::string* cert, std::string* key) {
  *cert = dir + "/cert.pem";
  *key = dir + "/key.pem";
  Ran r = RunBounded({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", *key, "-out", *cert, "-days", "7", "-subj", "/CN=" + std::string(kSecure),
                      "-addext",
                      "subjectAltName=DNS:" + std::string(kSecure) + ",DNS:" + kOther + ",DNS:" + kWww +
                          ",DNS:localhost,IP:127.0.0.1"},
                     dir, 60s);
  if (r.status != 0) return ::testing::AssertionFailure() << "openssl req: " << r.Show();
  return ::testing::AssertionSuccess();
}

// The bundled rules of a new store: one "trustpositif" feed naming kBlocked.
void WriteRules(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/manifest.toml") << "[[source]]\nname = \"trustpositif\"\nfile = \"domains.txt\"\n"
                                           "format = \"plain\"\naction = \"block\"\ncategory = \"gambling\"\n";
  std::ofstream(dir + "/domains.txt") << kBlocked << "\n";
}

// Routes of both origins.
void RouteOrigin(HttpOrigin* o, const std::string& tag) {
  o->Route("/ok", HttpResponse::Ok("hello from " + tag + "\n"));
  o->Route("/page", HttpResponse::Ok(kHtmlPage, "text/html; charset=utf-8"));
  o->Route("/slot/gacor", HttpResponse::Ok("slot page of " + tag + "\n"));
  o->Route("/news/today", HttpResponse::Ok("news of " + tag + "\n"));
  o->RouteHandler("/upload", [](const HttpRequest& req) {
    return HttpResponse::Ok("received " + std::to_string(req.body.size()) + " bytes\n");
  });
}

// ---------------------------------------------------------------------------
// One saringd.

struct Saringd {
  std::string base, db, config, scratch;
  std::string access_log;  // where the config's [proxy] access_log must point: base + "/access.log"
  std::vector<std::string> prefix;  // e.g. NetnsTopology::InGateway({})
  ChildProcess process;

  void Configure(const std::string& dir, const std::string& toml) {
    base = dir;
    db = base + "/db";
    scratch = base + "/scratch";
    config = base + "/saringd.toml";
    access_log = base + "/access.log";
    std::filesystem::create_directories(scratch);
    std::ofstream(config) << toml;
  }

  ::testing::AssertionResult Start(std::chrono::seconds ready_within = 30s) {
    std::vector<std::string> argv = prefix;
    argv.push_back(std::string(SARING_BIN_DIR) + "/saringd");
    argv.push_back("--config");
    argv.push_back(config);
    if (!process.Start(argv, base + "/saringd.log")) return ::testing::AssertionFailure() << "cannot start saringd";
    if (!process.WaitForLog("saringd ready", ready_within)) {
      return ::testing::AssertionFailure() << "saringd not ready within " << ready_within.count() << " s:\n"
                                           << process.Log();
    }
    return ::testing::AssertionSuccess();
  }

  Ran Ctl(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringctl", "--db", db});
    return RunBounded(args, scratch, timeout);
  }

  // The "proxy" object of `saringctl stats --json` (through the control socket).
  json ProxyStats() {
    Ran r = Ctl({"stats", "--json"});
    EXPECT_EQ(r.status, 0) << r.Show();
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("proxy")) << r.Show();
    if (!j.is_object() || !j.contains("proxy")) return json::object();
    return j["proxy"];
  }

  // Lines of the access log once one holding every `needles` is in (bounded:
  // the log is flushed at least every second).
  std::vector<std::string> WaitForAccessLine(const std::vector<std::string>& needles,
                                             std::chrono::milliseconds timeout = 15s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      std::vector<std::string> lines;
      std::istringstream in(ReadWholeFile(access_log));
      std::string line;
      bool found = false;
      while (std::getline(in, line)) {
        bool all = true;
        for (const std::string& n : needles) all = all && Contains(line, n);
        found = found || all;
        lines.push_back(line);
      }
      if (found || Clock::now() > deadline) return found ? lines : std::vector<std::string>{};
      std::this_thread::sleep_for(100ms);
    }
  }
};

std::vector<std::string> Fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> f;
  std::string w;
  while (in >> w) f.push_back(w);
  return f;
}

// One Squid native line: 10 fields, each in its shape.
::testing::AssertionResult IsSquidLine(const std::string& line) {
  static const std::regex kTime(R"(\d{9,}\.\d{3})"), kNum(R"(\d+)"), kCode(R"([A-Z_]+/\d{3})"),
      kHier(R"(HIER_[A-Z_]+/\S+)");
  std::vector<std::string> f = Fields(line);
  if (f.size() != 10) return ::testing::AssertionFailure() << f.size() << " fields: " << line;
  if (!std::regex_match(f[0], kTime)) return ::testing::AssertionFailure() << "time: " << line;
  if (!std::regex_match(f[1], kNum)) return ::testing::AssertionFailure() << "elapsed: " << line;
  if (!std::regex_match(f[3], kCode)) return ::testing::AssertionFailure() << "code/status: " << line;
  if (!std::regex_match(f[4], kNum)) return ::testing::AssertionFailure() << "bytes: " << line;
  if (f[7] != "-") return ::testing::AssertionFailure() << "user: " << line;
  if (!std::regex_match(f[8], kHier)) return ::testing::AssertionFailure() << "hierarchy/peer: " << line;
  return ::testing::AssertionSuccess();
}

std::uint64_t Counter(const json& stats, const char* key) {
  return stats.is_object() && stats.contains(key) && stats[key].is_number_unsigned() ? stats[key].get<std::uint64_t>()
                                                                                      : 0;
}

// ===========================================================================
// The explicit proxy (and the block-page listener) on loopback.

class ExplicitProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    scratch_ = dir_->Sub("scratch");
    std::filesystem::create_directories(scratch_);
    unbound_ = new ChildProcess;
    saringd_ = new Saringd;
    web_ = new HttpOrigin;
    tls_ = new HttpOrigin;

    ASSERT_TRUE(MakeCert(dir_->path(), &cert_, &key_));
    ASSERT_TRUE(web_->Start().ok());
    HttpOrigin::Options tls_options;
    tls_options.cert_file = cert_;
    tls_options.key_file = key_;
    ASSERT_TRUE(tls_->Start(tls_options).ok());
    RouteOrigin(web_, "www");
    RouteOrigin(tls_, "secure");
    big_ = new std::string(RandomBytes(30u << 20, 7));
    web_->Route("/big", HttpResponse::Ok(*big_, "application/octet-stream"));
    HttpResponse chunked = HttpResponse::Ok(big_->substr(0, 5u << 20), "application/octet-stream");
    chunked.chunked = true;
    web_->Route("/big-chunked", chunked);

    int upstream_port = FreePort();
    testing::StartUnbound(dir_->Sub("unbound"), upstream_port,
                          "  local-zone: \"kota.test.\" redirect\n"
                          "  local-data: \"kota.test. 300 IN A 127.0.0.1\"\n",
                          unbound_);
    if (HasFatalFailure()) return;

    WriteRules(dir_->Sub("rules"));
    dns_port_ = FreePort();
    proxy_port_ = FreePort();
    block_page_port_ = FreePort();
    admin_port_ = FreePort();
    std::ostringstream toml;
    toml << "[server]\ndb = \"" << dir_->Sub("db") << "\"\nrules = \"" << dir_->Sub("rules") << "\"\nworkers = 1\n"
         << "dns_listen = [\"127.0.0.1:" << dns_port_ << "\"]\n"
         << "[upstream]\nservers = [\"127.0.0.1:" << upstream_port << "\"]\ntimeout_ms = 1000\nquery_timeout_ms = 3000\n"
         << "[blocking]\nmode = \"sinkhole\"\nsinkhole_ipv4 = \"127.0.0.1\"\n"
         << "[[zone]]\nname = \"loopback\"\nsubnets = [\"127.0.0.0/8\"]\n"
         << "[admin]\nlisten = \"127.0.0.1:" << admin_port_ << "\"\n"
         << "[feeds]\nschedule = false\n"
         << "[proxy]\nlisten = \"127.0.0.1:" << proxy_port_ << "\"\n"
         << "transparent_http = \"\"\ntransparent_https = \"\"\n"
         << "block_page = \"127.0.0.1:" << block_page_port_ << "\"\n"
         << "connect_ports = [443, " << tls_->port() << "]\n"
         << "threads = 2\nheader_timeout_s = 2\nidle_timeout_s = 30\nconnect_timeout_s = 10\n"
         << "access_log = \"" << dir_->Sub("access.log") << "\"\n";
    saringd_->Configure(dir_->path(), toml.str());
    ASSERT_TRUE(saringd_->Start());

    // The URL rule, added while saringd runs: enforced at once.
    Ran r = saringd_->Ctl({"rules", "add", "--kind", "url", "--source", "city", "--category", "gambling",
                           "--note", "hacked page", kUrlRule});
    ASSERT_EQ(r.status, 0) << r.Show();
    auto deadline = Clock::now() + 10s;
    CurlResult c;
    do {
      c = ProxyCurl({WebUrl("/slot/gacor")});
      if (c.code == 403) break;
      std::this_thread::sleep_for(50ms);
    } while (Clock::now() < deadline);
    ASSERT_EQ(c.code, 403) << "URL rule not enforced: " << c.Show();
  }

  static void TearDownTestSuite() {
    delete saringd_;  // stops it (by PID)
    delete unbound_;
    delete web_;
    delete tls_;
    delete big_;
    delete dir_;
    saringd_ = nullptr;
    unbound_ = nullptr;
    web_ = tls_ = nullptr;
    big_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (saringd_ == nullptr || !saringd_->process.Running()) GTEST_SKIP() << "suite setup failed";
  }

  void TearDown() override {
    if (saringd_ != nullptr && !saringd_->process.Running() && !IsSkipped()) {
      ADD_FAILURE() << "saringd ended (exit status " << saringd_->process.Wait() << "):\n" << saringd_->process.Log();
    }
  }

  static std::string ProxyArg() { return "http://127.0.0.1:" + std::to_string(proxy_port_); }
  static std::string WebUrl(const std::string& path, const std::string& host = kWww) {
    return "http://" + host + ":" + std::to_string(web_->port()) + path;
  }
  static std::string TlsUrl(const std::string& path, const std::string& host = kSecure) {
    return "https://" + host + ":" + std::to_string(tls_->port()) + path;
  }
  static CurlResult ProxyCurl(std::vector<std::string> args, std::chrono::seconds max_time = 30s) {
    args.insert(args.begin(), {"-x", ProxyArg()});
    return Curl(args, scratch_, {}, max_time);
  }

  // A raw connection to the explicit proxy.
  static ::testing::AssertionResult ConnectProxy(RawClient* c, const std::string& from = "") {
    if (!c->Connect("127.0.0.1", proxy_port_, from)) {
      return ::testing::AssertionFailure() << "connect to the proxy: " << std::strerror(errno);
    }
    return ::testing::AssertionSuccess();
  }

  // CONNECT `target` on `c`; the proxy's answer head.
  static RawResponse Connect(RawClient* c, const std::string& target) {
    RawResponse r;
    if (!c->Send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nUser-Agent: raw\r\n\r\n")) return r;
    c->ReadUntil(HasResponse, 15s);
    if (ParseRawResponse(c->received(), &r)) c->Consume(r.size);
    return r;
  }

  // After hostile input: saringd still runs and serves an allowed request.
  static void ExpectStillServing() {
    ASSERT_TRUE(saringd_->process.Running()) << saringd_->process.Log();
    CurlResult c = ProxyCurl({WebUrl("/ok")});
    EXPECT_EQ(c.exit, 0) << c.Show();
    EXPECT_EQ(c.code, 200) << c.Show();
    EXPECT_EQ(c.body, "hello from www\n") << c.Show();
  }

  // Checks a block page body: language, title, reference code; returns the code.
  static std::string ExpectBlockPage(const std::string& body, const std::string& host, bool english = false) {
    if (english) {
      EXPECT_TRUE(Contains(body, "<html lang=\"en\"")) << body;
      EXPECT_TRUE(Contains(body, "<title>Site blocked \xE2\x80\x94 " + host + "</title>")) << body;
    } else {
      EXPECT_TRUE(Contains(body, "<html lang=\"id\"")) << body;
      EXPECT_TRUE(Contains(body, "<title>Situs diblokir \xE2\x80\x94 " + host + "</title>")) << body;
    }
    std::smatch m;
    EXPECT_TRUE(std::regex_search(body, m, kReferenceCode)) << body;
    return m.empty() ? "" : m.str();
  }

  static TempDir* dir_;
  static std::string scratch_, cert_, key_;
  static ChildProcess* unbound_;
  static Saringd* saringd_;
  static HttpOrigin* web_;
  static HttpOrigin* tls_;
  static std::string* big_;
  static int dns_port_, proxy_port_, block_page_port_, admin_port_;
};

TempDir* ExplicitProxyTest::dir_ = nullptr;
std::string ExplicitProxyTest::scratch_, ExplicitProxyTest::cert_, ExplicitProxyTest::key_;
ChildProcess* ExplicitProxyTest::unbound_ = nullptr;
Saringd* ExplicitProxyTest::saringd_ = nullptr;
HttpOrigin* ExplicitProxyTest::web_ = nullptr;
HttpOrigin* ExplicitProxyTest::tls_ = nullptr;
std::string* ExplicitProxyTest::big_ = nullptr;
int ExplicitProxyTest::dns_port_ = 0, ExplicitProxyTest::proxy_port_ = 0, ExplicitProxyTest::block_page_port_ = 0,
    ExplicitProxyTest::admin_port_ = 0;

// ---- case 1: curl through the explicit proxy ----

TEST_F(ExplicitProxyTest, ServesAnAllowedSiteResolvedThroughSaringdsDns) {
  web_->ResetCounts();
  CurlResult c = ProxyCurl({WebUrl("/ok?x=1")});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "hello from www\n");
  EXPECT_EQ(c.Header("Via"), "1.1 saring") << c.Show();
  ASSERT_EQ(web_->Requests("/ok"), 1);
  std::optional<HttpRequest> req = web_->LastRequest("/ok");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->target, "/ok?x=1");  // origin-form upstream
  EXPECT_EQ(req->Header("via"), "1.1 saring");
  EXPECT_EQ(req->Header("host"), std::string(kWww) + ":" + std::to_string(web_->port()));
  EXPECT_EQ(req->Header("proxy-connection"), "");  // hop-by-hop, not forwarded

  // Two URLs on one client connection (keep-alive): both served.
  // (curl pairs -o options with URLs in order: Curl's own -o takes the first.)
  web_->ResetCounts();
  c = ProxyCurl({"-o", "/dev/null", WebUrl("/ok"), WebUrl("/news/today")});
  EXPECT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.body, "hello from www\n") << c.Show();
  EXPECT_EQ(web_->Requests("/ok"), 1);
  EXPECT_EQ(web_->Requests("/news/today"), 1);
}

TEST_F(ExplicitProxyTest, BlockedHostGetsTheBlockPage) {
  web_->ResetCounts();
  CurlResult c = ProxyCurl({"http://" + std::string(kBlocked) + ":" + std::to_string(web_->port()) + "/"});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_TRUE(Contains(c.Header("Content-Type"), "text/html")) << c.Show();
  std::string code = ExpectBlockPage(c.body, kBlocked);
  EXPECT_TRUE(Contains(c.body, "trustpositif")) << c.body;  // the rule's source
  // The report form posts to the admin API.
  EXPECT_TRUE(Contains(c.body, "action=\"http://127.0.0.1:" + std::to_string(admin_port_) + "/v1/reports\""))
      << c.body;
  EXPECT_EQ(web_->TotalRequests(), 0);  // never reached, never resolved

  // The reference code names the rule.
  if (!code.empty()) {
    Ran r = saringd_->Ctl({"reference", code});
    EXPECT_EQ(r.status, 0) << r.Show();
    EXPECT_TRUE(Contains(r.out + r.err, "trustpositif")) << r.Show();
  }

  // English on request.
  c = ProxyCurl({"-H", "Accept-Language: en", "http://" + std::string(kBlocked) + "/"});
  EXPECT_EQ(c.code, 403) << c.Show();
  ExpectBlockPage(c.body, kBlocked, /*english=*/true);
  c = ProxyCurl({"http://" + std::string(kBlocked) + "/some/page?lang=en"});
  EXPECT_EQ(c.code, 403) << c.Show();
  ExpectBlockPage(c.body, kBlocked, /*english=*/true);
  // Indonesian is preferred when the client says so.
  c = ProxyCurl({"-H", "Accept-Language: id-ID,id;q=0.9,en;q=0.8", "http://" + std::string(kBlocked) + "/"});
  EXPECT_EQ(c.code, 403) << c.Show();
  ExpectBlockPage(c.body, kBlocked);
}

TEST_F(ExplicitProxyTest, UrlRuleBlocksOnePathOfAnAllowedHost) {
  web_->ResetCounts();
  CurlResult c = ProxyCurl({WebUrl("/slot/gacor")});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 403) << c.Show();
  ExpectBlockPage(c.body, kWww);
  EXPECT_TRUE(Contains(c.body, "/slot/gacor")) << c.body;  // the page's address is shown
  // Spellings that normalize to the same URL are blocked too.
  c = ProxyCurl({"--path-as-is", WebUrl("/news/../%73lot//gacor")});
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_EQ(web_->Requests("/slot/gacor"), 0);
  // Another path of the same host is served.
  c = ProxyCurl({WebUrl("/news/today")});
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "news of www\n");
  EXPECT_EQ(web_->Requests("/news/today"), 1);
}

TEST_F(ExplicitProxyTest, ConnectToABlockedHostIsRefused) {
  tls_->ResetCounts();
  CurlResult c = ProxyCurl({"--cacert", cert_, "https://" + std::string(kBlocked) + "/"});
  EXPECT_NE(c.exit, 0) << c.Show();
  EXPECT_TRUE(Contains(c.err, "403")) << c.Show();  // "CONNECT tunnel failed, response 403"

  // Raw: the 403 carries the block page, and the connection closes.
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  RawResponse r = Connect(&raw, std::string(kBlocked) + ":443");
  EXPECT_EQ(r.status, 403) << raw.received();
  ExpectBlockPage(r.body, kBlocked);
  EXPECT_TRUE(raw.ReadToClose(10s)) << "connection left open after a refused CONNECT";
  EXPECT_EQ(tls_->TotalRequests(), 0);

  // An allowed name on a port outside connect_ports: 403 too, but no block page.
  web_->ResetCounts();
  RawClient other_port;
  ASSERT_TRUE(ConnectProxy(&other_port));
  r = Connect(&other_port, std::string(kWww) + ":" + std::to_string(web_->port()));
  EXPECT_EQ(r.status, 403) << other_port.received();
  EXPECT_FALSE(Contains(r.body, "Situs diblokir")) << r.body;
  EXPECT_TRUE(other_port.ReadToClose(10s));
  EXPECT_EQ(web_->TotalRequests(), 0);
}

TEST_F(ExplicitProxyTest, ConnectTunnelToAnAllowedTlsOriginWorksEndToEnd) {
  tls_->ResetCounts();
  CurlResult c = ProxyCurl({"--cacert", cert_, TlsUrl("/ok")});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "hello from secure\n");
  EXPECT_EQ(tls_->Requests("/ok"), 1);
  EXPECT_EQ(tls_->LastRequestHeader("/ok", "via"), "");  // a tunnel: bytes pass untouched
  // An upload through the tunnel.
  std::string file = scratch_ + "/tunnel-upload.bin";
  std::ofstream(file, std::ios::binary) << RandomBytes(300000, 3);
  c = ProxyCurl({"--cacert", cert_, "--data-binary", "@" + file, TlsUrl("/upload")});
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "received 300000 bytes\n");
}

TEST_F(ExplicitProxyTest, ConnectWithAMismatchedSniIsRefusedWithAnAlert) {
  tls_->ResetCounts();
  // openssl s_client through the proxy: CONNECT secure..., SNI other...
  Ran r = RunBounded({"/usr/bin/openssl", "s_client", "-proxy", "127.0.0.1:" + std::to_string(proxy_port_),
                      "-connect", std::string(kSecure) + ":" + std::to_string(tls_->port()), "-servername", kOther,
                      "-CAfile", cert_},
                     scratch_, 30s);
  EXPECT_FALSE(r.timed_out) << r.Show();
  EXPECT_NE(r.status, 0) << r.Show();
  EXPECT_TRUE(Contains(Lower(r.out + r.err), "alert access denied")) << r.Show();

  // curl with --connect-to: the URL's name (SNI) is other..., the CONNECT goes to secure...
  CurlResult c = ProxyCurl({"--cacert", cert_, "--connect-to",
                            std::string(kOther) + ":" + std::to_string(tls_->port()) + ":" + kSecure + ":" +
                                std::to_string(tls_->port()),
                            TlsUrl("/ok", kOther)});
  EXPECT_EQ(c.exit, 35) << c.Show();  // the TLS handshake ended by the proxy's alert
  EXPECT_NE(c.code, 200) << c.Show();

  // Raw: the exact alert.
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  RawResponse head = Connect(&raw, std::string(kSecure) + ":" + std::to_string(tls_->port()));
  ASSERT_EQ(head.status, 200) << raw.received();
  ASSERT_TRUE(raw.Send(ClientHello(kOther)));
  EXPECT_TRUE(raw.ReadToClose(10s));
  EXPECT_EQ(AlertDescription(raw.received()), kAlertAccessDenied) << Hex(raw.received());
  EXPECT_EQ(tls_->TotalRequests(), 0);
}

TEST_F(ExplicitProxyTest, ChunkedUploadArrivesIntact) {
  web_->ResetCounts();
  std::string data = RandomBytes((3u << 20) + 12345, 11);
  std::string file = scratch_ + "/upload.bin";
  std::ofstream(file, std::ios::binary) << data;
  CurlResult c = ProxyCurl({"-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/octet-stream",
                            "--data-binary", "@" + file, WebUrl("/upload")});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "received " + std::to_string(data.size()) + " bytes\n");
  std::optional<HttpRequest> req = web_->LastRequest("/upload");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(Lower(req->Header("transfer-encoding")), "chunked");  // chunked kept
  EXPECT_EQ(req->Header("content-length"), "");
  EXPECT_EQ(req->body.size(), data.size());
  EXPECT_TRUE(req->body == data) << "the upload arrived changed";

  // And with Content-Length and Expect: 100-continue (curl's default above 1 MiB).
  c = ProxyCurl({"--data-binary", "@" + file, WebUrl("/upload")});
  EXPECT_EQ(c.code, 200) << c.Show();
  req = web_->LastRequest("/upload");
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->body == data) << "the upload arrived changed";
}

TEST_F(ExplicitProxyTest, LargeResponsesStreamThroughIntact) {
  CurlResult c = ProxyCurl({WebUrl("/big")}, 120s);
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 200) << c.Show();
  std::string got = std::move(c.body);
  c.body.clear();
  EXPECT_EQ(got.size(), big_->size());
  EXPECT_TRUE(got == *big_) << "30 MB response arrived changed";
  EXPECT_EQ(c.Header("Content-Length"), std::to_string(big_->size())) << c.Show();

  // A chunked response stays chunked.
  c = ProxyCurl({WebUrl("/big-chunked")}, 120s);
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(Lower(c.Header("Transfer-Encoding")), "chunked") << c.Show();
  got = std::move(c.body);
  c.body.clear();
  EXPECT_EQ(got.size(), 5u << 20);
  EXPECT_TRUE(got == big_->substr(0, 5u << 20)) << "chunked response arrived changed";
}

TEST_F(ExplicitProxyTest, Http10ClientGetsAChunkedResponseUnchunked) {
  HttpResponse chunked = HttpResponse::Ok(std::string(100000, 'c'), "text/plain");
  chunked.chunked = true;
  web_->Route("/chunked-small", chunked);
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  ASSERT_TRUE(raw.Send("GET " + WebUrl("/chunked-small") + " HTTP/1.0\r\nHost: " + kWww + "\r\n\r\n"));
  EXPECT_TRUE(raw.ReadToClose(20s)) << "an HTTP/1.0 response without length must end with the connection";
  std::size_t end = raw.received().find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << raw.received().substr(0, 300);
  std::string head = Lower(raw.received().substr(0, end));
  EXPECT_TRUE(head.starts_with("http/1.1 200")) << head;
  EXPECT_FALSE(Contains(head, "transfer-encoding")) << head;
  EXPECT_EQ(raw.received().substr(end + 4), std::string(100000, 'c'));
}

TEST_F(ExplicitProxyTest, HostileHostHeaderCannotDodgeTheRules) {
  web_->ResetCounts();
  // The absolute URL names the blocked site, the Host field an allowed one.
  CurlResult c = ProxyCurl({"-H", "Host: " + std::string(kWww), "http://" + std::string(kBlocked) + ":" +
                                                                   std::to_string(web_->port()) + "/ok"});
  EXPECT_EQ(c.code, 403) << c.Show();
  // The other way round: served as the URL says, and the origin sees the
  // URL's host, never the blocked name.
  c = ProxyCurl({"-H", "Host: " + std::string(kBlocked), WebUrl("/ok")});
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(web_->LastRequestHeader("/ok", "host"), std::string(kWww) + ":" + std::to_string(web_->port()));
  // Two Host fields.
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  ASSERT_TRUE(raw.Send("GET " + WebUrl("/ok") + " HTTP/1.1\r\nHost: " + kWww + "\r\nHost: " + kBlocked +
                       "\r\n\r\n"));
  raw.ReadUntil(HasResponse, 15s);
  RawResponse r;
  ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << raw.received();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(web_->Requests("/ok"), 1);
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, KeepAliveConnectionGoesOnAfterABlockPage) {
  web_->ResetCounts();
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  ASSERT_TRUE(raw.Send("GET http://" + std::string(kBlocked) + "/ HTTP/1.1\r\nHost: " + kBlocked + "\r\n\r\n"));
  ASSERT_TRUE(raw.ReadUntil(HasResponse, 15s));
  RawResponse r;
  ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << raw.received();
  EXPECT_EQ(r.status, 403);
  raw.Consume(r.size);
  ASSERT_FALSE(raw.closed()) << "closed after a block page of a request without a body";
  ASSERT_TRUE(raw.Send("GET " + WebUrl("/ok") + " HTTP/1.1\r\nHost: " + kWww + "\r\n\r\n"));
  raw.ReadUntil(HasResponse, 15s);
  ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << raw.received();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from www\n");
  EXPECT_EQ(web_->Requests("/ok"), 1);
}

TEST_F(ExplicitProxyTest, UnreachableOriginsGetAGatewayError) {
  json before = saringd_->ProxyStats();
  int dead_port = FreePort();  // nothing listens there
  CurlResult c = ProxyCurl({"http://" + std::string(kWww) + ":" + std::to_string(dead_port) + "/"});
  EXPECT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 502) << c.Show();
  // A name unbound refuses to resolve.
  c = ProxyCurl({"http://nowhere.example/"});
  EXPECT_EQ(c.exit, 0) << c.Show();
  EXPECT_TRUE(c.code == 502 || c.code == 504) << c.Show();
  json after = saringd_->ProxyStats();
  EXPECT_GE(Counter(after, "upstream_errors"), Counter(before, "upstream_errors") + 2) << after.dump();
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, AccessLogHasParseableSquidLines) {
  std::string marker = "/ok?log=" + std::to_string(getpid());
  CurlResult c = ProxyCurl({WebUrl(marker)});
  ASSERT_EQ(c.code, 200) << c.Show();
  c = ProxyCurl({"http://" + std::string(kBlocked) + "/log-" + std::to_string(getpid())});
  ASSERT_EQ(c.code, 403) << c.Show();
  c = ProxyCurl({"--cacert", cert_, TlsUrl("/ok")});
  ASSERT_EQ(c.code, 200) << c.Show();

  std::string tunnel_target = std::string(kSecure) + ":" + std::to_string(tls_->port());
  std::vector<std::string> lines = saringd_->WaitForAccessLine({"TCP_TUNNEL/200", "CONNECT", tunnel_target});
  ASSERT_FALSE(lines.empty()) << "no tunnel line in the access log:\n" << ReadWholeFile(saringd_->access_log);
  lines = saringd_->WaitForAccessLine({"TCP_DENIED/403", "/log-" + std::to_string(getpid())});
  ASSERT_FALSE(lines.empty()) << "no block line:\n" << ReadWholeFile(saringd_->access_log);
  lines = saringd_->WaitForAccessLine({"TCP_MISS/200", marker});
  ASSERT_FALSE(lines.empty()) << "no forward line:\n" << ReadWholeFile(saringd_->access_log);

  bool miss = false, denied = false, tunnel = false;
  for (const std::string& line : lines) {
    EXPECT_TRUE(IsSquidLine(line));
    std::vector<std::string> f = Fields(line);
    if (f.size() != 10) continue;
    if (Contains(f[6], marker)) {
      miss = true;
      EXPECT_EQ(f[2], "127.0.0.1") << line;
      EXPECT_EQ(f[3], "TCP_MISS/200") << line;
      EXPECT_EQ(f[5], "GET") << line;
      EXPECT_EQ(f[6], WebUrl(marker)) << line;
      EXPECT_EQ(f[8], "HIER_DIRECT/127.0.0.1") << line;
      EXPECT_EQ(f[9], "text/plain") << line;
      EXPECT_GT(std::stoull(f[4]), 0u) << line;
    } else if (Contains(f[6], "/log-" + std::to_string(getpid()))) {
      denied = true;
      EXPECT_EQ(f[3], "TCP_DENIED/403") << line;
      EXPECT_EQ(f[6], "http://" + std::string(kBlocked) + "/log-" + std::to_string(getpid())) << line;
      EXPECT_EQ(f[8], "HIER_NONE/-") << line;
    } else if (f[6] == tunnel_target && f[3] == "TCP_TUNNEL/200") {
      tunnel = true;
      EXPECT_EQ(f[5], "CONNECT") << line;
      EXPECT_EQ(f[8], "HIER_DIRECT/127.0.0.1") << line;
      EXPECT_GT(std::stoull(f[4]), 0u) << line;
    }
  }
  EXPECT_TRUE(miss && denied && tunnel);
}

TEST_F(ExplicitProxyTest, StatsCountersMove) {
  json before = saringd_->ProxyStats();
  ASSERT_TRUE(before.contains("requests")) << before.dump();
  EXPECT_EQ(ProxyCurl({WebUrl("/ok")}).code, 200);
  EXPECT_EQ(ProxyCurl({"http://" + std::string(kBlocked) + "/"}).code, 403);
  EXPECT_EQ(ProxyCurl({"--cacert", cert_, TlsUrl("/ok")}).code, 200);
  {
    RawClient raw;  // SNI mismatch
    ASSERT_TRUE(ConnectProxy(&raw));
    ASSERT_EQ(Connect(&raw, std::string(kSecure) + ":" + std::to_string(tls_->port())).status, 200);
    ASSERT_TRUE(raw.Send(ClientHello(kOther)));
    raw.ReadToClose(10s);
  }
  // Malformed requests, each refused with 400: one the request check refuses
  // (origin-form on the explicit listener), two the HTTP parser does.
  for (const std::string& bad :
       {std::string("GET /ok HTTP/1.1\r\nHost: ") + kWww + "\r\n\r\n",
        "POST " + WebUrl("/upload") + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        std::string("NOT HTTP AT ALL\r\n\r\n")}) {
    RawClient raw;
    ASSERT_TRUE(ConnectProxy(&raw));
    raw.Send(bad);
    raw.ReadToClose(10s);
    RawResponse r;
    EXPECT_TRUE(ParseRawResponse(raw.received(), &r) && r.status == 400) << bad << "\n→ " << raw.received();
  }
  // The tunnel's count may land a moment after curl is done.
  json after;
  auto deadline = Clock::now() + 10s;
  do {
    after = saringd_->ProxyStats();
    if (Counter(after, "tunnels") > Counter(before, "tunnels")) break;
    std::this_thread::sleep_for(100ms);
  } while (Clock::now() < deadline);
  EXPECT_GE(Counter(after, "requests"), Counter(before, "requests") + 3) << before.dump() << after.dump();
  EXPECT_GE(Counter(after, "blocked"), Counter(before, "blocked") + 1) << after.dump();
  EXPECT_GE(Counter(after, "forwarded"), Counter(before, "forwarded") + 1) << after.dump();
  EXPECT_GE(Counter(after, "tunnels"), Counter(before, "tunnels") + 1) << after.dump();
  EXPECT_GE(Counter(after, "sni_refused"), Counter(before, "sni_refused") + 1) << after.dump();
  EXPECT_GE(Counter(after, "bad_requests"), Counter(before, "bad_requests") + 3)
      << "each of the three 400s counts as a bad request: " << before.dump() << " → " << after.dump();
  EXPECT_EQ(Counter(after, "denied_clients"), 0u) << after.dump();
  ASSERT_TRUE(after.contains("zones") && after["zones"].is_array()) << after.dump();
  bool zone_seen = false;
  for (const json& z : after["zones"]) {
    if (z.value("name", "") != "loopback") continue;
    zone_seen = true;
    std::uint64_t before_requests = 0;
    for (const json& b : before["zones"]) {
      if (b.value("name", "") == "loopback") before_requests = Counter(b, "requests");
    }
    EXPECT_GE(Counter(z, "requests"), before_requests + 3) << after.dump();
    EXPECT_GE(Counter(z, "blocked"), 1u) << after.dump();
  }
  EXPECT_TRUE(zone_seen) << after.dump();
}

// ---- case 3: headless Chromium through the explicit proxy ----

TEST_F(ExplicitProxyTest, ChromiumRendersAllowedPagesAndTheBlockPage) {
  testing::ChromiumOptions probe;
  if (access(probe.binary.c_str(), X_OK) != 0) GTEST_SKIP() << probe.binary << " missing: apt-get install chromium";
  std::string artifacts = SARING_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);

  testing::ChromiumOptions allowed;
  allowed.url = WebUrl("/page");
  allowed.proxy = "127.0.0.1:" + std::to_string(proxy_port_);
  allowed.screenshot_path = artifacts + "/proxy-allowed.png";
  allowed.timeout_ms = 90000;
  allowed.extra_args = {"--lang=id", "--accept-lang=id-ID,id"};
  std::filesystem::remove(allowed.screenshot_path);
  testing::ChromiumResult r = testing::RunChromium(allowed);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.dom, "Selamat datang di kota.test")) << r.dom << r.Describe();
  EXPECT_TRUE(Contains(r.dom, "origin page served through saring")) << r.dom;
  EXPECT_TRUE(IsPng(allowed.screenshot_path)) << allowed.screenshot_path << "\n" << r.Describe();

  testing::ChromiumOptions blocked = allowed;
  blocked.url = "http://" + std::string(kBlocked) + "/";
  blocked.screenshot_path = artifacts + "/proxy-blocked.png";
  std::filesystem::remove(blocked.screenshot_path);
  r = testing::RunChromium(blocked);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.dom, "Situs diblokir")) << r.dom << r.Describe();
  EXPECT_TRUE(Contains(r.dom, kBlocked)) << r.dom;
  EXPECT_TRUE(std::regex_search(r.dom, kReferenceCode)) << r.dom;
  EXPECT_TRUE(IsPng(blocked.screenshot_path)) << blocked.screenshot_path << "\n" << r.Describe();

  // The URL rule's page, in English.
  testing::ChromiumOptions url_blocked = allowed;
  url_blocked.url = WebUrl("/slot/gacor?lang=en");
  url_blocked.screenshot_path = artifacts + "/proxy-url-blocked-en.png";
  std::filesystem::remove(url_blocked.screenshot_path);
  r = testing::RunChromium(url_blocked);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.dom, "Site blocked")) << r.dom << r.Describe();
  EXPECT_TRUE(IsPng(url_blocked.screenshot_path)) << r.Describe();
  std::printf("screenshots in %s\n", artifacts.c_str());
}

// ---- case 4: the sinkhole block-page listener ----

TEST_F(ExplicitProxyTest, SinkholeBlockPageListener) {
  // DNS sends browsers of a blocked name to the block-page server.
  Ran dig = RunBounded({"/usr/bin/dig", "@127.0.0.1", "-p", std::to_string(dns_port_), kBlocked, "A", "+short",
                        "+tries=1", "+time=5"},
                       scratch_, 30s);
  EXPECT_EQ(dig.status, 0) << dig.Show();
  EXPECT_TRUE(Contains(dig.out, "127.0.0.1")) << dig.Show();

  std::string base = "http://127.0.0.1:" + std::to_string(block_page_port_);
  CurlResult c = Curl({"-H", "Host: " + std::string(kBlocked), base + "/any/path?q=1"}, scratch_);
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 403) << c.Show();
  ExpectBlockPage(c.body, kBlocked);
  // The URL rule applies here too.
  c = Curl({"-H", "Host: " + std::string(kWww), base + "/slot/gacor"}, scratch_);
  EXPECT_EQ(c.code, 403) << c.Show();
  // As a browser gets there: the blocked name resolved to the sinkhole.
  c = Curl({"--resolve", std::string(kBlocked) + ":" + std::to_string(block_page_port_) + ":127.0.0.1",
            "-H", "Accept-Language: en", "http://" + std::string(kBlocked) + ":" + std::to_string(block_page_port_) + "/"},
           scratch_);
  EXPECT_EQ(c.code, 403) << c.Show();
  ExpectBlockPage(c.body, kBlocked, /*english=*/true);
  // Not blocked: 404, nothing forwarded.
  web_->ResetCounts();
  c = Curl({"-H", "Host: " + std::string(kWww), base + "/ok"}, scratch_);
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 404) << c.Show();
  EXPECT_FALSE(Contains(c.body, "Situs diblokir")) << c.body;
  EXPECT_EQ(web_->TotalRequests(), 0);
}

// ---- case 5: hostile input against the explicit proxy ----

TEST_F(ExplicitProxyTest, HostileOversizedRequestHeadGets431) {
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  std::string head = "GET " + WebUrl("/ok") + " HTTP/1.1\r\nHost: " + kWww + "\r\n";
  for (int i = 0; i < 40; ++i) head += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
  head += "\r\n";  // ~40 KiB > max_header_kb = 16
  raw.Send(head);  // may fail part-way: the proxy answers before reading it all
  raw.ReadUntil(HasResponse, 15s);
  RawResponse r;
  ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << "no response: " << raw.received().substr(0, 300);
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(raw.ReadToClose(15s)) << "left open after 431";
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileBadChunkingIsRefusedOrClosedNeverHangs) {
  web_->ResetCounts();
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  auto start = Clock::now();
  ASSERT_TRUE(raw.Send("POST " + WebUrl("/upload") + " HTTP/1.1\r\nHost: " + kWww +
                       "\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\nhello\r\n0\r\n\r\n"));
  // The proxy answers 400 or closes; it must not wait for the idle timeout (30 s).
  bool closed = raw.ReadToClose(20s);
  EXPECT_TRUE(closed) << "still open after " << SecondsSince(start) << " s; got: " << raw.received();
  RawResponse r;
  if (ParseRawResponse(raw.received(), &r)) {
    EXPECT_EQ(r.status, 400) << raw.received();
  }
  EXPECT_EQ(web_->Requests("/upload") , 0);  // the origin never got a complete request
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileContentLengthWithTransferEncodingGets400) {
  web_->ResetCounts();
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  ASSERT_TRUE(raw.Send("POST " + WebUrl("/upload") + " HTTP/1.1\r\nHost: " + kWww +
                       "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  raw.ReadUntil(HasResponse, 15s);
  RawResponse r;
  ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << "no response: " << raw.received();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(raw.ReadToClose(15s)) << "left open after 400";
  EXPECT_EQ(web_->TotalRequests(), 0);
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileTwoContentLengthsGet400) {
  web_->ResetCounts();
  for (const char* second : {"5", "6"}) {
    RawClient raw;
    ASSERT_TRUE(ConnectProxy(&raw));
    ASSERT_TRUE(raw.Send("POST " + WebUrl("/upload") + " HTTP/1.1\r\nHost: " + kWww +
                         "\r\nContent-Length: 5\r\nContent-Length: " + second + "\r\n\r\nhello!"));
    raw.ReadUntil(HasResponse, 15s);
    RawResponse r;
    ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << "no response: " << raw.received();
    EXPECT_EQ(r.status, 400) << "Content-Length: 5 and " << second;
    EXPECT_TRUE(raw.ReadToClose(15s)) << "left open after 400";
  }
  EXPECT_EQ(web_->TotalRequests(), 0);
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileSlowlorisGets408WithinTheHeaderTimeout) {
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  const std::string head = "GET " + WebUrl("/ok") + " HTTP/1.1\r\nHost: " + kWww + "\r\nUser-Agent: slow\r\n\r\n";
  auto start = Clock::now();
  // One byte every 250 ms: the whole head would take ~20 s, header_timeout_s is 2.
  for (std::size_t i = 0; i + 4 < head.size(); ++i) {
    if (!raw.Send(head.substr(i, 1))) break;
    raw.ReadUntil([](const std::string& in) { return !in.empty(); }, 250ms);
    if (!raw.received().empty() || raw.closed()) break;
    if (SecondsSince(start) > 20) break;
  }
  raw.ReadToClose(10s);
  double took = SecondsSince(start);
  EXPECT_TRUE(raw.closed()) << "still open after " << took << " s";
  RawResponse r;
  ASSERT_FALSE(raw.received().empty()) << "closed without a 408";
  ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << raw.received();
  EXPECT_EQ(r.status, 408);
  std::printf("slowloris: %s after %.2f s (%zu bytes received)\n",
              raw.received().empty() ? "closed without a response" : raw.received().substr(0, 12).c_str(), took,
              raw.received().size());
  // Ended by the header timeout (2 s), not by the end of the head (~20 s).
  EXPECT_LT(took, 10.0) << "the slow head was not cut at header_timeout_s";
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileClientHelloCutInHalfGetsAnAlert) {
  RawClient raw;
  ASSERT_TRUE(ConnectProxy(&raw));
  RawResponse head = Connect(&raw, std::string(kSecure) + ":" + std::to_string(tls_->port()));
  ASSERT_EQ(head.status, 200) << raw.received();
  std::string hello = ClientHello(kSecure);
  auto start = Clock::now();
  ASSERT_TRUE(raw.Send(hello.substr(0, hello.size() / 2)));
  EXPECT_TRUE(raw.ReadToClose(15s)) << "still open " << SecondsSince(start) << " s after half a ClientHello";
  double took = SecondsSince(start);
  EXPECT_EQ(AlertDescription(raw.received()), kAlertHandshakeFailure)
      << "closed after " << took << " s with " << raw.received().size() << " bytes: " << Hex(raw.received())
      << (raw.reset() ? " (reset)" : "");
  EXPECT_LT(took, 10.0) << "not ended by header_timeout_s (2 s)";
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileClientHelloWithAbsurdLengthsGetsAnAlertAtOnce) {
  std::string good = ClientHello(kSecure);
  // Record length 0xFFFF (above 2^14 + 256), with a little of a hello behind it.
  std::string huge_record = good;
  huge_record[3] = '\xff';
  huge_record[4] = '\xff';
  // A consistent record whose handshake message claims 16 MiB.
  std::string huge_message = good;
  huge_message[6] = '\xff';
  huge_message[7] = '\xff';
  huge_message[8] = '\xff';
  // A record length of 0.
  std::string empty_record = std::string{'\x16', '\x03', '\x01', '\x00', '\x00'} + good.substr(5);
  struct Case {
    const char* name;
    std::string bytes;
  };
  for (const Case& k : {Case{"record length 0xFFFF", huge_record}, Case{"handshake length 0xFFFFFF", huge_message},
                        Case{"record length 0", empty_record}}) {
    SCOPED_TRACE(k.name);
    RawClient raw;
    ASSERT_TRUE(ConnectProxy(&raw));
    RawResponse head = Connect(&raw, std::string(kSecure) + ":" + std::to_string(tls_->port()));
    ASSERT_EQ(head.status, 200) << raw.received();
    auto start = Clock::now();
    ASSERT_TRUE(raw.Send(k.bytes));
    EXPECT_TRUE(raw.ReadToClose(15s));
    double took = SecondsSince(start);
    EXPECT_EQ(AlertDescription(raw.received()), kAlertHandshakeFailure) << Hex(raw.received());
    // Decided on the bytes, not by waiting for the rest (header_timeout_s = 2).
    EXPECT_LT(took, 2.0) << "the alert came after " << took << " s: waited for the header timeout";
  }
  ExpectStillServing();
}

TEST_F(ExplicitProxyTest, HostileGarbageInsteadOfHttpGets400) {
  std::string garbage = RandomBytes(200, 5);
  for (char& ch : garbage) {
    if (ch == '\r' || ch == '\n') ch = 'x';
  }
  garbage[0] = '\x01';
  for (const std::string& junk : {garbage + "\r\n\r\n", std::string("HELLO THERE\r\n\r\n"),
                                  std::string("GET http://" ) + kWww + "/ HTTP/9.9\r\n\r\n",
                                  std::string("\x16\x03\x01\x00\x05" "hello\r\n\r\n", 14)}) {
    RawClient raw;
    ASSERT_TRUE(ConnectProxy(&raw));
    ASSERT_TRUE(raw.Send(junk));
    raw.ReadUntil(HasResponse, 15s);
    RawResponse r;
    ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << "no response to " << Hex(junk) << ": " << raw.received();
    EXPECT_EQ(r.status, 400) << Hex(junk);
    EXPECT_TRUE(raw.ReadToClose(15s)) << "left open after 400";
  }
  ExpectStillServing();
}

// ===========================================================================
// case 6: a client outside [proxy] allow_clients.

TEST(ProxyAllowClientsTest, ClientOutsideAllowClientsGets403AndIsClosed) {
  TempDir dir;
  Saringd d;
  WriteRules(dir.Sub("rules"));
  int proxy_port = FreePort(), dns_port = FreePort(), upstream_port = FreePort();
  HttpOrigin web;
  ASSERT_TRUE(web.Start().ok());
  RouteOrigin(&web, "www");
  std::ostringstream toml;
  toml << "[server]\ndb = \"" << dir.Sub("db") << "\"\nrules = \"" << dir.Sub("rules") << "\"\nworkers = 1\n"
       << "dns_listen = [\"127.0.0.1:" << dns_port << "\"]\n"
       << "[upstream]\nservers = [\"127.0.0.1:" << upstream_port << "\"]\n"
       << "[admin]\nlisten = \"\"\n[feeds]\nschedule = false\n"
       << "[proxy]\nlisten = \"127.0.0.1:" << proxy_port << "\"\nallow_clients = [\"10.0.0.0/8\"]\n";
  d.Configure(dir.path(), toml.str());
  ASSERT_TRUE(d.Start());

  for (const std::string& request :
       {std::string("GET http://127.0.0.1:") + std::to_string(web.port()) + "/ok HTTP/1.1\r\nHost: 127.0.0.1:" +
            std::to_string(web.port()) + "\r\n\r\n",
        std::string("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")}) {
    RawClient raw;
    ASSERT_TRUE(raw.Connect("127.0.0.1", proxy_port));
    ASSERT_TRUE(raw.Send(request));
    raw.ReadUntil(HasResponse, 15s);
    RawResponse r;
    ASSERT_TRUE(ParseRawResponse(raw.received(), &r)) << "no response: " << raw.received();
    EXPECT_EQ(r.status, 403) << raw.received();
    EXPECT_FALSE(Contains(r.body, "Situs diblokir")) << "not a block page: the client is refused";
    EXPECT_TRUE(raw.ReadToClose(15s)) << "left open after the refusal";
  }
  // curl sees the same.
  CurlResult c = Curl({"-x", "http://127.0.0.1:" + std::to_string(proxy_port), web.Url("/ok")}, d.scratch);
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_EQ(web.TotalRequests(), 0);
  json stats = d.ProxyStats();
  EXPECT_GE(Counter(stats, "denied_clients"), 3u) << stats.dump();
  EXPECT_EQ(Counter(stats, "forwarded"), 0u) << stats.dump();
  EXPECT_TRUE(d.process.Running()) << d.process.Log();
}

// ===========================================================================
// case 2: transparent HTTP and HTTPS in network namespaces.
//
// client ns (curl) --80/443--> gateway ns: nftables redirects them to saringd's
// transparent listeners; saringd connects to the original destination
// 10.199.1.1:80/443, which the gateway's output chain sends to HttpOrigins
// listening on 127.0.0.1 in the gateway ns.

class TransparentProxyTest : public ::testing::Test {
 protected:
  static constexpr int kHttpPort = 3129;   // saringd's listeners inside the gateway ns
  static constexpr int kHttpsPort = 3130;

  static void SetUpTestSuite() {
    topo_ = new NetnsTopology;
    std::string error;
    if (!NetnsTopology::Create(topo_, &error)) {
      skip_reason_ = "no network namespaces here: " + error;
      return;
    }
    dir_ = new TempDir;
    scratch_ = dir_->Sub("scratch");
    std::filesystem::create_directories(scratch_);
    web_ = new HttpOrigin;
    tls_ = new HttpOrigin;
    saringd_ = new Saringd;
    ASSERT_TRUE(MakeCert(dir_->path(), &cert_, &key_));
    saring::Status web_started, tls_started;
    ASSERT_TRUE(topo_->RunInGateway([&] {
      HttpOrigin::Options plain;
      plain.address = "::";  // the IPv4 and the IPv6 origin address both lead here
      web_started = web_->Start(plain);
      HttpOrigin::Options o = plain;
      o.cert_file = cert_;
      o.key_file = key_;
      tls_started = tls_->Start(o);
    }, &error)) << error;
    ASSERT_TRUE(web_started.ok()) << web_started.ToString();
    ASSERT_TRUE(tls_started.ok()) << tls_started.ToString();
    RouteOrigin(web_, "www");
    RouteOrigin(tls_, "secure");
    for (const char* origin : {NetnsTopology::kOriginAddress, NetnsTopology::kOriginAddress6}) {
      ASSERT_TRUE(topo_->AddOriginRedirect(80, web_->port(), &error, origin)) << error;
      ASSERT_TRUE(topo_->AddOriginRedirect(443, tls_->port(), &error, origin)) << error;
    }

    WriteRules(dir_->Sub("rules"));
    std::ostringstream toml;
    // Transparent sessions connect to the original destination: no name is
    // resolved, so the upstream (nothing listens there) is never asked.
    toml << "[server]\ndb = \"" << dir_->Sub("db") << "\"\nrules = \"" << dir_->Sub("rules") << "\"\nworkers = 1\n"
         << "dns_listen = [\"127.0.0.1:5353\"]\n"
         << "[upstream]\nservers = [\"127.0.0.1:5354\"]\n"
         << "[admin]\nlisten = \"\"\n[feeds]\nschedule = false\n"
         << "[proxy]\nlisten = \"\"\nblock_page = \"\"\n"
         // Dual-stack, as a gateway listening on every address would: IPv4
         // clients arrive v4-mapped (their original destination is IPv4),
         // IPv6 ones with an IPv6 original destination.
         << "transparent_http = \"[::]:" << kHttpPort << "\"\n"
         << "transparent_https = \"[::]:" << kHttpsPort << "\"\n"
         << "header_timeout_s = 10\nidle_timeout_s = 30\n"
         << "access_log = \"" << dir_->Sub("access.log") << "\"\n";
    saringd_->Configure(dir_->path(), toml.str());
    saringd_->prefix = topo_->InGateway({});
    ASSERT_TRUE(saringd_->Start());
    Ran r = saringd_->Ctl({"rules", "add", "--kind", "url", "--source", "city", "--category", "gambling", kUrlRule});
    ASSERT_EQ(r.status, 0) << r.Show();
    ASSERT_TRUE(topo_->AddRedirect(80, kHttpPort, &error)) << error;
    ASSERT_TRUE(topo_->AddRedirect(443, kHttpsPort, &error)) << error;
    ready_ = true;
  }

  static void TearDownTestSuite() {
    // Processes and sockets in the namespaces first, then the namespaces.
    delete saringd_;
    delete web_;
    delete tls_;
    delete topo_;
    delete dir_;
    saringd_ = nullptr;
    web_ = tls_ = nullptr;
    topo_ = nullptr;
    dir_ = nullptr;
    ready_ = false;
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    if (!ready_ || !saringd_->process.Running()) GTEST_SKIP() << "suite setup failed";
  }

  void TearDown() override {
    if (ready_ && !IsSkipped() && !saringd_->process.Running()) {
      ADD_FAILURE() << "saringd ended (exit status " << saringd_->process.Wait() << "):\n" << saringd_->process.Log();
    }
  }

  // curl inside the client ns.
  static CurlResult ClientCurl(std::vector<std::string> args, std::chrono::seconds max_time = 30s) {
    return Curl(std::move(args), scratch_, topo_->InClient({}), max_time);
  }

  static NetnsTopology* topo_;
  static TempDir* dir_;
  static std::string scratch_, cert_, key_, skip_reason_;
  static HttpOrigin* web_;
  static HttpOrigin* tls_;
  static Saringd* saringd_;
  static bool ready_;
};

NetnsTopology* TransparentProxyTest::topo_ = nullptr;
TempDir* TransparentProxyTest::dir_ = nullptr;
std::string TransparentProxyTest::scratch_, TransparentProxyTest::cert_, TransparentProxyTest::key_,
    TransparentProxyTest::skip_reason_;
HttpOrigin* TransparentProxyTest::web_ = nullptr;
HttpOrigin* TransparentProxyTest::tls_ = nullptr;
Saringd* TransparentProxyTest::saringd_ = nullptr;
bool TransparentProxyTest::ready_ = false;

TEST_F(TransparentProxyTest, HttpToAnAllowedHostIsServed) {
  web_->ResetCounts();
  CurlResult c = ClientCurl({"-H", "Host: " + std::string(kWww), "http://10.199.1.1/ok"});
  ASSERT_EQ(c.exit, 0) << c.Show() << saringd_->process.Log();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "hello from www\n");
  EXPECT_EQ(c.Header("Via"), "1.1 saring") << c.Show();
  EXPECT_EQ(web_->Requests("/ok"), 1);
  EXPECT_EQ(web_->LastRequestHeader("/ok", "via"), "1.1 saring");
  EXPECT_EQ(web_->LastRequestHeader("/ok", "host"), kWww);
  std::vector<std::string> lines =
      saringd_->WaitForAccessLine({"TCP_MISS/200", "http://" + std::string(kWww) + "/ok", "10.199.0.2"});
  ASSERT_FALSE(lines.empty()) << ReadWholeFile(saringd_->access_log);
  for (const std::string& line : lines) EXPECT_TRUE(IsSquidLine(line));
}

TEST_F(TransparentProxyTest, HttpToABlockedHostGetsTheBlockPage) {
  web_->ResetCounts();
  CurlResult c = ClientCurl({"-H", "Host: " + std::string(kBlocked), "http://10.199.1.1/"});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_TRUE(Contains(c.body, "<title>Situs diblokir \xE2\x80\x94 " + std::string(kBlocked))) << c.body;
  EXPECT_TRUE(std::regex_search(c.body, kReferenceCode)) << c.body;
  // As a browser sends it: the name resolved (by whatever DNS) to the origin.
  c = ClientCurl({"--resolve", std::string(kBlocked) + ":80:10.199.1.1", "http://" + std::string(kBlocked) + "/x"});
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_EQ(web_->TotalRequests(), 0);
}

TEST_F(TransparentProxyTest, HttpToABlockedUrlPathGetsTheBlockPage) {
  web_->ResetCounts();
  CurlResult c = ClientCurl({"-H", "Host: " + std::string(kWww), "http://10.199.1.1/slot/gacor"});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_TRUE(Contains(c.body, "Situs diblokir")) << c.body;
  EXPECT_EQ(web_->Requests("/slot/gacor"), 0);
  c = ClientCurl({"-H", "Host: " + std::string(kWww), "http://10.199.1.1/news/today"});
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "news of www\n");
}

// A transparent request carries the name twice when its target is in
// absolute form: the decision and what the origin is told must agree.
TEST_F(TransparentProxyTest, AnAbsoluteTargetCannotDodgeTheRules) {
  web_->ResetCounts();
  // Absolute target names the blocked site: blocked.
  CurlResult c = ClientCurl({"--request-target", "http://" + std::string(kBlocked) + "/ok", "-H",
                             "Host: " + std::string(kWww), "http://10.199.1.1/"});
  EXPECT_EQ(c.code, 403) << c.Show();
  // Absolute target names an allowed site, the Host field the blocked one:
  // the origin (the address the client chose) must not be asked for the
  // blocked site.
  c = ClientCurl({"--request-target", "http://" + std::string(kWww) + "/ok", "-H", "Host: " + std::string(kBlocked),
                  "http://10.199.1.1/"});
  std::optional<HttpRequest> seen = web_->LastRequest("/ok");
  EXPECT_TRUE(c.code == 403 || (seen && Lower(seen->Header("host")) != kBlocked))
      << "filter bypass: saringd allowed the request on its absolute target (" << kWww
      << ") and forwarded it to the original destination with Host: " << (seen ? seen->Header("host") : "")
      << "\n" << c.Show();
}

TEST_F(TransparentProxyTest, HttpsWithAnAllowedSniIsSplicedEndToEnd) {
  tls_->ResetCounts();
  CurlResult c = ClientCurl({"--resolve", std::string(kSecure) + ":443:10.199.1.1", "--cacert", cert_,
                             "https://" + std::string(kSecure) + "/ok"});
  ASSERT_EQ(c.exit, 0) << c.Show() << saringd_->process.Log();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "hello from secure\n");
  EXPECT_EQ(tls_->Requests("/ok"), 1);
  std::vector<std::string> lines =
      saringd_->WaitForAccessLine({"TCP_TUNNEL/200", "CONNECT", std::string(kSecure) + ":443"});
  EXPECT_FALSE(lines.empty()) << ReadWholeFile(saringd_->access_log);
}

TEST_F(TransparentProxyTest, HttpsWithABlockedSniFailsFastWithAnAlert) {
  tls_->ResetCounts();
  CurlResult c = ClientCurl({"--resolve", std::string(kBlocked) + ":443:10.199.1.1", "--cacert", cert_,
                             "https://" + std::string(kBlocked) + "/"});
  EXPECT_EQ(c.exit, 35) << c.Show();  // SSL connect error
  EXPECT_TRUE(Contains(Lower(c.err), "access denied")) << c.Show();
  EXPECT_LT(c.seconds, 5.0) << "header_timeout_s is 10: the alert must not wait for it";
  EXPECT_EQ(tls_->TotalRequests(), 0);
  std::vector<std::string> lines =
      saringd_->WaitForAccessLine({"TCP_DENIED/403", "CONNECT", std::string(kBlocked) + ":443"});
  EXPECT_FALSE(lines.empty()) << ReadWholeFile(saringd_->access_log);
}

TEST_F(TransparentProxyTest, HttpsWithoutSniIsRefused) {
  tls_->ResetCounts();
  // curl sends no SNI for an IP address.
  CurlResult c = ClientCurl({"-k", "https://10.199.1.1/ok"});
  EXPECT_EQ(c.exit, 35) << c.Show();
  EXPECT_NE(c.code, 200) << c.Show();
  // openssl s_client without a server name.
  std::vector<std::string> argv = topo_->InClient(
      {"/usr/bin/openssl", "s_client", "-connect", "10.199.1.1:443", "-noservername", "-CAfile", cert_});
  Ran r = RunBounded(argv, scratch_, 30s);
  EXPECT_FALSE(r.timed_out) << r.Show();
  EXPECT_NE(r.status, 0) << r.Show();
  EXPECT_TRUE(Contains(Lower(r.out + r.err), "alert handshake failure")) << r.Show();
  EXPECT_EQ(tls_->TotalRequests(), 0);
}

// The same gateway for an IPv6 client: both listeners find the IPv6 original
// destination (IP6T_SO_ORIGINAL_DST), decide as for IPv4 and connect there.
TEST_F(TransparentProxyTest, Ipv6ClientsAreFilteredAlike) {
  web_->ResetCounts();
  tls_->ResetCounts();
  std::string origin6 = "[" + std::string(NetnsTopology::kOriginAddress6) + "]";
  CurlResult c = ClientCurl({"-H", "Host: " + std::string(kWww), "http://" + origin6 + "/ok"});
  ASSERT_EQ(c.exit, 0) << c.Show() << saringd_->process.Log();
  EXPECT_EQ(c.code, 200) << c.Show();
  EXPECT_EQ(c.body, "hello from www\n");
  EXPECT_EQ(web_->Requests("/ok"), 1);
  c = ClientCurl({"-H", "Host: " + std::string(kBlocked), "http://" + origin6 + "/"});
  EXPECT_EQ(c.code, 403) << c.Show();
  EXPECT_TRUE(Contains(c.body, "Situs diblokir")) << c.body;

  c = ClientCurl({"--resolve", std::string(kSecure) + ":443:" + origin6, "--cacert", cert_,
                  "https://" + std::string(kSecure) + "/ok"});
  ASSERT_EQ(c.exit, 0) << c.Show();
  EXPECT_EQ(c.body, "hello from secure\n");
  EXPECT_EQ(tls_->Requests("/ok"), 1);
  c = ClientCurl({"--resolve", std::string(kBlocked) + ":443:" + origin6, "--cacert", cert_,
                  "https://" + std::string(kBlocked) + "/"});
  EXPECT_EQ(c.exit, 35) << c.Show();  // the TLS alert
  EXPECT_EQ(web_->TotalRequests(), 1);
  std::vector<std::string> lines = saringd_->WaitForAccessLine(
      {"TCP_MISS/200", "http://" + std::string(kWww) + "/ok", NetnsTopology::kClientAddress6});
  EXPECT_FALSE(lines.empty()) << ReadWholeFile(saringd_->access_log);
}

TEST_F(TransparentProxyTest, ConnectionsNotRedirectedAreClosed) {
  web_->ResetCounts();
  tls_->ResetCounts();
  for (int port : {kHttpPort, kHttpsPort}) {
    SCOPED_TRACE("port " + std::to_string(port));
    bool connected = false, closed = false;
    std::string got;
    ASSERT_TRUE(topo_->RunInClient([&] {
      RawClient raw;
      connected = raw.Connect(NetnsTopology::kGatewayAddress, port);
      if (!connected) return;
      raw.Send(port == kHttpPort ? "GET /ok HTTP/1.1\r\nHost: " + std::string(kWww) + "\r\n\r\n"
                                 : ClientHello(kSecure));
      closed = raw.ReadToClose(15s);
      got = raw.received();
    }));
    ASSERT_TRUE(connected);
    EXPECT_TRUE(closed) << "a connection straight to the listener stayed open";
    EXPECT_TRUE(got.empty()) << "answered: " << got.substr(0, 200);
  }
  EXPECT_EQ(web_->TotalRequests() + tls_->TotalRequests(), 0);
  // And the listeners still serve redirected traffic.
  CurlResult c = ClientCurl({"-H", "Host: " + std::string(kWww), "http://10.199.1.1/ok"});
  EXPECT_EQ(c.code, 200) << c.Show();
}

TEST_F(TransparentProxyTest, StatsCountTransparentTraffic) {
  json before = saringd_->ProxyStats();
  EXPECT_EQ(ClientCurl({"-H", "Host: " + std::string(kWww), "http://10.199.1.1/ok"}).code, 200);
  EXPECT_EQ(ClientCurl({"--resolve", std::string(kBlocked) + ":443:10.199.1.1", "-k",
                        "https://" + std::string(kBlocked) + "/"})
                .exit,
            35);
  EXPECT_EQ(ClientCurl({"-k", "https://10.199.1.1/"}).exit, 35);
  json after = saringd_->ProxyStats();
  EXPECT_GE(Counter(after, "forwarded"), Counter(before, "forwarded") + 1) << after.dump();
  EXPECT_GE(Counter(after, "blocked"), Counter(before, "blocked") + 1) << after.dump();
  EXPECT_GE(Counter(after, "sni_refused"), Counter(before, "sni_refused") + 1) << after.dump();
  EXPECT_EQ(Counter(after, "denied_clients"), 0u) << after.dump();
}

}  // namespace
}  // namespace saring
