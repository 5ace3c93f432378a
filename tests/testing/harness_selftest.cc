// Self-test of the transparent-proxy harness: tests/testing/netns.h (two
// namespaces, nftables redirect, SO_ORIGINAL_DST) and tests/testing/chromium.h
// (headless Chromium, direct, through a proxy, and inside the client ns).
#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "testing/chromium.h"
#include "testing/http_origin.h"
#include "testing/netns.h"
#include "testing/process.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace saring::testing {
namespace {

// A TCP listener for these tests that answers every connection with a small
// HTML page naming itself (`tag`), the connection's original destination
// (SO_ORIGINAL_DST, else its local address) and its peer. Owns its socket and its one thread; the
// destructor stops both.
class OrigDstServer {
 public:
  OrigDstServer(std::string tag) : tag_(std::move(tag)) {}
  ~OrigDstServer() { Stop(); }

  // Binds `address`:`port` (0: ephemeral) in the calling thread's namespace.
  bool Listen(const std::string& address, uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0) return false;
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
    return true;
  }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      sockaddr_in peer{};
      socklen_t plen = sizeof peer;
      int c = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      timeval tv{2, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, n);
      }
      sockaddr_in orig{};
      socklen_t olen = sizeof orig;
      // ENOENT when conntrack has no entry for the connection: a namespace
      // without any NAT rule tracks nothing. A connection that was not
      // redirected was meant for the address it reached.
      if (getsockopt(c, SOL_IP, SO_ORIGINAL_DST, &orig, &olen) != 0) {
        olen = sizeof orig;
        getsockname(c, reinterpret_cast<sockaddr*>(&orig), &olen);
      }
      std::string orig_text = Text(orig);
      std::string body = "<html><body><p>" + tag_ + " orig=" + orig_text + " peer=" + Text(peer, false) +
                         "</p></body></html>\n";
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
      send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      shutdown(c, SHUT_WR);
      close(c);
    }
  }

  static std::string Text(const sockaddr_in& a, bool with_port = true) {
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    return std::string(ip) + (with_port ? ":" + std::to_string(ntohs(a.sin_port)) : "");
  }

  std::string tag_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Creates the topology or skips the test (only when the machine refuses).
#define CREATE_TOPOLOGY_OR_SKIP(topo)                                  \
  do {                                                                 \
    std::string create_error;                                          \
    if (!NetnsTopology::Create(&(topo), &create_error)) {              \
      GTEST_SKIP() << "no network namespaces here: " << create_error;  \
    }                                                                  \
  } while (0)

std::string Curl(const std::vector<std::string>& argv, const TempDir& dir) {
  ProgramResult r = RunProgram(argv, "", dir.path());
  return "status=" + std::to_string(r.status) + " " + r.out + r.err;
}

