// The admin API's HTTP server against real clients: curl for what a
// well-behaved client does, raw sockets for what a hostile one does. Every
// test talks to 127.0.0.1 only and is bounded in time.
#include "admin/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace saring::admin {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::uint64_t Fnv1a(std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// One response as read off a raw socket.
struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A plain TCP client on 127.0.0.1, for the requests curl would never send.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

  // Reads until the server closes the connection (true) or `timeout` passes.
  bool ReadToClose(std::chrono::milliseconds timeout, std::string* out = nullptr) {
    auto deadline = Clock::now() + timeout;
    while (!eof_) {
      if (Fill(deadline) < 0) break;
    }
    if (out) *out = pending_;
    pending_.clear();
    return eof_;
  }

  // Reads until `text` has arrived (true), the server closes, or the timeout.
  bool WaitFor(std::string_view text, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (pending_.find(text) == std::string::npos) {
      if (Fill(deadline) <= 0) return false;
    }
    return true;
  }

  // Reads one response: the head, then a Content-Length body (none after a
  // HEAD request or for 1xx/204/304).
  bool ReadResponse(RawResponse* r, std::chrono::milliseconds timeout = 5000ms, bool head = false) {
    auto deadline = Clock::now() + timeout;
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (Fill(deadline) <= 0) return false;
    }
    *r = RawResponse();
    std::istringstream lines(pending_.substr(0, end));
    std::string line;
    std::getline(lines, line);
    if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return false;
    r->status = std::stoi(line.substr(9, 3));
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) return false;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r->headers[name] = value;
    }
    std::size_t body_size = 0;
    bool bodiless = head || r->status < 200 || r->status == 204 || r->status == 304;
    if (!bodiless) {
      if (!r->headers.count("content-length")) return false;
      body_size = std::stoul(r->headers["content-length"]);
    }
    while (pending_.size() < end + 4 + body_size) {
      if (Fill(deadline) <= 0) return false;
    }
    r->body = pending_.substr(end + 4, body_size);
    pending_.erase(0, end + 4 + body_size);
    return true;
  }

  const std::string& pending() const { return pending_; }

 private:
  // One poll and read: bytes read, 0 when the server closed, -1 on timeout.
  int Fill(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc == 0) return -1;
    if (rc < 0) return errno == EINTR ? Fill(deadline) : -1;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) return Fill(deadline);
    if (n <= 0) {
      eof_ = true;  // closed or reset
      return 0;
    }
    pending_.append(buf, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string pending_;
};

// Answers a JSON description of the request; /throw throws, /slow sleeps,
// /status/N answers N, /headers sets extra headers.
HttpResponse Echo(const HttpRequest& request) {
  if (request.path == "/throw") throw std::runtime_error("the handler broke");
  if (request.path == "/slow") std::this_thread::sleep_for(1500ms);
  HttpResponse response;
  if (request.path.rfind("/status/", 0) == 0) {
    response.status = std::stoi(request.path.substr(8));
    response.body = "status body";
    return response;
  }
  if (request.path == "/headers") {
    response.status = 201;
    response.content_type = "text/plain; charset=utf-8";
    response.headers = {{"X-Saring-Test", "yes"},
                        {"Location", "/v1/thing/7"},
                        {"X-Bad", "a\r\nInjected: 1"},
                        {"Content-Length", "99999"}};
    response.body = "created\n";
    return response;
  }
  json query = json::array();
  for (const auto& [k, v] : request.query) query.push_back({k, v});
  json headers = json::object();
  for (const auto& [k, v] : request.headers) {
    if (!headers.contains(k)) headers[k] = v;
  }
  json j = {{"method", request.method},
            {"target", request.target},
            {"path", request.path},
            {"query", query},
            {"headers", headers},
            {"body_size", request.body.size()},
            {"body_hash", std::to_string(Fnv1a(request.body))},
            {"client", request.client_address},
            {"tls", request.tls}};
  if (request.body.size() <= 4096) j["body"] = request.body;
  const std::string* name = request.Query("name");
  j["name_param"] = name ? *name : "<none>";
  j["host_header"] = std::string(request.Header("host"));
  response.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  static HttpServerOptions Loopback() {
    HttpServerOptions options;
    options.listen.address = "127.0.0.1";
    options.listen.port = 0;
    return options;
  }

  void StartServer(HttpServerOptions options = Loopback(), HttpHandler handler = Echo) {
    Status st = HttpServer::Start(options, std::move(handler), &server_);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_NE(server_->port(), 0);
  }

  std::string Url(const std::string& path) const { return server_->url() + path; }

  // curl, ignoring any ~/.curlrc and proxy settings, bounded in time.
  testing::ProgramResult Curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-q", "-sS", "--noproxy", "*", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProgram(argv, "", dir_.path());
  }

  testing::ProgramResult OpenSsl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "/usr/bin/openssl");
    return testing::RunProgram(args, input, dir_.path());
  }

  // A self-signed certificate for 127.0.0.1 (cert.pem, key.pem in the temp dir).
  void MakeCertificate() {
    auto r = OpenSsl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", dir_.Sub("key.pem"), "-out", dir_.Sub("cert.pem"), "-days", "2", "-subj",
                      "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
    ASSERT_EQ(r.status, 0) << r.err;
  }

  HttpServerOptions TlsOptions() {
    HttpServerOptions options = Loopback();
    options.tls_cert_file = dir_.Sub("cert.pem");
    options.tls_key_file = dir_.Sub("key.pem");
    return options;
  }

  std::string Get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
  }

  testing::TempDir dir_;
  std::unique_ptr<HttpServer> server_;
};

