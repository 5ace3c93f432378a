// ProxyServer end to end on loopback: a real rule engine, a real origin
// (testing/http_origin.h) and curl as the client.
#include "proxy/proxy_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <thread>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "saring/dns_server.h"
#include "saring/engine.h"
#include "saring/reference.h"
#include "saring/server_config.h"
#include "testing/http_origin.h"
#include "testing/process.h"
#include "testing/self_signed_cert.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/unbound.h"

namespace saring::proxy {
namespace {

using saring::testing::HttpOrigin;
using saring::testing::RunProgram;
using OriginResponse = saring::testing::HttpResponse;

// A loopback port nothing listens on (bound, then closed).
std::uint16_t DeadPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Sends `request` raw and returns what arrives until the proxy closes (or 5 s).
std::string RawExchange(std::uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

class ProxyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.by = "tester";
    EngineOptions eo;
    eo.db_dir = dir_.Sub("db");
    ASSERT_TRUE(Engine::Open(eo, &engine_).ok());
    Rule domain;
    domain.kind = RuleKind::kDomain;
    domain.action = Action::kBlock;
    domain.value = "blocked.test";
    domain.source = "city";
    domain.category = "gambling";
    Rule url = domain;
    url.kind = RuleKind::kUrl;
    url.value = R"(^http://origin\.test(:\d+)?/slot/)";
    Status st = engine_->AddRules({domain, url}, ctx_);
    ASSERT_TRUE(st.ok()) << st.ToString();

    ASSERT_TRUE(origin_.Start().ok());
    origin_.Route("/ok", OriginResponse::Ok("hello from origin"));
    origin_.Route("/second", OriginResponse::Ok("second page"));
    origin_.Route("/slot/gacor", OriginResponse::Ok("must not be seen"));
    OriginResponse chunked = OriginResponse::Ok("chunked body here");
    chunked.chunked = true;
    origin_.Route("/chunked", chunked);

    cert_ = saring::testing::MakeSelfSignedCert(dir_.path());
    HttpOrigin::Options tls;
    tls.cert_file = cert_.cert_file;
    tls.key_file = cert_.key_file;
    ASSERT_TRUE(tls_origin_.Start(tls).ok());
    tls_origin_.Route("/secure", OriginResponse::Ok("tls hello"));

    ProxyOptions po = BaseOptions();
    Subnet loop;
    ASSERT_TRUE(ParseSubnet("127.0.0.0/8", &loop).ok());
    po.allow_clients = {loop};
    st = ProxyServer::Start(po, &engine_->publisher(), &proxy_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  ProxyOptions BaseOptions() {
    ProxyOptions po;
    po.listen = Endpoint{"127.0.0.1", 0};
    po.connect_ports = {443, tls_origin_.port()};
    po.connect_timeout_ms = 2000;
    po.hosts = {{"origin.test", "127.0.0.1"}, {"blocked.test", "127.0.0.1"}, {"localhost", "127.0.0.1"}};
    po.report_url = "http://127.0.0.1:8053/v1/reports";
    po.access_log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.emplace_back(line);
    };
    return po;
  }

  // The log line is written once the response is out, which may be just after
  // curl has it: waits up to 3 s for `text` to appear.
  bool LogHas(const std::string& text) {
    for (int i = 0; i < 300; ++i) {
      if (Log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string Log() {
    std::lock_guard<std::mutex> lock(log_mu_);
    std::string all;
    for (const auto& l : log_) all += l;
    return all;
  }

  // curl through `proxy_port`; stdout is the body followed by "\n@@<code> <num_connects>" per URL.
  saring::testing::ProgramResult Curl(std::vector<std::string> args, std::uint16_t proxy_port = 0) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "10", "-x",
                                     "http://127.0.0.1:" + std::to_string(proxy_port ? proxy_port : proxy_->ports().listen),
                                     "-w", "\n@@%{http_code} %{num_connects}\n"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, "", dir_.path());
  }

  std::string OriginUrl(const std::string& path) {
    return "http://origin.test:" + std::to_string(origin_.port()) + path;
  }

  saring::testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  ChangeContext ctx_;
  HttpOrigin origin_, tls_origin_;
  saring::testing::SelfSignedCert cert_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
  std::unique_ptr<ProxyServer> proxy_;
};

TEST_F(ProxyServerTest, AllowedPageIsRelayed) {
  auto r = Curl({OriginUrl("/ok")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("hello from origin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@@200 1"), std::string::npos) << r.out;
  EXPECT_NE(origin_.LastRequestHeader("/ok", "via").find("saring"), std::string::npos);
  EXPECT_EQ(origin_.LastRequestHeader("/ok", "proxy-connection"), "");
  EXPECT_TRUE(LogHas("TCP_MISS/200")) << Log();
  EXPECT_TRUE(LogHas(" GET http://origin.test:" + std::to_string(origin_.port()) + "/ok - HIER_DIRECT/127.0.0.1 text/plain")) << Log();
}

TEST_F(ProxyServerTest, ChunkedResponseIsRelayed) {
  auto r = Curl({OriginUrl("/chunked")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("chunked body here"), std::string::npos) << r.out;
}

TEST_F(ProxyServerTest, PostBodyIsForwarded) {
  origin_.Route("/post", OriginResponse::Ok("posted"));
  auto r = Curl({"--data-binary", "a=1&b=2", OriginUrl("/post")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("posted"), std::string::npos) << r.out;
  auto last = origin_.LastRequest("/post");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, "a=1&b=2");
  EXPECT_EQ(last->method, "POST");
}

TEST_F(ProxyServerTest, BlockedHostGetsBlockPage) {
  auto r = Curl({"http://blocked.test/anything"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("@@403"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("diblokir"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SRG-"), std::string::npos);
  EXPECT_TRUE(LogHas("TCP_DENIED/403")) << Log();

  auto en = Curl({"-H", "Accept-Language: en-US,en;q=0.9", "http://blocked.test/"});
  EXPECT_EQ(en.out.find("diblokir"), std::string::npos);
  EXPECT_NE(en.out.find("@@403"), std::string::npos);
}

TEST_F(ProxyServerTest, BlockedUrlPathOnAllowedHost) {
  auto r = Curl({OriginUrl("/slot/gacor")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("@@403"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("must not be seen"), std::string::npos);
  EXPECT_EQ(origin_.Requests("/slot/gacor"), 0);
  // A spelling that tries to dodge the rule.
  auto dodge = Curl({"--path-as-is", OriginUrl("/x/../%73lot/gacor")});
  EXPECT_NE(dodge.out.find("@@403"), std::string::npos) << dodge.out;
  auto ok = Curl({OriginUrl("/ok")});
  EXPECT_NE(ok.out.find("@@200"), std::string::npos) << ok.out;
}

TEST_F(ProxyServerTest, ConnectToBlockedHostRefused) {
  auto r = Curl({"https://blocked.test/"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("403"), std::string::npos) << r.err;
  EXPECT_TRUE(LogHas("TCP_DENIED/403")) << Log();
}

TEST_F(ProxyServerTest, ConnectPortNotAllowed) {
  auto r = Curl({"https://localhost:" + std::to_string(DeadPort()) + "/"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("403"), std::string::npos) << r.err;
}

TEST_F(ProxyServerTest, ConnectTunnelEndToEnd) {
  auto r = Curl({"--cacert", cert_.cert_file, "https://localhost:" + std::to_string(tls_origin_.port()) + "/secure"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("tls hello"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@@200"), std::string::npos) << r.out;
  EXPECT_TRUE(LogHas("TCP_TUNNEL/200")) << Log();  // written when the tunnel ends
}

TEST_F(ProxyServerTest, OriginDownIs502) {
  auto r = Curl({"http://origin.test:" + std::to_string(DeadPort()) + "/"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("@@502"), std::string::npos) << r.out;
}

TEST_F(ProxyServerTest, KeepAliveToClient) {
  auto r = Curl({OriginUrl("/ok"), OriginUrl("/second")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("hello from origin"), std::string::npos);
  EXPECT_NE(r.out.find("second page"), std::string::npos);
  EXPECT_NE(r.out.find("@@200 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@@200 0"), std::string::npos) << r.out;  // second URL: no new connection
}

TEST_F(ProxyServerTest, ContentLengthWithTransferEncodingIs400) {
  std::string host = "origin.test:" + std::to_string(origin_.port());
  std::string out = RawExchange(proxy_->ports().listen, "POST http://" + host + "/ok HTTP/1.1\r\nHost: " + host +
                                                    "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                    "0\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_EQ(origin_.Requests("/ok"), 0);
}

TEST_F(ProxyServerTest, OriginFormIs400) {
  std::string out = RawExchange(proxy_->ports().listen, "GET /ok HTTP/1.1\r\nHost: origin.test\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST_F(ProxyServerTest, ClientOutsideAllowListIs403) {
  ProxyOptions po = BaseOptions();
  Subnet other;
  ASSERT_TRUE(ParseSubnet("10.99.0.0/16", &other).ok());
  po.allow_clients = {other};
  std::unique_ptr<ProxyServer> closed;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &closed).ok());
  auto r = Curl({OriginUrl("/ok")}, closed->ports().listen);
  EXPECT_NE(r.out.find("@@403"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(origin_.Requests("/ok"), 0);
}

// Every way a session ends (served and closed by the client, block page,
// 502, a tunnel, a refused request) must free its slot at once: the session
// watchdog's pending wait holds the session, so a missed cancel would keep
// it (and its connection slot) until the idle timeout.
TEST_F(ProxyServerTest, EndedSessionsFreeTheirConnectionSlots) {
  ProxyOptions po = BaseOptions();
  Subnet loop;
  ASSERT_TRUE(ParseSubnet("127.0.0.0/8", &loop).ok());
  po.allow_clients = {loop};
  po.max_connections = 2;
  po.idle_timeout_ms = 60000;
  std::unique_ptr<ProxyServer> small;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &small).ok());
  std::uint16_t port = small->ports().listen;
  // A slot is freed just after the client sees its connection end, so a
  // 503 is retried for a moment; a kept session would fail every retry.
  auto code_of = [&](std::vector<std::string> args) {
    std::string out;
    for (int attempt = 0; attempt < 20; ++attempt) {
      out = Curl(args, port).out;
      if (out.find("@@503") == std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return out.substr(out.rfind("@@") == std::string::npos ? 0 : out.rfind("@@"));
  };
  std::string tls_url = "https://localhost:" + std::to_string(tls_origin_.port()) + "/secure";
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(code_of({OriginUrl("/ok")}).substr(0, 5), "@@200");
    EXPECT_EQ(code_of({"http://blocked.test/x"}).substr(0, 5), "@@403");
    EXPECT_EQ(code_of({"http://origin.test:" + std::to_string(DeadPort()) + "/"}).substr(0, 5), "@@502");
    EXPECT_EQ(code_of({"--cacert", cert_.cert_file, tls_url}).substr(0, 5), "@@200");
    EXPECT_EQ(RawExchange(port, "GET /ok HTTP/1.1\r\nHost: origin.test\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  }
}

// As for DNS workers: a proxy thread with no traffic after a reload must let
// go of the old snapshot (and the old index with it) by itself.
TEST_F(ProxyServerTest, IdleThreadsLetGoOfAnOldSnapshot) {
  for (int i = 0; i < 4; ++i) ASSERT_NE(Curl({OriginUrl("/ok")}).out.find("@@200"), std::string::npos);
  std::weak_ptr<const Snapshot> old = engine_->publisher().Current();
  Rule more;
  more.value = "later.test";
  more.source = "city";
  ASSERT_TRUE(engine_->AddRules({more}, ctx_).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!old.expired() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(old.expired()) << "an idle proxy thread still holds the old snapshot";
}

TEST_F(ProxyServerTest, UpstreamConnectionIsReused) {
  origin_.ResetCounts();
  auto r = Curl({OriginUrl("/ok"), OriginUrl("/second"), OriginUrl("/ok")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(origin_.TotalRequests(), 3);
  EXPECT_EQ(origin_.Connections(), 1);  // one upstream connection for the client's three requests
}

TEST_F(ProxyServerTest, IdleUpstreamsArePooledAcrossHostsAndClients) {
  // One client alternating between two origin names (both this origin): each
  // name's connection waits in the thread's pool while the other is used.
  std::string port = std::to_string(origin_.port());
  origin_.ResetCounts();
  auto r = Curl({"http://origin.test:" + port + "/ok", "http://localhost:" + port + "/ok",
                 "http://origin.test:" + port + "/second", "http://localhost:" + port + "/second"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(origin_.TotalRequests(), 4);
  EXPECT_EQ(origin_.Connections(), 2);
  // Clients one after the other: a closed client's connection serves the next
  // client on the same proxy thread (two threads, sessions placed in turn).
  origin_.ResetCounts();
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Curl({OriginUrl("/ok")}).status, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the proxy sees the client go
  }
  EXPECT_EQ(origin_.TotalRequests(), 4);
  EXPECT_LE(origin_.Connections(), 2);
}

TEST_F(ProxyServerTest, OriginClosingAfterEachAnswerGetsFreshConnections) {
  // The origin closes after each answer (Connection: close): the next request
  // on the client connection gets a fresh upstream connection, not an error.
  OriginResponse closing = OriginResponse::Ok("closing");
  closing.headers.emplace_back("Connection", "close");
  origin_.Route("/closing", closing);
  origin_.ResetCounts();
  auto r = Curl({OriginUrl("/closing"), OriginUrl("/closing")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("@@502"), std::string::npos) << r.out;
  EXPECT_EQ(origin_.TotalRequests(), 2);
  EXPECT_EQ(origin_.Connections(), 2);
}

// An origin that closes a kept-alive connection right after answering, without
// saying so: the next bodiless request on the same client connection is
// retried on a fresh upstream connection; one with a body finds the closed
// connection before sending anything. Neither gets a 502.
TEST_F(ProxyServerTest, OriginClosingSilentlyIsRetriedOrAvoided) {
  OriginResponse gone = OriginResponse::Ok("answered, then closed");
  gone.close_after = true;
  origin_.Route("/gone", gone);
  origin_.Route("/post", OriginResponse::Ok("posted"));
  origin_.ResetCounts();

  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  asio::ip::tcp::socket client(io);
  client.connect({asio::ip::make_address("127.0.0.1"), proxy_->ports().listen});
  boost::beast::flat_buffer buffer;
  auto exchange = [&](http::verb method, const std::string& path, const std::string& body) {
    http::request<http::string_body> req(method, OriginUrl(path), 11);
    req.set(http::field::host, "origin.test:" + std::to_string(origin_.port()));
    req.body() = body;
    req.prepare_payload();
    http::write(client, req);
    http::response<http::string_body> res;
    http::read(client, buffer, res);
    return std::to_string(res.result_int()) + " " + res.body();
  };
  EXPECT_EQ(exchange(http::verb::get, "/gone", ""), "200 answered, then closed");
  EXPECT_EQ(exchange(http::verb::get, "/gone", ""), "200 answered, then closed");  // retried
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the origin's FIN is in
  EXPECT_EQ(exchange(http::verb::post, "/post", "a=1"), "200 posted");  // checked first
  EXPECT_EQ(origin_.TotalRequests(), 3);
  EXPECT_EQ(origin_.Connections(), 3);
  auto last = origin_.LastRequest("/post");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, "a=1");
  EXPECT_EQ(proxy_->counters().upstream_errors, 0u);
}

// A WebSocket handshake through the explicit proxy to a real WebSocket server
// (python3-websockets): the 101 comes back with the server's accept key, and
// frames then flow both ways through the splice. A blocked host's handshake
// gets the block page like any request.
TEST_F(ProxyServerTest, WebSocketUpgradeIsRelayedAndSpliced) {
  int ws_port = saring::testing::FreePort();
  saring::testing::ChildProcess echo;
  ASSERT_TRUE(echo.Start({"/usr/bin/python3", std::string(SARING_SOURCE_DIR) + "/tests/testing/ws_echo.py",
                          std::to_string(ws_port)},
                         dir_.Sub("ws_echo.log")));
  ASSERT_TRUE(echo.WaitForLog("ready", std::chrono::seconds(10))) << echo.Log();

  namespace asio = boost::asio;
  asio::io_context io;
  auto handshake = [&](asio::ip::tcp::socket& s, const std::string& host) {
    s.connect({asio::ip::make_address("127.0.0.1"), proxy_->ports().listen});
    std::string authority = host + ":" + std::to_string(ws_port);
    // The key and accept value are RFC 6455's own example (§1.3).
    std::string req = "GET http://" + authority + "/chat HTTP/1.1\r\nHost: " + authority +
                      "\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string head;
    boost::system::error_code ec;
    asio::read_until(s, asio::dynamic_buffer(head), "\r\n\r\n", ec);
    return head;
  };

  asio::ip::tcp::socket ws(io);
  std::string head = handshake(ws, "origin.test");
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << head;
  EXPECT_NE(head.find("Upgrade: websocket"), std::string::npos) << head;
  EXPECT_NE(head.find("Via: "), std::string::npos) << head;

  // A masked text frame "ping" (RFC 6455 §5.2); the echo comes back unmasked.
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string frame = {'\x81', '\x84'};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>("ping"[i] ^ mask[i]));
  for (int round = 0; round < 3; ++round) {
    asio::write(ws, asio::buffer(frame));
    std::string reply(6, '\0');
    boost::system::error_code ec;
    asio::read(ws, asio::buffer(reply), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(reply, std::string("\x81\x04ping", 6));
  }
  ws.close();
  EXPECT_TRUE(LogHas("TCP_TUNNEL/101")) << Log();
  EXPECT_GE(proxy_->counters().tunnels, 1u);

  asio::ip::tcp::socket blocked(io);
  head = handshake(blocked, "blocked.test");
  EXPECT_EQ(head.rfind("HTTP/1.1 403", 0), 0u) << head;
}

TEST_F(ProxyServerTest, ChunkedUploadIsStreamedIntact) {
  origin_.Route("/upload", OriginResponse::Ok("stored"));
  std::string body;
  for (int i = 0; body.size() < (3u << 20); ++i) body += "line " + std::to_string(i) + " of a large upload\n";
  std::string file = dir_.Sub("upload.txt");
  {
    std::ofstream out(file, std::ios::binary);
    out << body;
  }
  auto r = Curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file, OriginUrl("/upload")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("@@200"), std::string::npos) << r.out;
  auto last = origin_.LastRequest("/upload");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body.size(), body.size());
  EXPECT_TRUE(last->body == body);
}

TEST_F(ProxyServerTest, LargeResponseIsStreamed) {
  // Larger than anything the proxy buffers (16 KiB at a time).
  std::string big(40u << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  origin_.Route("/big", OriginResponse::Ok(big, "application/octet-stream"));
  std::string file = dir_.Sub("big.out");
  auto r = Curl({"-o", file, OriginUrl("/big")});
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream in(file, std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);
}

TEST_F(ProxyServerTest, HeadAndNoContentLeaveTheConnectionUsable) {
  origin_.Route("/empty", OriginResponse::Code(204));
  auto r = Curl({"-I", OriginUrl("/ok"), "-I", OriginUrl("/chunked")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("@@200 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@@200 0"), std::string::npos) << r.out;
  auto e = Curl({OriginUrl("/empty"), OriginUrl("/ok")});
  EXPECT_NE(e.out.find("@@204 1"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("hello from origin"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("@@200 0"), std::string::npos) << e.out;
}

TEST_F(ProxyServerTest, ConnectWithAnotherSniIsRefused) {
  // curl CONNECTs to localhost but says "elsewhere.test" in its ClientHello.
  std::string port = std::to_string(tls_origin_.port());
  auto r = Curl({"--cacert", cert_.cert_file, "--connect-to", "elsewhere.test:" + port + ":localhost:" + port,
                 "https://elsewhere.test:" + port + "/secure"});
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("tls hello"), std::string::npos);
  EXPECT_TRUE(LogHas("TCP_DENIED/403")) << Log();
  EXPECT_EQ(proxy_->counters().sni_refused, 1u);
}

TEST_F(ProxyServerTest, ConnectWithBlockedSniIsRefused) {
  ProxyOptions po = BaseOptions();
  po.allow_sni_mismatch = true;  // only the rule can refuse it now
  std::unique_ptr<ProxyServer> lax;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &lax).ok());
  std::string port = std::to_string(tls_origin_.port());
  auto r = Curl({"--cacert", cert_.cert_file, "--connect-to", "blocked.test:" + port + ":localhost:" + port,
                 "https://blocked.test:" + port + "/secure"},
                lax->ports().listen);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(lax->counters().blocked, 1u);
  // With a name that is not blocked, the same mismatch now passes (and fails
  // only on the certificate, which names localhost).
  auto ok = Curl({"-k", "--connect-to", "fine.test:" + port + ":localhost:" + port, "https://fine.test:" + port + "/secure"},
                 lax->ports().listen);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("tls hello"), std::string::npos);
}

TEST_F(ProxyServerTest, ConnectWithoutSniIsRefusedUnlessAllowed) {
  // openssl s_client without a server name, through the proxy.
  std::string proxy = "127.0.0.1:" + std::to_string(proxy_->ports().listen);
  std::string target = "localhost:" + std::to_string(tls_origin_.port());
  auto run = [&](const std::string& via) {
    return RunProgram({"/usr/bin/timeout", "10", "/usr/bin/openssl", "s_client", "-proxy", via, "-connect", target,
                       "-noservername", "-ign_eof", "-CAfile", cert_.cert_file},
                      "GET /secure HTTP/1.0\r\nConnection: close\r\n\r\n", dir_.path());
  };
  auto refused = run(proxy);
  EXPECT_EQ(refused.out.find("tls hello"), std::string::npos) << refused.out;
  EXPECT_EQ(proxy_->counters().sni_refused, 1u) << refused.out << refused.err;

  ProxyOptions po = BaseOptions();
  po.allow_no_sni = true;
  std::unique_ptr<ProxyServer> lax;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &lax).ok());
  auto allowed = run("127.0.0.1:" + std::to_string(lax->ports().listen));
  EXPECT_NE(allowed.out.find("tls hello"), std::string::npos) << allowed.out << allowed.err;
}

TEST_F(ProxyServerTest, NamesResolveThroughTheDnsServer) {
  saring::testing::ChildProcess unbound;
  int dns_port = saring::testing::FreePort();
  saring::testing::StartUnbound(dir_.Sub("unbound"), dns_port,
                                "  local-zone: \"test.\" static\n  local-data: \"dns-only.test. A 127.0.0.1\"\n",
                                &unbound);
  ProxyOptions po = BaseOptions();
  po.hosts.clear();
  po.dns = Endpoint{"127.0.0.1", static_cast<std::uint16_t>(dns_port)};
  std::unique_ptr<ProxyServer> p;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &p).ok());
  auto r = Curl({"http://dns-only.test:" + std::to_string(origin_.port()) + "/ok"}, p->ports().listen);
  EXPECT_NE(r.out.find("hello from origin"), std::string::npos) << r.out << r.err;
  // A name the DNS server does not know: 502, quickly (NXDOMAIN, no timeout).
  auto missing = Curl({"http://missing.test:" + std::to_string(origin_.port()) + "/ok"}, p->ports().listen);
  EXPECT_NE(missing.out.find("@@502"), std::string::npos) << missing.out;
}

// A name the rules pass whose CNAME leads to a blocked one: saringd's DNS
// (in process, forwarding to unbound) answers NXDOMAIN with an Extended DNS
// Error "Blocked", and the proxy shows the block page with the DNS's reason
// instead of a 502.
TEST_F(ProxyServerTest, NameBlockedThroughItsCnameGetsTheBlockPage) {
  saring::testing::ChildProcess unbound;
  int upstream_port = saring::testing::FreePort();
  saring::testing::StartUnbound(dir_.Sub("unbound"), upstream_port,
                                "  local-zone: \"test.\" static\n"
                                "  local-data: \"alias.test. CNAME blocked.test.\"\n"
                                "  local-data: \"blocked.test. A 127.0.0.1\"\n"
                                "  local-data: \"fine.test. A 127.0.0.1\"\n",
                                &unbound);
  ServerConfig config;
  config.workers = 1;
  int dns_port = saring::testing::FreePort();
  config.dns_listen = {{"127.0.0.1", static_cast<std::uint16_t>(dns_port)}};
  config.upstreams = {{"127.0.0.1", static_cast<std::uint16_t>(upstream_port)}};
  ASSERT_TRUE(FinishServerConfig(&config).ok());
  std::unique_ptr<DnsServer> dns;
  Status st = DnsServer::Start(config, &engine_->publisher(), &dns);
  ASSERT_TRUE(st.ok()) << st.ToString();

  ProxyOptions po = BaseOptions();
  po.hosts.clear();
  po.dns = Endpoint{"127.0.0.1", static_cast<std::uint16_t>(dns_port)};
  std::unique_ptr<ProxyServer> p;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &p).ok());
  std::string port = std::to_string(origin_.port());
  auto fine = Curl({"http://fine.test:" + port + "/ok"}, p->ports().listen);
  EXPECT_NE(fine.out.find("hello from origin"), std::string::npos) << fine.out << fine.err;

  auto alias = Curl({"-H", "Accept-Language: en", "http://alias.test:" + port + "/ok"}, p->ports().listen);
  EXPECT_NE(alias.out.find("@@403"), std::string::npos) << alias.out;
  EXPECT_NE(alias.out.find("alias.test"), std::string::npos) << alias.out;
  EXPECT_NE(alias.out.find("city"), std::string::npos) << alias.out;      // the source, from the EDE text
  EXPECT_NE(alias.out.find("gambling"), std::string::npos) << alias.out;  // the category
  // The DNS answer's reference code, on the page, naming blocked.test's rule class.
  std::smatch code;
  ASSERT_TRUE(std::regex_search(alias.out, code, std::regex("SRG-[0-9A-Z-]+"))) << alias.out;
  std::uint64_t serial = 0;
  std::uint16_t class_id = 0xFFFF;
  RuleKind kind = RuleKind::kUrl;
  ASSERT_TRUE(DecodeReference(code[0].str(), &serial, &class_id, &kind)) << code[0];
  EXPECT_EQ(serial, engine_->publisher().Current()->serial());
  EXPECT_EQ(class_id, engine_->publisher().Current()->CheckName("blocked.test").class_id);
  EXPECT_EQ(kind, RuleKind::kDomain);
  EXPECT_EQ(origin_.Requests("/ok"), 1);
  ProxyCounters c = p->counters();
  EXPECT_EQ(c.blocked, 1u);
  EXPECT_EQ(c.upstream_errors, 0u);

  // CONNECT to it: refused with the page too, not a tunnel.
  auto tls = Curl({"https://alias.test:" + std::to_string(tls_origin_.port()) + "/secure"}, p->ports().listen);
  EXPECT_NE(tls.err.find("403"), std::string::npos) << tls.err;
}

TEST_F(ProxyServerTest, CountersAndZones) {
  ProxyOptions po = BaseOptions();
  ClientZone zone;
  zone.name = "loopback";
  Subnet loop;
  ASSERT_TRUE(ParseSubnet("127.0.0.0/8", &loop).ok());
  zone.subnets = {loop};
  po.zones = {zone};
  po.log_client_address = false;
  std::unique_ptr<ProxyServer> p;
  ASSERT_TRUE(ProxyServer::Start(po, &engine_->publisher(), &p).ok());
  Curl({OriginUrl("/ok"), "http://blocked.test/"}, p->ports().listen);
  ProxyCounters c = p->counters();
  EXPECT_EQ(c.requests, 2u);
  EXPECT_EQ(c.blocked, 1u);
  EXPECT_EQ(c.forwarded, 1u);
  ASSERT_EQ(c.zones.size(), 2u);
  EXPECT_EQ(c.zones[0].name, "loopback");
  EXPECT_EQ(c.zones[0].requests, 2u);
  EXPECT_EQ(c.zones[0].blocked, 1u);
  EXPECT_EQ(c.zones[1].requests, 0u);
  // The privacy switch: "-" where the client's address would be.
  EXPECT_TRUE(LogHas(" - TCP_DENIED/403 ")) << Log();
  EXPECT_EQ(Log().find(" 127.0.0.1 TCP_"), std::string::npos) << Log();
}

}  // namespace
}  // namespace saring::proxy