TEST(NetnsTopologyTest, RedirectGivesListenerTheOriginalDestination) {
  TempDir dir;
  NetnsTopology topo;
  CREATE_TOPOLOGY_OR_SKIP(topo);
  OrigDstServer proxy("proxy");
  bool listening = false;
  ASSERT_TRUE(topo.RunInGateway([&] { listening = proxy.Listen("0.0.0.0", 0); }));
  ASSERT_TRUE(listening);
  std::string error;
  ASSERT_TRUE(topo.AddRedirect(80, proxy.port(), &error)) << error;

  std::string out = Curl(topo.InClient({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1/"}), dir);
  EXPECT_NE(out.find("status=0"), std::string::npos) << out;
  EXPECT_NE(out.find("proxy orig=10.199.1.1:80 peer=10.199.0.2"), std::string::npos) << out;
  // Another port is not redirected (and nothing listens there).
  out = Curl(topo.InClient({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1:81/"}), dir);
  EXPECT_EQ(out.find("status=0"), std::string::npos) << out;
  EXPECT_EQ(proxy.connections(), 1);
}

TEST(NetnsTopologyTest, ClientReachesOriginAddressDirectly) {
  TempDir dir;
  NetnsTopology topo;
  CREATE_TOPOLOGY_OR_SKIP(topo);
  OrigDstServer origin("origin");
  bool listening = false;
  ASSERT_TRUE(topo.RunInGateway([&] { listening = origin.Listen(NetnsTopology::kOriginAddress, 9000); }));
  ASSERT_TRUE(listening);
  std::string out = Curl(topo.InClient({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1:9000/"}), dir);
  EXPECT_NE(out.find("origin orig=10.199.1.1:9000 peer=10.199.0.2"), std::string::npos) << out;
}

// The proxy in the gateway connects to the original destination itself; the
// prerouting redirect must not catch that.
TEST(NetnsTopologyTest, GatewayConnectionsToOriginAreNotRedirected) {
  TempDir dir;
  NetnsTopology topo;
  CREATE_TOPOLOGY_OR_SKIP(topo);
  OrigDstServer proxy("proxy"), origin("origin");
  bool listening = false;
  ASSERT_TRUE(topo.RunInGateway([&] {
    listening = proxy.Listen("0.0.0.0", 0) && origin.Listen(NetnsTopology::kOriginAddress, 80);
  }));
  ASSERT_TRUE(listening);
  ASSERT_TRUE(topo.AddRedirect(80, proxy.port()));

  std::string out = Curl(topo.InGateway({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1/"}), dir);
  EXPECT_NE(out.find("origin orig=10.199.1.1:80 peer=10.199.1.1"), std::string::npos) << out;
  out = Curl(topo.InClient({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1/"}), dir);
  EXPECT_NE(out.find("proxy orig=10.199.1.1:80 peer=10.199.0.2"), std::string::npos) << out;
  EXPECT_EQ(proxy.connections(), 1);
  EXPECT_EQ(origin.connections(), 1);
}

// HttpOrigin only binds 127.0.0.1: started inside the gateway ns and reached
// there as 10.199.1.1:80 through AddOriginRedirect.
TEST(NetnsTopologyTest, LoopbackHttpOriginServesTheOriginAddress) {
  TempDir dir;
  NetnsTopology topo;
  CREATE_TOPOLOGY_OR_SKIP(topo);
  HttpOrigin origin;
  saring::Status started;
  ASSERT_TRUE(topo.RunInGateway([&] { started = origin.Start(); }));
  ASSERT_TRUE(started.ok()) << started.ToString();
  origin.Route("/hello", HttpResponse::Ok("hello from the gateway\n"));
  std::string error;
  ASSERT_TRUE(topo.AddOriginRedirect(80, origin.port(), &error)) << error;

  std::string out = Curl(topo.InGateway({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1/hello"}), dir);
  EXPECT_NE(out.find("hello from the gateway"), std::string::npos) << out;
  EXPECT_EQ(origin.Requests("/hello"), 1);
  // The output rule is for the gateway's own connections only.
  out = Curl(topo.InClient({"/usr/bin/curl", "-sS", "-m", "5", "http://10.199.1.1/hello"}), dir);
  EXPECT_EQ(out.find("hello from the gateway"), std::string::npos) << out;
}

TEST(NetnsTopologyTest, IpNetnsExecKeepsThePid) {
  TempDir dir;
  NetnsTopology topo;
  CREATE_TOPOLOGY_OR_SKIP(topo);
  ChildProcess child;
  ASSERT_TRUE(child.Start(topo.InClient({"/bin/sh", "-c", "echo pid=$$; ip -br addr; exec sleep 60"}), dir.Sub("log")));
  ASSERT_TRUE(child.WaitForLog("veth-cli", std::chrono::seconds(5))) << child.Log();
  EXPECT_NE(child.Log().find("pid=" + std::to_string(child.pid()) + "\n"), std::string::npos) << child.Log();
  EXPECT_NE(child.Log().find("10.199.0.2/24"), std::string::npos) << child.Log();
  // The namespace of the PID we own is the client's.
  char link[256] = {}, want[256] = {};
  ASSERT_GT(readlink(("/proc/" + std::to_string(child.pid()) + "/ns/net").c_str(), link, sizeof link - 1), 0);
  ASSERT_TRUE(topo.RunInClient([&] { readlink("/proc/thread-self/ns/net", want, sizeof want - 1); }));
  EXPECT_STREQ(link, want);
  EXPECT_EQ(child.Stop(), 128 + SIGTERM);
}

TEST(NetnsTopologyTest, DestructorRemovesTheNamespaces) {
  std::string client, gateway;
  {
    NetnsTopology topo;
    CREATE_TOPOLOGY_OR_SKIP(topo);
    client = topo.client_ns();
    gateway = topo.gateway_ns();
    EXPECT_EQ(client.rfind("srg-cli-" + std::to_string(getpid()), 0), 0u) << client;
    EXPECT_EQ(gateway.rfind("srg-gw-" + std::to_string(getpid()), 0), 0u) << gateway;
    EXPECT_TRUE(std::filesystem::exists("/run/netns/" + client));
    EXPECT_TRUE(std::filesystem::exists("/run/netns/" + gateway));
    NetnsTopology second;
    CREATE_TOPOLOGY_OR_SKIP(second);
    EXPECT_NE(second.client_ns(), client);
  }
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + client));
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + gateway));
}

// Skips the test when Debian's chromium package is not installed.
#define REQUIRE_CHROMIUM_OR_SKIP()                                                 \
  do {                                                                             \
    if (access(ChromiumOptions().binary.c_str(), X_OK) != 0) {                     \
      GTEST_SKIP() << ChromiumOptions().binary << " missing: apt-get install chromium"; \
    }                                                                              \
  } while (0)

bool IsPng(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return data.size() > 100 && data.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

TEST(ChromiumTest, DumpsDomAndScreenshotInOneRun) {
  REQUIRE_CHROMIUM_OR_SKIP();
  TempDir dir;
  HttpOrigin origin;
  ASSERT_TRUE(origin.Start().ok());
  origin.Route("/page", HttpResponse::Ok("<html><body><h1>Hello from saring</h1></body></html>", "text/html"));
  ChromiumOptions options;
  options.url = origin.Url("/page");
  options.screenshot_path = dir.Sub("page.png");
  options.width = 800;
  options.height = 600;
  ChromiumResult r = RunChromium(options);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_NE(r.dom.find("<h1>Hello from saring</h1>"), std::string::npos) << r.dom << r.Describe();
  EXPECT_TRUE(IsPng(options.screenshot_path)) << r.Describe();
  EXPECT_EQ(origin.Requests("/page"), 1);
  std::printf("chromium direct run: %ld ms\n", r.elapsed_ms);
}

// The proxy here is a second HttpOrigin: Chromium sends it absolute-form
// requests ("GET http://127.0.0.1:P/page"), which it routes by that target.
TEST(ChromiumTest, SendsEverythingThroughTheProxyAndNothingElse) {
  REQUIRE_CHROMIUM_OR_SKIP();
  HttpOrigin site, proxy;
  ASSERT_TRUE(site.Start().ok());
  ASSERT_TRUE(proxy.Start().ok());
  std::string page = site.Url("/page");
  proxy.Route(page, HttpResponse::Ok("<html><body><p>via the proxy</p></body></html>", "text/html"));
  ChromiumOptions options;
  options.url = page;
  options.proxy = "127.0.0.1:" + std::to_string(proxy.port());
  ChromiumResult r = RunChromium(options);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_NE(r.dom.find("via the proxy"), std::string::npos) << r.dom << r.Describe();
  EXPECT_EQ(site.TotalRequests(), 0);  // loopback was not bypassed
  EXPECT_EQ(proxy.Requests(page), 1);
  // Nothing but the page (and maybe its favicon): no Google services.
  EXPECT_EQ(proxy.TotalRequests(), proxy.Requests(page) + proxy.Requests(site.Url("/favicon.ico")));
}

TEST(ChromiumTest, TimeoutKillsTheWholeProcessGroup) {
  REQUIRE_CHROMIUM_OR_SKIP();
  HttpOrigin origin;
  ASSERT_TRUE(origin.Start().ok());
  HttpResponse stall = HttpResponse::Ok(std::string(100000, 'x'), "text/html");
  stall.stall_after = 10;
  origin.Route("/stall", stall);
  ChromiumOptions options;
  options.url = origin.Url("/stall");
  options.timeout_ms = 3000;
  ChromiumResult r = RunChromium(options);
  EXPECT_TRUE(r.timed_out) << r.Describe();
  EXPECT_EQ(r.status, 128 + SIGKILL) << r.Describe();
  EXPECT_LT(r.elapsed_ms, 6000);
  // No process of the run is left: none has the profile folder in its argv.
  std::string profile;
  for (const std::string& a : r.argv) {
    if (a.rfind("--user-data-dir=", 0) == 0) profile = a;
  }
  ASSERT_FALSE(profile.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int left = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream f(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find(profile) != std::string::npos) ++left;
  }
  EXPECT_EQ(left, 0);
}

// The shape of the real transparent-proxy test: Chromium in the client ns,
// no proxy configured, port 80 redirected to a listener in the gateway.
TEST(ChromiumTest, RunsInTheClientNamespaceThroughTheRedirect) {
  REQUIRE_CHROMIUM_OR_SKIP();
  TempDir dir;
  NetnsTopology topo;
  CREATE_TOPOLOGY_OR_SKIP(topo);
  OrigDstServer proxy("proxy");
  bool listening = false;
  ASSERT_TRUE(topo.RunInGateway([&] { listening = proxy.Listen("0.0.0.0", 0); }));
  ASSERT_TRUE(listening);
  ASSERT_TRUE(topo.AddRedirect(80, proxy.port()));
  ChromiumOptions options;
  options.url = "http://10.199.1.1/";
  options.command_prefix = topo.InClient({});
  options.screenshot_path = dir.Sub("ns.png");
  ChromiumResult r = RunChromium(options);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_NE(r.dom.find("proxy orig=10.199.1.1:80 peer=10.199.0.2"), std::string::npos) << r.dom << r.Describe();
  EXPECT_TRUE(IsPng(options.screenshot_path)) << r.Describe();
  std::printf("chromium in client ns: %ld ms, %d connection(s) to the redirect\n", r.elapsed_ms,
              proxy.connections());
}

}  // namespace
}  // namespace saring::testing