// ---------------------------------------------------------------------------
// Well-behaved clients (curl).

TEST_F(HttpServerTest, GetDecodesPathAndQueryAndSetsStandardHeaders) {
  StartServer();
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()));
  auto r = Curl({"-i", Url("/v1/check%20it/%C3%A9?name=a%2Bb&x=hello+world&flag&empty=&=v&&last=%26%3D")});
  ASSERT_EQ(r.status, 0) << r.err;
  std::size_t split = r.out.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos) << r.out;
  std::string head = r.out.substr(0, split + 2), body = r.out.substr(split + 4);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: application/json\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Server: saring\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Cache-Control: no-store\r\n"), std::string::npos) << head;

  json j = json::parse(body);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/v1/check it/\xC3\xA9");
  EXPECT_EQ(j["target"], "/v1/check%20it/%C3%A9?name=a%2Bb&x=hello+world&flag&empty=&=v&&last=%26%3D");
  json want = json::array({json::array({"name", "a+b"}), json::array({"x", "hello world"}),
                           json::array({"flag", ""}), json::array({"empty", ""}), json::array({"", "v"}),
                           json::array({"last", "&="})});
  EXPECT_EQ(j["query"], want);
  EXPECT_EQ(j["name_param"], "a+b");
  EXPECT_EQ(j["host_header"], "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(j["client"], "127.0.0.1");
  EXPECT_EQ(j["tls"], false);
  EXPECT_EQ(j["headers"]["user-agent"].get<std::string>().rfind("curl/", 0), 0u);
}

TEST_F(HttpServerTest, PostJsonBody) {
  StartServer();
  std::string payload = R"({"domains":["judi.example","slot.example"],"note":"ünïcode"})";
  auto r = Curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", payload,
                 Url("/v1/rules")});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/v1/rules");
  EXPECT_EQ(j["body"], payload);
  EXPECT_EQ(j["headers"]["content-type"], "application/json");
  EXPECT_EQ(j["headers"]["content-length"], std::to_string(payload.size()));
}

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
  StartServer();
  auto r = Curl({"-w", "%{http_code}:%{num_connects}\n", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                 Url("/a"), Url("/b?x=1"), Url("/c")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "200:1\n200:0\n200:0\n");
}

TEST_F(HttpServerTest, HandlerStatusAndExtraHeaders) {
  StartServer();
  auto r = Curl({"-i", Url("/headers")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("X-Saring-Test: yes\r\n"), std::string::npos);
  EXPECT_NE(r.out.find("Location: /v1/thing/7\r\n"), std::string::npos);
  EXPECT_EQ(r.out.find("Injected"), std::string::npos) << "a header with CR LF must be dropped";
  EXPECT_NE(r.out.find("Content-Length: 8\r\n"), std::string::npos) << "the handler cannot set Content-Length";
  EXPECT_EQ(r.out.substr(r.out.size() - 8), "created\n");

  // 204: no body and no Content-Length; a status out of range becomes a 500.
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send(Get("/status/204") + Get("/status/42") + Get("/status/404", "Connection: close\r\n")));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.Header("content-length"), "");
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 500);
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, "status body");
  EXPECT_TRUE(c.ReadToClose(3s));
}

TEST_F(HttpServerTest, HeadIsGetWithoutBodyAndPipeliningKeepsOrder) {
  StartServer();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  // Three requests in one write: HEAD, GET, GET with Connection: close.
  ASSERT_TRUE(c.Send("HEAD /x?name=h HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + Get("/x?name=h") +
                     Get("/last", "Connection: close\r\n")));
  RawResponse head, get, last;
  ASSERT_TRUE(c.ReadResponse(&head, 5000ms, /*head=*/true));
  ASSERT_TRUE(c.ReadResponse(&get));
  ASSERT_TRUE(c.ReadResponse(&last));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(head.Header("content-length"), std::to_string(get.body.size()));
  EXPECT_EQ(head.Header("content-type"), "application/json");
  EXPECT_EQ(json::parse(get.body)["method"], "GET");
  EXPECT_EQ(json::parse(get.body)["name_param"], "h");
  EXPECT_EQ(json::parse(last.body)["path"], "/last");
  EXPECT_EQ(last.Header("connection"), "close");
  std::string rest;
  EXPECT_TRUE(c.ReadToClose(3s, &rest)) << "Connection: close must be honoured";
  EXPECT_EQ(rest, "") << "nothing may follow the HEAD headers but the next response";

  // curl -I agrees.
  auto r = Curl({"-I", Url("/x")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(r.out.find("Content-Length: "), std::string::npos);
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  StartServer();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("GET /old HTTP/1.0\r\n\r\n"));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(c.ReadToClose(3s));
}

TEST_F(HttpServerTest, ExpectContinueWithOneMebibyteBody) {
  StartServer();
  std::string body(1 << 20, '\0');
  std::uint32_t x = 12345;
  for (char& ch : body) {
    x = x * 1664525u + 1013904223u;
    ch = static_cast<char>(x >> 24);
  }
  std::string file = dir_.Sub("body.bin");
  std::ofstream(file, std::ios::binary) << body;
  auto r = Curl({"-v", "-X", "POST", "-H", "Expect: 100-continue", "-H", "Content-Type: application/octet-stream",
                 "--data-binary", "@" + file, Url("/v1/import")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("HTTP/1.1 100 Continue"), std::string::npos) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["body_size"], body.size());
  EXPECT_EQ(j["body_hash"], std::to_string(Fnv1a(body)));

  // By hand: the 100 arrives before any of the body is sent.
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("POST /raw HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res, 3000ms));
  EXPECT_EQ(res.status, 100);
  ASSERT_TRUE(c.Send("hello"));
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(json::parse(res.body)["body"], "hello");
}

TEST_F(HttpServerTest, UnsupportedExpectIs417) {
  StartServer();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\n"));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 417);
  EXPECT_TRUE(json::parse(res.body).contains("error"));
  EXPECT_TRUE(c.ReadToClose(3s));
}

TEST_F(HttpServerTest, ChunkedBodyIsReassembled) {
  StartServer();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(json::parse(res.body)["body"], "hello, world");
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServingGoesOn) {
  StartServer();
  auto r = Curl({"-w", "%{http_code}:%{num_connects}\n", "-o", dir_.Sub("throw.json"), "-o", "/dev/null",
                 Url("/throw"), Url("/after")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "500:1\n200:0\n");
  std::ifstream in(dir_.Sub("throw.json"));
  json j = json::parse(in);
  EXPECT_EQ(j, json({{"error", "internal server error"}}));
}

TEST_F(HttpServerTest, BlockingHandlerLeavesOtherConnectionsServed) {
  HttpServerOptions options = Loopback();
  options.threads = 2;
  StartServer(options);
  RawClient slow(server_->port()), fast(server_->port());
  ASSERT_TRUE(slow.Send(Get("/slow")));
  std::this_thread::sleep_for(100ms);
  auto start = Clock::now();
  ASSERT_TRUE(fast.Send(Get("/fast")));
  RawResponse res;
  ASSERT_TRUE(fast.ReadResponse(&res, 3000ms));
  EXPECT_EQ(res.status, 200);
  EXPECT_LT(MillisSince(start), 1000);
  ASSERT_TRUE(slow.ReadResponse(&res, 5000ms));
  EXPECT_EQ(res.status, 200);
}

// ---------------------------------------------------------------------------
// HTTPS

TEST_F(HttpServerTest, HttpsWithSelfSignedCertificate) {
  MakeCertificate();
  StartServer(TlsOptions());
  EXPECT_EQ(server_->url(), "https://127.0.0.1:" + std::to_string(server_->port()));
  auto r = Curl({"--cacert", dir_.Sub("cert.pem"), "-w", "\n%{http_code}:%{num_connects}\n", Url("/v1/tls?name=x"),
                 Url("/second")});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string body1, status1, body2, status2;
  std::getline(lines, body1);
  std::getline(lines, status1);
  std::getline(lines, body2);
  std::getline(lines, status2);
  EXPECT_EQ(status1, "200:1");
  EXPECT_EQ(status2, "200:0");
  json j = json::parse(body1);
  EXPECT_EQ(j["tls"], true);
  EXPECT_EQ(j["path"], "/v1/tls");
  EXPECT_EQ(j["name_param"], "x");

  // A 1 MiB POST with 100-continue over TLS, and Connection: close.
  std::string file = dir_.Sub("body.bin");
  std::ofstream(file, std::ios::binary) << std::string(1 << 20, 'z');
  r = Curl({"--cacert", dir_.Sub("cert.pem"), "-H", "Expect: 100-continue", "-H", "Connection: close",
            "--data-binary", "@" + file, Url("/big")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["body_size"], 1 << 20);

  // Plain HTTP is not spoken on the HTTPS listener.
  r = Curl({Url("/x").replace(0, 5, "http")});
  EXPECT_NE(r.status, 0);
}

TEST_F(HttpServerTest, TlsBelow12IsRefused) {
  MakeCertificate();
  StartServer(TlsOptions());
  std::string connect = "127.0.0.1:" + std::to_string(server_->port());
  auto ok = OpenSsl({"s_client", "-connect", connect, "-tls1_2"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  auto old = OpenSsl({"s_client", "-connect", connect, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"});
  EXPECT_NE(old.status, 0) << old.out;
}

TEST_F(HttpServerTest, BadTlsHandshakeOnlyClosesThatConnection) {
  MakeCertificate();
  HttpServerOptions options = TlsOptions();
  options.header_timeout_ms = 1000;
  StartServer(options);
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send(Get("/not-tls")));
    EXPECT_TRUE(c.ReadToClose(3s));
  }
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send(std::string("\x16\x03\x01\x00\x05" "garbage-garbage-garbage", 28)));
    EXPECT_TRUE(c.ReadToClose(3s));
  }
  {
    // Says nothing at all: closed at the header timeout.
    RawClient c(server_->port());
    auto start = Clock::now();
    EXPECT_TRUE(c.ReadToClose(5s));
    EXPECT_LT(MillisSince(start), 3000);
  }
  auto r = Curl({"--cacert", dir_.Sub("cert.pem"), Url("/still-fine")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["path"], "/still-fine");
}

// ---------------------------------------------------------------------------
// Hostile input (raw sockets).

TEST_F(HttpServerTest, GarbageRequestLineIs400) {
  StartServer();
  std::vector<std::pair<std::string, int>> cases = {
      {"HELLO THERE\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
      {std::string("\x16\x03\x01\x02\x00\x01\r\n\r\n", 10), 400},
      {"GET / HTTP/9.9\r\n\r\n", 400},
  };
  for (const auto& [garbage, status] : cases) {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send(garbage));
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res)) << garbage;
    EXPECT_EQ(res.status, status) << garbage;
    EXPECT_EQ(res.Header("content-type"), "application/json");
    EXPECT_EQ(res.Header("connection"), "close");
    EXPECT_EQ(res.Header("server"), "saring");
    EXPECT_EQ(res.Header("cache-control"), "no-store");
    json j = json::parse(res.body);
    EXPECT_TRUE(j["error"].is_string()) << res.body;
    EXPECT_TRUE(c.ReadToClose(3s));
  }
}

TEST_F(HttpServerTest, MalformedPercentEncodingIs400ButKeepsTheConnection) {
  StartServer();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send(Get("/bad%zz") + Get("/nul%00") + Get("/ok")));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 400);
  EXPECT_TRUE(json::parse(res.body).contains("error"));
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 400);
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 200);
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  StartServer();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20 << 10, 'a') + "\r\n\r\n"));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  EXPECT_EQ(res.status, 431);
  EXPECT_TRUE(json::parse(res.body)["error"].is_string());
  EXPECT_TRUE(c.ReadToClose(3s));
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  HttpServerOptions options = Loopback();
  options.max_body_bytes = 1024;
  StartServer(options);
  {
    // Known from Content-Length: refused before the body is read, even
    // though the client goes on sending it.
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"));
    c.Send(std::string(50000, 'x'));
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(res.status, 413);
    EXPECT_TRUE(json::parse(res.body)["error"].is_string());
    EXPECT_TRUE(c.ReadToClose(3s));
  }
  {
    // Chunked: refused once the chunks pass the limit.
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
    for (int i = 0; i < 4; ++i) c.Send("200\r\n" + std::string(512, 'y') + "\r\n");
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(res.status, 413);
    EXPECT_TRUE(c.ReadToClose(3s));
  }
  {
    // Exactly the limit is fine.
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'z')));
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(res.status, 200);
  }
}

TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIs400) {
  StartServer();
  for (std::string head : {std::string("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
                           std::string("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
                           std::string("Transfer-Encoding: gzip\r\nContent-Length: 5\r\n"),
                           std::string("Transfer-Encoding: gzip\r\n"),
                           std::string("Content-Length: 5\r\nContent-Length: 6\r\n")}) {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST /smuggle HTTP/1.1\r\nHost: a\r\n" + head + "\r\n0\r\n\r\nGET /second HTTP/1.1\r\n\r\n"));
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res)) << head;
    EXPECT_EQ(res.status, 400) << head;
    EXPECT_TRUE(json::parse(res.body)["error"].is_string());
    std::string rest;
    EXPECT_TRUE(c.ReadToClose(3s, &rest));
    EXPECT_EQ(rest, "") << "the smuggled request must not be answered";
  }
}

TEST_F(HttpServerTest, SlowlorisIsCutOffAtTheHeaderTimeout) {
  HttpServerOptions options = Loopback();
  options.header_timeout_ms = 1000;
  StartServer(options);
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: "));
  auto start = Clock::now();
  std::string got;
  bool closed = false;
  while (MillisSince(start) < 6000 && !closed) {
    if (!c.Send("a")) break;  // the server is gone
    std::string chunk;
    closed = c.ReadToClose(200ms, &chunk);
    got += chunk;
  }
  long long elapsed = MillisSince(start);
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, 800);
  EXPECT_LT(elapsed, 3000);
  EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions options = Loopback();
  options.idle_timeout_ms = 500;
  options.header_timeout_ms = 5000;
  StartServer(options);
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send(Get("/")));
  RawResponse res;
  ASSERT_TRUE(c.ReadResponse(&res));
  auto start = Clock::now();
  EXPECT_TRUE(c.ReadToClose(4s));
  EXPECT_GE(MillisSince(start), 300);
  EXPECT_LT(MillisSince(start), 2500);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions options = Loopback();
  options.max_connections = 3;
  StartServer(options);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server_->port()));
    ASSERT_TRUE(held.back()->Send(Get("/hold")));
    RawResponse res;
    ASSERT_TRUE(held.back()->ReadResponse(&res));
    ASSERT_EQ(res.status, 200);
  }
  for (int i = 0; i < 5; ++i) {
    RawClient extra(server_->port());
    RawResponse res;
    ASSERT_TRUE(extra.ReadResponse(&res));
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(json::parse(res.body), json({{"error", "too many connections"}}));
    EXPECT_TRUE(extra.ReadToClose(3s));
  }
  // The held ones still work; once one goes, a new connection is served.
  ASSERT_TRUE(held[1]->Send(Get("/still")));
  RawResponse res;
  ASSERT_TRUE(held[1]->ReadResponse(&res));
  EXPECT_EQ(res.status, 200);
  held[0].reset();
  bool served = false;
  auto start = Clock::now();
  while (!served && MillisSince(start) < 3000) {
    RawClient again(server_->port());
    again.Send(Get("/again"));
    served = again.ReadResponse(&res) && res.status == 200;
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, HalfClosedConnections) {
  HttpServerOptions options = Loopback();
  options.header_timeout_ms = 2000;
  StartServer(options);
  {
    // A whole request, then the write side closed: the answer still comes.
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send(Get("/half") + Get("/half2")));
    c.ShutdownWrite();
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(res.status, 200);
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(json::parse(res.body)["path"], "/half2");
    EXPECT_TRUE(c.ReadToClose(3s));
  }
  {
    // Half a request head: 400, closed, without waiting for the timeout.
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("GET /partial HTTP/1.1\r\nHo"));
    c.ShutdownWrite();
    auto start = Clock::now();
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(res.status, 400);
    EXPECT_TRUE(c.ReadToClose(3s));
    EXPECT_LT(MillisSince(start), 1500);
  }
  {
    // Half a body.
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
    c.ShutdownWrite();
    RawResponse res;
    ASSERT_TRUE(c.ReadResponse(&res));
    EXPECT_EQ(res.status, 400);
    EXPECT_TRUE(c.ReadToClose(3s));
  }
  {
    // Connected and closed at once.
    RawClient c(server_->port());
    c.ShutdownWrite();
    std::string rest;
    EXPECT_TRUE(c.ReadToClose(3s, &rest));
    EXPECT_EQ(rest, "");
  }
  auto r = Curl({Url("/fine")});
  EXPECT_EQ(r.status, 0) << r.err;
}

// ---------------------------------------------------------------------------
// Start and Stop.

TEST_F(HttpServerTest, StartFailsOnAddressInUse) {
  StartServer();
  HttpServerOptions options = Loopback();
  options.listen.port = server_->port();
  std::unique_ptr<HttpServer> second;
  Status st = HttpServer::Start(options, Echo, &second);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_NE(st.message().find("in use"), std::string::npos) << st.ToString();
  EXPECT_EQ(second, nullptr);

  options.listen.address = "not-an-address";
  EXPECT_TRUE(HttpServer::Start(options, Echo, &second).IsInvalidArgument());
  options.listen.address = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  options.listen.port = 0;
  st = HttpServer::Start(options, Echo, &second);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(second, nullptr);

  // The first one is unharmed.
  auto r = Curl({Url("/ok")});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(HttpServerTest, StartFailsOnBadCertificateOrKey) {
  MakeCertificate();
  std::unique_ptr<HttpServer> server;
  auto start = [&](const std::string& cert, const std::string& key) {
    HttpServerOptions options = Loopback();
    options.tls_cert_file = cert;
    options.tls_key_file = key;
    return HttpServer::Start(options, Echo, &server);
  };
  std::string cert = dir_.Sub("cert.pem"), key = dir_.Sub("key.pem");
  std::ofstream(dir_.Sub("garbage.pem")) << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n";
  ASSERT_EQ(OpenSsl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                     dir_.Sub("other.pem")})
                .status,
            0);

  Status st = start(dir_.Sub("missing.pem"), key);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_NE(st.message().find("missing.pem"), std::string::npos) << st.ToString();
  st = start(dir_.Sub("garbage.pem"), key);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_NE(st.message().find("garbage.pem"), std::string::npos) << st.ToString();
  st = start(cert, dir_.Sub("garbage.pem"));
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  st = start(cert, dir_.Sub("other.pem"));
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_NE(st.message().find("does not match"), std::string::npos) << st.ToString();
  st = start(cert, "");
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_EQ(server, nullptr);

  st = start(cert, key);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(HttpServerTest, StopClosesOpenConnectionsPromptly) {
  MakeCertificate();
  StartServer();  // default timeouts: 10 s for a head, 60 s idle
  std::unique_ptr<HttpServer> tls;
  ASSERT_TRUE(HttpServer::Start(TlsOptions(), Echo, &tls).ok());

  RawClient silent(server_->port()), partial(server_->port()), idle(server_->port()),
      tls_silent(tls->port());
  ASSERT_TRUE(partial.Send("GET / HTTP/1.1\r\nHost: a\r\nX-"));
  ASSERT_TRUE(idle.Send(Get("/idle")));
  RawResponse res;
  ASSERT_TRUE(idle.ReadResponse(&res));
  std::this_thread::sleep_for(100ms);  // let the server accept them all

  auto start = Clock::now();
  server_->Stop();
  tls->Stop();
  EXPECT_LT(MillisSince(start), 1500);
  for (RawClient* c : {&silent, &partial, &idle, &tls_silent}) EXPECT_TRUE(c->ReadToClose(2s));
  server_->Stop();  // idempotent
  tls.reset();
}

TEST(JsonErrorTest, BuildsAnErrorObject) {
  HttpResponse r = JsonError(404, "no rule \"x\" here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(json::parse(r.body), json({{"error", "no rule \"x\" here"}}));
  r = JsonError(400, "bad \xff byte");  // invalid UTF-8 is replaced, not thrown
  EXPECT_TRUE(json::parse(r.body)["error"].is_string());
}

TEST(HttpRequestTest, HeaderAndQueryHelpers) {
  HttpRequest r;
  r.headers = {{"x-a", "1"}, {"x-a", "2"}};
  r.query = {{"k", "v"}, {"k", "w"}};
  EXPECT_EQ(r.Header("x-a"), "1");
  EXPECT_EQ(r.Header("x-b"), "");
  ASSERT_NE(r.Query("k"), nullptr);
  EXPECT_EQ(*r.Query("k"), "v");
  EXPECT_EQ(r.Query("z"), nullptr);
}

}  // namespace
}  // namespace saring::admin
