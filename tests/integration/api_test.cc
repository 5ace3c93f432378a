// The admin API end to end: the real saringd on loopback (Debian's unbound as
// its upstream, started here), with API tokens made by the real saringctl
// through saringd's control socket, and real clients: raw HTTP/1.1 over TCP
// sockets for the tables and the concurrent writers, curl for the forms outside
// tools use, dig and dnsperf for what DNS clients then see.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ctl/remote_client.h"
#include "saring/reference.h"
#include "testing/process.h"
#include "testing/self_signed_cert.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/unbound.h"

namespace saring {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::FreePort;
using testing::RunProgram;

std::string RemoteEscape(std::string_view v) { return ctl::RemoteClient::Escape(v); }

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client: one request per connection (Connection: close).

struct HttpResult {
  int status = 0;  // 0 = no response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;  // why there is no response

  json Json() const { return json::parse(body, nullptr, false); }
  // One member of the JSON body, by value (safe as a range-for's range).
  json Field(const std::string& key) const {
    json j = Json();
    return j.is_object() && j.contains(key) ? j[key] : json();
  }
  std::string Header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
  // For failure messages.
  std::string Show() const {
    return "HTTP " + std::to_string(status) + " " + body + (error.empty() ? "" : " [" + error + "]");
  }
};

struct HttpCall {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string auth;  // the whole Authorization value; "" = none
  std::string content_type = "application/json";
  std::string from = "127.0.0.1";  // the client's source address (any of 127/8)
  std::chrono::milliseconds timeout = 10s;
};

HttpCall Req(std::string method, std::string target, std::string body = "") {
  HttpCall c;
  c.method = std::move(method);
  c.target = std::move(target);
  c.body = std::move(body);
  return c;
}

// Parses what arrived; true when the response is complete.
bool ParseResponse(const std::string& in, bool eof, HttpResult* r) {
  std::size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::istringstream head(in.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.size() < 12 || !line.starts_with("HTTP/1.")) return false;
  int status = std::atoi(line.c_str() + 9);
  std::map<std::string, std::string> headers;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    headers[name] = value;
  }
  std::string body = in.substr(end + 4);
  auto cl = headers.find("content-length");
  if (cl != headers.end()) {
    std::size_t want = std::stoul(cl->second);
    if (body.size() < want) return false;
    body.resize(want);
  } else if (!eof) {
    return false;
  }
  r->status = status;
  r->headers = std::move(headers);
  r->body = std::move(body);
  return true;
}

// Sends the request while reading: a server may answer (413) before it has
// read a large body. Every wait is bounded by call.timeout.
HttpResult Http(int port, const HttpCall& call) {
  HttpResult r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, call.from.c_str(), &local.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    r.error = std::string("bind: ") + std::strerror(errno);
    close(fd);
    return r;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    r.error = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return r;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string out = call.method + " " + call.target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\nUser-Agent: saring-api-test\r\n";
  if (!call.auth.empty()) out += "Authorization: " + call.auth + "\r\n";
  if (!call.body.empty() || call.method == "POST" || call.method == "DELETE") {
    out += "Content-Type: " + call.content_type + "\r\nContent-Length: " + std::to_string(call.body.size()) +
           "\r\n";
  }
  out += "\r\n" + call.body;
  std::size_t sent = 0;
  std::string in;
  bool sending = true;
  auto deadline = std::chrono::steady_clock::now() + call.timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      r.error = "timed out";
      break;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (sending && (p.revents & POLLOUT)) {
      ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN) sending = false;  // the server stopped reading: read its answer
      if (sent == out.size()) sending = false;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        in.append(buf, static_cast<std::size_t>(n));
        if (ParseResponse(in, false, &r)) break;
      } else if (n == 0 || errno != EAGAIN) {
        if (!ParseResponse(in, true, &r)) r.error = "connection closed after " + std::to_string(in.size()) + " bytes";
        break;
      }
    }
  }
  close(fd);
  return r;
}

// ---------------------------------------------------------------------------
// dig

struct Dig {
  std::string status;  // NOERROR, NXDOMAIN, ...
  std::string ede;
  std::string raw;
};

Dig ParseDig(const std::string& out) {
  Dig d;
  d.raw = out;
  std::smatch m;
  if (std::regex_search(out, m, std::regex("status: ([A-Z]+)"))) d.status = m[1];
  if (std::regex_search(out, m, std::regex("EDE: ([^\\n]+)"))) d.ede = m[1];
  return d;
}

// One UDP query (A) to saringd; the answer's RCODE, or -1 after `wait`.
int UdpRcode(int port, const std::string& name, std::chrono::milliseconds wait = 3000ms) {
  static std::atomic<std::uint16_t> next_id{1};
  std::uint16_t id = next_id++;
  std::string q{static_cast<char>(id >> 8), static_cast<char>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = std::min(name.find('.', start), name.size());
    q.push_back(static_cast<char>(dot - start));
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q += std::string("\0\0\1\0\1", 5);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  int rcode = -1;
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (rcode < 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) != 1) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n >= 12 && static_cast<unsigned char>(buf[0]) == (id >> 8) && static_cast<unsigned char>(buf[1]) == (id & 0xff)) {
      rcode = buf[3] & 0x0f;
    }
  }
  close(fd);
  return rcode;
}

std::string Bearer(const std::string& token) { return "Bearer " + token; }

// A JSON error body: {"error": "..."}.
bool IsJsonError(const HttpResult& r) {
  json j = r.Json();
  return j.is_object() && j.contains("error") && j["error"].is_string() && !j["error"].get<std::string>().empty();
}

// ---------------------------------------------------------------------------
// The suite's saringd: unbound upstream, small bundled rules, admin API with a
// 1 MiB body limit and 5 reports a minute per client address.

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    scratch_ = new testing::TempDir;
    upstream_port_ = FreePort();
    unbound_ = new ChildProcess;
    StartUnbound();
    WriteRules();
    dns_port_ = FreePort();
    api_port_ = FreePort();
    db_ = dir_->Sub("db");
    std::ofstream(dir_->Sub("saringd.toml"))
        << "[server]\ndb = \"" << db_ << "\"\nrules = \"" << dir_->Sub("rules") << "\"\nworkers = 2\n"
        << "dns_listen = [\"127.0.0.1:" << dns_port_ << "\"]\n"
        << "[upstream]\nservers = [\"127.0.0.1:" << upstream_port_ << "\"]\ntimeout_ms = 1000\n"
        << "query_timeout_ms = 2000\n"
        << "[proxy]\nlisten = \"\"\n[admin]\nlisten = \"127.0.0.1:" << api_port_ << "\"\nmax_body_mb = 1\nreports_per_minute = 5\n"
        << "[feeds]\nschedule = false\n";
    saringd_ = new ChildProcess;
    ASSERT_TRUE(saringd_->Start({std::string(SARING_BIN_DIR) + "/saringd", "--config", dir_->Sub("saringd.toml")},
                                dir_->Sub("saringd.log")));
    ASSERT_TRUE(saringd_->WaitForLog("saringd ready", 20s)) << saringd_->Log();
    for (const char* role : {"viewer", "editor", "admin"}) {
      std::string id;
      tokens_[role] = MakeToken(role, std::string("test-") + role, &id);
      ASSERT_TRUE(tokens_[role].starts_with("srg_")) << tokens_[role];
    }
  }

  static void TearDownTestSuite() {
    delete saringd_;
    delete unbound_;
    delete scratch_;
    delete dir_;
  }

  void TearDown() override {
    if (!saringd_->Running()) {
      ADD_FAILURE() << "saringd ended (exit status " << saringd_->Wait() << "):\n" << saringd_->Log();
    }
  }

  // Only names under example.test (fixed data) and live.test (every name has
  // the apex's address) exist; everything else is refused: nothing leaves.
  static void StartUnbound() {
    testing::StartUnbound(dir_->Sub("unbound"), upstream_port_,
                          "  local-zone: \"example.test.\" static\n"
                          "  local-data: \"www.example.test. 300 IN A 192.0.2.10\"\n"
                          "  local-zone: \"live.test.\" redirect\n"
                          "  local-data: \"live.test. 300 IN A 192.0.2.50\"\n"
                          "  local-zone: \"slot88.com.\" static\n"
                          "  local-data: \"slot88.com. 300 IN A 192.0.2.88\"\n",
                          unbound_);
  }


  static void WriteRules() {
    std::string d = dir_->Sub("rules");
    std::filesystem::create_directories(d);
    std::ofstream(d + "/manifest.toml") << "[[source]]\nname = \"feed\"\nfile = \"feed.txt\"\n";
    std::ofstream(d + "/feed.txt") << "slot88.com\nreported-1.live.test\nreported-2.live.test\n"
                                   << "reported-3.live.test\n";
    std::ofstream(dir_->Sub("mfeed.txt")) << "feed-a.live.test\nfeed-b.live.test\n";
  }

  // `saringctl tokens create` through the running saringd; the token is on
  // stdout, its id on stderr.
  static std::string MakeToken(const std::string& role, const std::string& name, std::string* id) {
    auto r = Ctl({"tokens", "create", "--role", role, "--name", name});
    EXPECT_EQ(r.status, 0) << r.err;
    std::smatch m;
    std::string err = r.err;
    if (std::regex_search(err, m, std::regex("token ([0-9a-f]+) \\("))) *id = m[1];
    std::string token = r.out;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    return token;
  }

  static testing::ProgramResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringctl", "--db", db_});
    return RunProgram(args, "", scratch_->path());
  }

  static HttpResult Call(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::string& role = "editor") {
    HttpCall c;
    c.method = method;
    c.target = target;
    c.body = body;
    if (!role.empty()) c.auth = Bearer(tokens_[role]);
    return Http(api_port_, c);
  }

  static Dig Query(const std::string& name) {
    return ParseDig(RunProgram({"/usr/bin/dig", "@127.0.0.1", "-p", std::to_string(dns_port_), name, "A",
                                "+tries=1", "+time=3"},
                               "", scratch_->path())
                        .out);
  }

  // curl, as an outside tool calls the API: returns the status and the body.
  static std::pair<int, std::string> Curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}"});
    auto r = RunProgram(args, "", scratch_->path());
    std::size_t nl = r.out.rfind('\n');
    if (r.status != 0 || nl == std::string::npos) return {0, r.out + r.err};
    return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
  }
  static std::string Url(const std::string& target) { return "http://127.0.0.1:" + std::to_string(api_port_) + target; }

  // The snapshot's serial as /readyz tells it.
  static std::uint64_t Serial() {
    HttpResult r = Call("GET", "/readyz", "", "");
    return r.Json().value("serial", std::uint64_t{0});
  }

  // The values of one source's rules (all kinds), sorted.
  static std::set<std::string> RuleValues(const std::string& source) {
    HttpResult r = Call("GET", "/v1/rules?limit=10000&source=" + source, "", "viewer");
    std::set<std::string> out;
    json j = r.Json();
    EXPECT_EQ(r.status, 200) << r.Show();
    if (!j.is_object()) return out;
    for (const json& rule : j["rules"]) out.insert(rule["value"].get<std::string>());
    return out;
  }

  // Every audit record from `from_serial` on, following "next" page by page.
  static std::vector<json> AuditSince(std::uint64_t from_serial, int page_size = 10000) {
    std::vector<json> out;
    std::uint64_t from = from_serial;
    for (int page = 0; page < 2000; ++page) {
      HttpResult r = Call("GET", "/v1/audit?limit=" + std::to_string(page_size) + "&from=" + std::to_string(from), "",
                          "viewer");
      EXPECT_EQ(r.status, 200) << r.Show();
      json j = r.Json();
      if (!j.is_object()) break;
      for (const json& rec : j["records"]) out.push_back(rec);
      if (j["next"].is_null()) break;
      from = j["next"].get<std::uint64_t>();
    }
    return out;
  }

  static testing::TempDir* dir_;
  static testing::TempDir* scratch_;
  static ChildProcess* unbound_;
  static ChildProcess* saringd_;
  static int dns_port_, api_port_, upstream_port_;
  static std::string db_;
  static std::map<std::string, std::string> tokens_;
};

testing::TempDir* ApiTest::dir_ = nullptr;
testing::TempDir* ApiTest::scratch_ = nullptr;
ChildProcess* ApiTest::unbound_ = nullptr;
ChildProcess* ApiTest::saringd_ = nullptr;
int ApiTest::dns_port_ = 0;
int ApiTest::api_port_ = 0;
int ApiTest::upstream_port_ = 0;
std::string ApiTest::db_;
std::map<std::string, std::string> ApiTest::tokens_;

// ---------------------------------------------------------------------------
// 1. Who may call what.

enum class Need { kPublic, kViewer, kEditor, kAdmin };

struct Route {
  const char* name;
  std::string method;
  std::function<std::string(const std::string& who)> target;
  std::function<std::string(const std::string& who)> body;  // null = none
  Need need;
  int ok;  // the status when allowed
  std::string content_type = "application/json";
};

TEST_F(ApiTest, AuthorizationMatrix) {
  // What the allowed calls need: a feed, reports to resolve, rules to remove,
  // a token to revoke.
  HttpResult feed = Call("POST", "/v1/feeds",
                         json{{"name", "mfeed"}, {"url", "file://" + dir_->Sub("mfeed.txt")}}.dump(), "admin");
  ASSERT_EQ(feed.status, 201) << feed.Show();
  std::map<std::string, std::string> release_id, dismiss_id;
  int filed = 0;
  for (const char* who : {"editor", "admin"}) {
    for (auto* ids : {&release_id, &dismiss_id}) {
      HttpCall c = Req("POST", "/v1/reports", json{{"name", "slot88.com"}, {"message", "matrix"}}.dump());
      c.from = "127.0.3." + std::to_string(++filed);
      HttpResult r = Http(api_port_, c);
      ASSERT_EQ(r.status, 201) << r.Show();
      (*ids)[who] = std::to_string(r.Json()["id"].get<std::uint64_t>());
    }
  }
  const std::vector<std::string> variants = {"none", "unknown", "malformed", "basic", "viewer", "editor", "admin"};
  json removable = json::array();
  for (const std::string& who : variants) {
    removable.push_back({{"value", "del-" + who + ".live.test"}, {"source", "matrix-del"}});
  }
  ASSERT_EQ(Call("POST", "/v1/rules", removable.dump()).status, 200);
  std::string victim_id;
  std::string victim = MakeToken("viewer", "victim", &victim_id);
  ASSERT_FALSE(victim_id.empty());
  ASSERT_EQ(Call("GET", "/v1/rules", "", "").status, 401);
  HttpCall as_victim = Req("GET", "/v1/stats");
  as_victim.auth = Bearer(victim);
  ASSERT_EQ(Http(api_port_, as_victim).status, 200);

  auto fixed = [](std::string s) { return [s](const std::string&) { return s; }; };
  auto report_path = [](std::map<std::string, std::string>& ids, std::string verb) {
    return [&ids, verb](const std::string& who) {
      return "/v1/reports/" + (ids.count(who) ? ids[who] : ids["editor"]) + "/" + verb;
    };
  };
  std::vector<Route> routes = {
      {"healthz", "GET", fixed("/healthz"), nullptr, Need::kPublic, 200},
      {"readyz", "GET", fixed("/readyz"), nullptr, Need::kPublic, 200},
      {"file report", "POST", fixed("/v1/reports"),
       [](const std::string& who) { return json{{"name", "slot88.com"}, {"message", "by " + who}}.dump(); },
       Need::kPublic, 201},
      {"check", "GET", fixed("/v1/check?name=www.slot88.com"), nullptr, Need::kViewer, 200},
      {"list rules", "GET", fixed("/v1/rules?source=feed"), nullptr, Need::kViewer, 200},
      {"sources", "GET", fixed("/v1/sources"), nullptr, Need::kViewer, 200},
      {"feeds", "GET", fixed("/v1/feeds"), nullptr, Need::kViewer, 200},
      {"feed", "GET", fixed("/v1/feeds/mfeed"), nullptr, Need::kViewer, 200},
      {"feed runs", "GET", fixed("/v1/feeds/mfeed/runs"), nullptr, Need::kViewer, 200},
      {"audit", "GET", fixed("/v1/audit?limit=5"), nullptr, Need::kViewer, 200},
      {"reference", "GET", fixed("/v1/reference/" + EncodeReference(3, 0, RuleKind::kDomain)), nullptr,
       Need::kViewer, 200},
      {"stats", "GET", fixed("/v1/stats"), nullptr, Need::kViewer, 200},
      {"metrics", "GET", fixed("/metrics"), nullptr, Need::kViewer, 200},
      {"add rule", "POST", fixed("/v1/rules"),
       [](const std::string& who) {
         return json{{"kind", "domain"}, {"action", "block"}, {"value", "matrix-" + who + ".live.test"},
                     {"source", "matrix"}}
             .dump();
       },
       Need::kEditor, 200},
      {"remove rule", "DELETE", fixed("/v1/rules"),
       [](const std::string& who) { return json{{"value", "del-" + who + ".live.test"}, {"source", "matrix-del"}}.dump(); },
       Need::kEditor, 200},
      {"import", "POST", [](const std::string& who) { return "/v1/sources/imp-" + who + "/import"; },
       [](const std::string& who) { return "one.imp-" + who + ".test\ntwo.imp-" + who + ".test\n"; }, Need::kEditor,
       200, "text/plain"},
      {"sync feed", "POST", fixed("/v1/feeds/mfeed/sync"), nullptr, Need::kEditor, 200},
      {"list reports", "GET", fixed("/v1/reports"), nullptr, Need::kEditor, 200},
      {"release report", "POST", report_path(release_id, "release"), nullptr, Need::kEditor, 200},
      {"dismiss report", "POST", report_path(dismiss_id, "dismiss"),
       [](const std::string&) { return json{{"note", "not a mistake"}}.dump(); }, Need::kEditor, 200},
      {"add feed", "POST", fixed("/v1/feeds"),
       [](const std::string&) {
         return json{{"name", "matrixfeed"}, {"url", "file://" + dir_->Sub("mfeed.txt")}, {"every", "1d"}}.dump();
       },
       Need::kAdmin, 201},
      {"remove feed", "DELETE", fixed("/v1/feeds/matrixfeed"), nullptr, Need::kAdmin, 200},
      {"list tokens", "GET", fixed("/v1/tokens"), nullptr, Need::kAdmin, 200},
      {"make token", "POST", fixed("/v1/tokens"),
       [](const std::string& who) { return json{{"name", "made-by-" + who}, {"role", "viewer"}}.dump(); },
       Need::kAdmin, 201},
      {"revoke token", "DELETE", fixed("/v1/tokens/" + victim_id), nullptr, Need::kAdmin, 200},
  };

  auto auth_of = [&](const std::string& who) -> std::string {
    if (who == "none") return "";
    if (who == "unknown") return "Bearer srg_" + std::string("0123456789abcdef0123456789abcdef01234567");
    if (who == "malformed") return "Bearer xyz";
    if (who == "basic") return "Basic dXNlcjpwYXNzd29yZA==";
    return Bearer(tokens_[who]);
  };
  auto role_level = [](const std::string& who) {
    return who == "viewer" ? 1 : who == "editor" ? 2 : who == "admin" ? 3 : 0;
  };
  int from = 0;
  for (const Route& route : routes) {
    for (const std::string& who : variants) {
      SCOPED_TRACE(std::string(route.name) + " as " + who);
      HttpCall c;
      c.method = route.method;
      c.target = route.target(who);
      if (route.body) c.body = route.body(who);
      c.content_type = route.content_type;
      c.auth = auth_of(who);
      c.from = "127.0.4." + std::to_string(++from % 250 + 1);  // the report quota is per address
      HttpResult r = Http(api_port_, c);
      int need = static_cast<int>(route.need);
      if (need == 0 || (role_level(who) > 0 && role_level(who) >= need)) {
        EXPECT_EQ(r.status, route.ok) << c.method << " " << c.target << ": " << r.Show();
      } else if (role_level(who) == 0) {
        EXPECT_EQ(r.status, 401) << c.method << " " << c.target << ": " << r.Show();
        EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"saring\"");
        EXPECT_TRUE(IsJsonError(r)) << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << c.method << " " << c.target << ": " << r.Show();
        EXPECT_TRUE(IsJsonError(r)) << r.body;
        EXPECT_EQ(r.Header("www-authenticate"), "");
      }
    }
  }

  // Nothing a refused call asked for happened; what the allowed ones asked did.
  EXPECT_EQ(RuleValues("matrix"),
            (std::set<std::string>{"matrix-admin.live.test", "matrix-editor.live.test"}));
  EXPECT_EQ(RuleValues("matrix-del"),
            (std::set<std::string>{"del-basic.live.test", "del-malformed.live.test", "del-none.live.test",
                                   "del-unknown.live.test", "del-viewer.live.test"}));
  HttpResult sources = Call("GET", "/v1/sources", "", "viewer");
  std::set<std::string> imported;
  for (const json& s : sources.Field("sources")) {
    std::string name = s["name"];
    if (name.starts_with("imp-")) imported.insert(name);
  }
  EXPECT_EQ(imported, (std::set<std::string>{"imp-admin", "imp-editor"}));
  for (const char* who : {"editor", "admin"}) {
    HttpResult r = Call("GET", "/v1/reports?limit=1000");
    for (const json& rep : r.Field("reports")) {
      std::string id = std::to_string(rep["id"].get<std::uint64_t>());
      if (id == release_id[who]) {
        EXPECT_EQ(rep["state"], "released");
      }
      if (id == dismiss_id[who]) {
        EXPECT_EQ(rep["state"], "dismissed");
      }
    }
  }
  EXPECT_EQ(Call("GET", "/v1/feeds/matrixfeed", "", "viewer").status, 404);
  HttpResult tokens = Call("GET", "/v1/tokens", "", "admin");
  std::set<std::string> names;
  for (const json& t : tokens.Field("tokens")) names.insert(t["name"].get<std::string>());
  EXPECT_TRUE(names.count("made-by-admin"));
  EXPECT_FALSE(names.count("made-by-editor"));
  EXPECT_FALSE(names.count("victim"));
  EXPECT_EQ(Http(api_port_, as_victim).status, 401);  // revoked: refused at once
  HttpResult runs = Call("GET", "/v1/feeds/mfeed/runs", "", "viewer");
  EXPECT_EQ(runs.Json()["runs"].size(), 2u) << runs.body;  // the editor's and the admin's sync
  EXPECT_EQ(Query("feed-a.live.test").status, "NXDOMAIN");

  // The scheme's letter case does not matter (RFC 7235); the token's does.
  for (const std::string& scheme : {"bearer ", "BEARER "}) {
    HttpCall c = Req("GET", "/v1/stats");
    c.auth = scheme + tokens_["viewer"];
    EXPECT_EQ(Http(api_port_, c).status, 200) << scheme;
  }
  std::string upper = tokens_["viewer"];
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  HttpCall shouted = Req("GET", "/v1/stats");
  shouted.auth = Bearer(upper);
  EXPECT_EQ(Http(api_port_, shouted).status, 401);

  // The refusals are counted.
  HttpResult metrics = Call("GET", "/metrics", "", "viewer");
  EXPECT_NE(metrics.body.find("saring_api_refused_total"), std::string::npos);
}

// ---------------------------------------------------------------------------
// 2. Bad requests: 400 (413) with a JSON error, and nothing applied.

TEST_F(ApiTest, BadRequestsAreRefusedAndChangeNothing) {
  ASSERT_EQ(Call("POST", "/v1/rules", json{{"value", "keep.valid.test"}, {"source", "valid"}}.dump()).status, 200);
  std::uint64_t serial = Serial();
  std::set<std::string> before = RuleValues("valid");
  std::string long_label(300, 'a');
  struct Bad {
    const char* name;
    std::string method, target, body;
    std::string must_contain;  // in the error message
    int status = 400;
  };
  json three = json::array({{{"value", "first.valid.test"}, {"source", "valid"}},
                            {{"value", "second.valid.test"}, {"source", "valid"}},
                            {{"value", "third..valid.test"}, {"source", "valid"}}});
  json three_regex = three;
  three_regex[2] = {{"kind", "pattern"}, {"value", "judi(slot"}, {"source", "valid"}};
  std::vector<Bad> cases = {
      {"space in name", "POST", "/v1/rules", json{{"value", "not a name"}, {"source", "valid"}}.dump(), "not a name"},
      {"empty label", "POST", "/v1/rules", json{{"value", "a..b"}, {"source", "valid"}}.dump(), "a..b"},
      {"300-char label", "POST", "/v1/rules", json{{"value", long_label + ".com"}, {"source", "valid"}}.dump(), ""},
      {"bad regex", "POST", "/v1/rules",
       json{{"kind", "pattern"}, {"value", "(unclosed"}, {"source", "valid"}}.dump(), "parenthes"},
      {"unknown field", "POST", "/v1/rules",
       json{{"value", "x.valid.test"}, {"source", "valid"}, {"colour", "red"}}.dump(), "colour"},
      {"value not a string", "POST", "/v1/rules", json{{"value", 5}, {"source", "valid"}}.dump(), "value"},
      {"source not a string", "POST", "/v1/rules", json{{"value", "x.valid.test"}, {"source", {"a"}}}.dump(), "source"},
      {"kind unknown", "POST", "/v1/rules", json{{"kind", "ip"}, {"value", "x.valid.test"}, {"source", "valid"}}.dump(),
       "kind"},
      {"action unknown", "POST", "/v1/rules",
       json{{"action", "deny"}, {"value", "x.valid.test"}, {"source", "valid"}}.dump(), "action"},
      {"expires a bool", "POST", "/v1/rules",
       json{{"value", "x.valid.test"}, {"source", "valid"}, {"expires", true}}.dump(), "expires"},
      {"no source", "POST", "/v1/rules", json{{"value", "x.valid.test"}}.dump(), "source"},
      {"bad source name", "POST", "/v1/rules", json{{"value", "x.valid.test"}, {"source", "Not Valid"}}.dump(), "source"},
      {"rule not an object", "POST", "/v1/rules", json::array({"x.valid.test"}).dump(), ""},
      {"third of three bad", "POST", "/v1/rules", three.dump(), "rule 3"},
      {"third of three a bad regex", "POST", "/v1/rules", three_regex.dump(), "rule 3"},
      {"empty array", "POST", "/v1/rules", "[]", ""},
      {"not JSON", "POST", "/v1/rules", "value=x.valid.test&source=valid", "JSON"},
      {"truncated JSON", "POST", "/v1/rules", "{\"value\": \"x.valid.test\", ", "JSON"},
      {"remove: unknown field", "DELETE", "/v1/rules",
       json{{"value", "keep.valid.test"}, {"source", "valid"}, {"x", "y"}}.dump(), "x"},
      {"remove: bad name", "DELETE", "/v1/rules", json{{"value", "a..b"}, {"source", "valid"}}.dump(), ""},
      {"remove: wrong type", "DELETE", "/v1/rules", json{{"value", 1}, {"source", "valid"}}.dump(), "value"},
      {"remove: empty array", "DELETE", "/v1/rules", "[]", ""},
      {"list: limit=abc", "GET", "/v1/rules?limit=abc", "", "limit"},
      {"list: limit=-1", "GET", "/v1/rules?limit=-1", "", "limit"},
      {"list: limit too big", "GET", "/v1/rules?limit=99999999999999999999", "", "limit"},
      {"list: bad kind", "GET", "/v1/rules?kind=ip", "", "kind"},
      {"audit: from=abc", "GET", "/v1/audit?from=abc", "", "from"},
      {"audit: limit=1e3", "GET", "/v1/audit?limit=1e3", "", "limit"},
      {"runs: limit=abc", "GET", "/v1/feeds/mfeed/runs?limit=abc", "", "limit"},
      {"reports: limit=abc", "GET", "/v1/reports?limit=abc", "", "limit"},
      {"check: no name", "GET", "/v1/check", "", "name"},
      {"check: bad name", "GET", "/v1/check?name=a..b", "", "a..b"},
      {"import: bad format", "POST", "/v1/sources/valid/import?format=csv", "x.valid.test\n", "format"},
      {"import: bad shrink", "POST", "/v1/sources/valid/import?max_shrink_percent=abc", "x.valid.test\n",
       "max_shrink_percent"},
      {"release: bad id", "POST", "/v1/reports/abc/release", "", "id"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    HttpResult r = Call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << r.Show();
    ASSERT_TRUE(IsJsonError(r)) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    if (!c.must_contain.empty()) {
      EXPECT_NE(r.Json()["error"].get<std::string>().find(c.must_contain), std::string::npos) << r.body;
    }
  }

  // The regex error carries Hyperscan's own words.
  HttpResult regex = Call("POST", "/v1/rules", json{{"kind", "pattern"}, {"value", "(unclosed"}, {"source", "valid"}}.dump());
  EXPECT_NE(regex.Json()["error"].get<std::string>().find("Missing close parenthesis for group started at index 0"),
            std::string::npos) << regex.body;

  // Larger than [admin] max_body_mb = 1: 413, JSON, nothing applied.
  json big = json::array();
  std::string pad(1000, 'p');
  for (int i = 0; i < 1100; ++i) {
    big.push_back({{"value", "big" + std::to_string(i) + ".valid.test"}, {"source", "valid"}, {"note", pad}});
  }
  std::string big_body = big.dump();
  ASSERT_GT(big_body.size(), 1u << 20);
  HttpResult too_big = Call("POST", "/v1/rules", big_body);
  EXPECT_EQ(too_big.status, 413) << too_big.Show();
  EXPECT_TRUE(IsJsonError(too_big)) << too_big.body;
  // ... and the same from curl (which sends Expect: 100-continue for it).
  std::string big_file = scratch_->Sub("big.json");
  std::ofstream(big_file) << big_body;
  auto [curl_status, curl_body] = Curl({"-X", "POST", "-H", "Authorization: " + Bearer(tokens_["editor"]), "-H",
                                        "Content-Type: application/json", "--data-binary", "@" + big_file,
                                        Url("/v1/rules")});
  EXPECT_EQ(curl_status, 413) << curl_body;

  EXPECT_EQ(Serial(), serial);
  EXPECT_EQ(RuleValues("valid"), before);
  HttpResult sources = Call("GET", "/v1/sources", "", "viewer");
  for (const json& s : sources.Field("sources")) {
    if (s["name"] == "valid") {
      EXPECT_EQ(s["domains"], 1) << sources.body;
    }
  }
  // The server is still well: a good request right after works.
  HttpResult good = Call("POST", "/v1/rules", json{{"value", "first.valid.test"}, {"source", "valid"}}.dump());
  EXPECT_EQ(good.status, 200) << good.Show();
  EXPECT_GT(Serial(), serial);
}

// ---------------------------------------------------------------------------
// 3 and 4. The forms outside tools use, with curl; a 200 is enforced at once.

TEST_F(ApiTest, ExactFormsThroughCurlAndPushIsEnforcedAtOnce) {
  const std::string auth = "Authorization: " + Bearer(tokens_["editor"]);
  EXPECT_EQ(Query("judi-city.live.test").status, "NOERROR");
  EXPECT_EQ(Query("www.judi-city.live.test").status, "NOERROR");  // cached now

  auto [status, body] = Curl({"-X", "POST", "-H", auth, "-H", "Content-Type: application/json", "--data",
                              R"({"kind": "domain", "action": "block", "value": "Judi-City.live.test", )"
                              R"("source": "city", "note": "laporan warga #12"})",
                              Url("/v1/rules")});
  ASSERT_EQ(status, 200) << body;
  json j = json::parse(body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << body;
  EXPECT_EQ(j["accepted"], 1);
  EXPECT_EQ(j["changed"], 1);
  EXPECT_EQ(j["rules"][0]["value"], "judi-city.live.test");  // normalized
  EXPECT_EQ(j["rules"][0]["by"], "api:test-editor");
  // Enforced as soon as the 200 is in: the cached answer does not outlive it.
  Dig blocked = Query("www.judi-city.live.test");
  EXPECT_EQ(blocked.status, "NXDOMAIN") << blocked.raw;
  EXPECT_NE(blocked.ede.find("city"), std::string::npos) << blocked.raw;
  EXPECT_EQ(Query("judi-city.live.test").status, "NXDOMAIN");

  // An array, with an expiry and a pattern.
  std::tie(status, body) = Curl({"-X", "POST", "-H", auth, "-H", "Content-Type: application/json", "--data",
                                 R"([{"kind": "domain", "action": "block", "value": "arr-1.live.test", "source": "city"},)"
                                 R"( {"kind": "domain", "action": "block", "value": "arr-2.live.test", "source": "city",)"
                                 R"(  "category": "scam", "expires": "7d"},)"
                                 R"( {"kind": "pattern", "action": "block", "value": "togel[0-9]+", "source": "city"}])",
                                 Url("/v1/rules")});
  ASSERT_EQ(status, 200) << body;
  j = json::parse(body, nullptr, false);
  EXPECT_EQ(j["accepted"], 3);
  EXPECT_EQ(j["changed"], 3);
  for (const char* name : {"arr-1.live.test", "x.arr-2.live.test", "togel4d.live.test"}) {
    EXPECT_EQ(Query(name).status, "NXDOMAIN") << name;
  }

  // GET /v1/check?name=NAME
  std::tie(status, body) = Curl({"-H", "Authorization: " + Bearer(tokens_["viewer"]),
                                 Url("/v1/check?name=WWW.Judi-City.live.test")});
  ASSERT_EQ(status, 200) << body;
  j = json::parse(body, nullptr, false);
  EXPECT_EQ(j["name"], "www.judi-city.live.test");
  EXPECT_EQ(j["verdict"], "block");
  EXPECT_EQ(j["rule"], "judi-city.live.test");
  EXPECT_EQ(j["source"], "city");
  EXPECT_EQ(j["category"], "gambling");
  EXPECT_EQ(j["note"], "laporan warga #12");
  std::tie(status, body) = Curl({"-H", "Authorization: " + Bearer(tokens_["viewer"]),
                                 Url("/v1/check?name=x.arr-2.live.test")});
  j = json::parse(body, nullptr, false);
  EXPECT_EQ(j["category"], "scam") << body;
  EXPECT_TRUE(j.contains("expires_at")) << body;
  std::tie(status, body) = Curl({"-H", "Authorization: " + Bearer(tokens_["viewer"]),
                                 Url("/v1/check?name=clean.live.test")});
  j = json::parse(body, nullptr, false);
  EXPECT_EQ(j["verdict"], "pass") << body;
  EXPECT_TRUE(j["rule"].is_null());
  std::tie(status, body) = Curl({"-H", "Authorization: " + Bearer(tokens_["viewer"]),
                                 Url("/v1/check?url=https://www.togel88.live.test/x")});
  j = json::parse(body, nullptr, false);
  EXPECT_EQ(j["verdict"], "block") << body;
  EXPECT_EQ(j["kind"], "pattern") << body;

  // GET /metrics: Prometheus text.
  std::tie(status, body) = Curl({"-H", "Authorization: " + Bearer(tokens_["viewer"]), Url("/metrics")});
  ASSERT_EQ(status, 200) << body;
  for (const char* metric : {"saring_dns_queries_total", "saring_snapshot_serial", "saring_upstream_up",
                             "saring_dns_blocked_total", "saring_api_requests_total"}) {
    EXPECT_TRUE(std::regex_search(body, std::regex(std::string("(^|\\n)") + metric + "[ {]"))) << metric << "\n" << body;
    EXPECT_NE(body.find(std::string("# TYPE ") + metric + " "), std::string::npos) << metric;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(body, m, std::regex("\nsaring_snapshot_serial (\\d+)"))) << body;
  EXPECT_EQ(std::stoull(m[1]), Serial());
  auto ctype = RunProgram({"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{content_type}", "-H",
                           "Authorization: " + Bearer(tokens_["viewer"]), Url("/metrics")},
                          "", scratch_->path());
  EXPECT_TRUE(ctype.out.starts_with("text/plain; version=0.0.4")) << ctype.out;

  // GET /healthz, no token.
  std::tie(status, body) = Curl({Url("/healthz")});
  EXPECT_EQ(status, 200);
  EXPECT_EQ(json::parse(body, nullptr, false), json({{"status", "ok"}})) << body;

  // DELETE lifts the block at once too.
  std::tie(status, body) = Curl({"-X", "DELETE", "-H", auth, "-H", "Content-Type: application/json", "--data",
                                 R"({"value": "judi-city.live.test", "source": "city"})", Url("/v1/rules")});
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(Query("www.judi-city.live.test").status, "NOERROR");
  // Removing it again: 404, nothing else touched.
  std::tie(status, body) = Curl({"-X", "DELETE", "-H", auth, "-H", "Content-Type: application/json", "--data",
                                 R"([{"value": "arr-1.live.test", "source": "city"},)"
                                 R"( {"value": "judi-city.live.test", "source": "city"}])",
                                 Url("/v1/rules")});
  EXPECT_EQ(status, 404) << body;
  EXPECT_EQ(Query("arr-1.live.test").status, "NXDOMAIN");
}

// Every one of 40 pushes: NXDOMAIN on the first query after the 200.
TEST_F(ApiTest, EveryPushIsEnforcedByTheTimeItsResponseArrives) {
  for (int i = 0; i < 40; ++i) {
    std::string name = "push" + std::to_string(i) + ".live.test";
    if (i % 4 == 0) {
      ASSERT_EQ(Query(name).status, "NOERROR");  // some are cached first
    }
    HttpResult r = Call("POST", "/v1/rules", json{{"value", name}, {"source", "push"}}.dump());
    ASSERT_EQ(r.status, 200) << r.Show();
    EXPECT_EQ(Query(name).status, "NXDOMAIN") << name;
  }
}

// saringctl --server URL --token T: the same commands through the API, no
// --db (it may run on another machine), with the local output forms.
TEST_F(ApiTest, SaringctlRemoteModeRunsTheCommandsThroughTheApi) {
  auto remote = [](const std::string& role, std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringctl", "--server", Url(""), "--token",
                               tokens_[role]});
    return RunProgram(args, "", scratch_->path());
  };
  auto r = remote("editor", {"rules", "add", "--source", "remote", "--note", "from afar", "remote1.live.test",
                             "remote2.live.test"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 of 2 rules added or changed"), std::string::npos) << r.out;
  EXPECT_EQ(Query("remote1.live.test").status, "NXDOMAIN");

  r = remote("viewer", {"check", "x.remote1.live.test", "www.example.test"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("x.remote1.live.test\tblock\tdomain remote1.live.test\tsource=remote"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("www.example.test\tpass"), std::string::npos) << r.out;

  r = remote("viewer", {"rules", "list", "--source", "remote", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"note\":\"from afar\""), std::string::npos) << r.out;

  // Refusals come back as the API's message, with a failing exit status.
  r = remote("viewer", {"rules", "add", "--source", "remote", "remote3.live.test"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("HTTP 403"), std::string::npos) << r.err;
  r = remote("editor", {"rules", "add", "--kind", "pattern", "--source", "remote", "(unclosed"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Missing close parenthesis"), std::string::npos) << r.err;
  r = remote("editor", {"init"});
  EXPECT_NE(r.status, 0);

  // A bulk push from standard input, and the audit through the API.
  r = RunProgram({std::string(SARING_BIN_DIR) + "/saringctl", "--server", Url(""), "--token", tokens_["editor"],
                  "import", "--source", "remote-bulk", "-"},
                 "bulk1.live.test\nbulk2.live.test\n", scratch_->path());
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(Query("bulk2.live.test").status, "NXDOMAIN");
  r = remote("viewer", {"audit", "--from", "1", "--limit", "10000", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("remote-bulk"), std::string::npos);

  r = remote("editor", {"rules", "remove", "--source", "remote", "remote1.live.test"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Query("remote1.live.test").status, "NOERROR");
  r = remote("admin", {"tokens", "list"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("srg_"), std::string::npos) << "secrets never leave the store";
  r = RunProgram({std::string(SARING_BIN_DIR) + "/saringctl", "--server", "http://127.0.0.1:1", "--token", "x",
                  "stats"},
                 "", scratch_->path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Couldn't connect"), std::string::npos) << r.err;
}

// [admin] tls_cert/tls_key: the API speaks HTTPS only; a token works as over HTTP.
TEST_F(ApiTest, TheApiServesHttpsWithAConfiguredCertificate) {
  std::string base = dir_->Sub("tls");
  std::filesystem::create_directories(base);
  testing::SelfSignedCert cert = testing::MakeSelfSignedCert(base);
  int port = FreePort();
  std::ofstream(base + "/saringd.toml")
      << "[server]\ndb = \"" << base << "/db\"\nrules = \"" << dir_->Sub("rules") << "\"\nworkers = 1\n"
      << "dns_listen = [\"127.0.0.1:" << FreePort() << "\"]\n"
      << "[upstream]\nservers = [\"127.0.0.1:" << upstream_port_ << "\"]\n"
      << "[proxy]\nlisten = \"\"\n[admin]\nlisten = \"127.0.0.1:" << port << "\"\ntls_cert = \"" << cert.cert_file << "\"\ntls_key = \""
      << cert.key_file << "\"\n[feeds]\nschedule = false\n";
  ChildProcess tls_saringd;
  ASSERT_TRUE(tls_saringd.Start({std::string(SARING_BIN_DIR) + "/saringd", "--config", base + "/saringd.toml"},
                                base + "/log"));
  ASSERT_TRUE(tls_saringd.WaitForLog("saringd ready", 20s)) << tls_saringd.Log();
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  EXPECT_NE(tls_saringd.Log().find(url), std::string::npos) << tls_saringd.Log();
  auto [status, body] = Curl({"--cacert", cert.cert_file, url + "/healthz"});
  EXPECT_EQ(status, 200) << body;
  auto r = RunProgram({std::string(SARING_BIN_DIR) + "/saringctl", "--db", base + "/db", "tokens", "create",
                       "--role", "viewer", "--name", "tls"},
                      "", scratch_->path());
  ASSERT_EQ(r.status, 0) << r.err;
  std::string token = r.out.substr(0, r.out.find('\n'));
  std::tie(status, body) = Curl({"--cacert", cert.cert_file, "-H", "Authorization: Bearer " + token,
                                 url + "/v1/check?name=slot88.com"});
  EXPECT_EQ(status, 200) << body;
  r = RunProgram({std::string(SARING_BIN_DIR) + "/saringctl", "--server", url, "--cacert", cert.cert_file,
                  "--token", token, "check", "x.slot88.com"},
                 "", scratch_->path());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("x.slot88.com\t"), std::string::npos) << r.out;
  // Without the CA the client refuses the server; plain HTTP gets no API.
  EXPECT_EQ(Curl({url + "/healthz"}).first, 0);
  EXPECT_NE(Curl({"http://127.0.0.1:" + std::to_string(port) + "/healthz"}).first, 200);
}

// check?url= normalizes like the proxy: a URL rule on a hacked page catches
// its dodge spellings, and the rest of the host passes.
TEST_F(ApiTest, CheckUrlNormalizesLikeTheProxy) {
  HttpResult add = Call("POST", "/v1/rules",
                        json{{"kind", "url"}, {"value", "^http://dinas\\.live\\.test/uploads/slot/"},
                             {"source", "urlrules"}}
                            .dump());
  ASSERT_EQ(add.status, 200) << add.Show();
  for (const char* u : {"http://dinas.live.test/uploads/slot/x.html", "http://DINAS.live.test.:80/a/../uploads/%73lot/",
                        "http://dinas.live.test//uploads\\slot/?p=1"}) {
    HttpResult r = Call("GET", std::string("/v1/check?url=") + RemoteEscape(u), "", "viewer");
    ASSERT_EQ(r.status, 200) << r.Show();
    EXPECT_EQ(r.Json()["verdict"], "block") << u << " " << r.body;
    EXPECT_EQ(r.Json()["kind"], "url") << r.body;
  }
  HttpResult clean = Call("GET", "/v1/check?url=" + RemoteEscape("http://dinas.live.test/layanan/"), "", "viewer");
  EXPECT_EQ(clean.Json()["verdict"], "pass") << clean.body;
  EXPECT_EQ(Call("GET", "/v1/check?url=" + RemoteEscape("http://dinas.live.test/%00"), "", "viewer").status, 400);
}

// The block page's reference code names the snapshot and the rule class
// that blocked; an admin looks it up here.
TEST_F(ApiTest, ReferenceCodesFromTheBlockPageAreLookedUp) {
  std::string code = EncodeReference(42, 0, RuleKind::kUrl);
  HttpResult r = Call("GET", "/v1/reference/" + code, "", "viewer");
  ASSERT_EQ(r.status, 200) << r.Show();
  EXPECT_EQ(r.Json()["serial"], 42);
  EXPECT_EQ(r.Json()["kind"], "url");
  EXPECT_FALSE(r.Json()["source"].get<std::string>().empty());
  std::string typo = code;
  typo[5] = typo[5] == '1' ? '2' : '1';
  EXPECT_EQ(Call("GET", "/v1/reference/" + typo, "", "viewer").status, 400);
  EXPECT_EQ(Call("GET", "/v1/reference/" + EncodeReference(1, 0x0FFE, RuleKind::kDomain), "", "viewer").status,
            404);
  // saringctl says the same, through saringd's control socket.
  auto ctl = Ctl({"reference", code});
  ASSERT_EQ(ctl.status, 0) << ctl.err;
  EXPECT_NE(ctl.out.find("blocked by a url rule of source " + r.Json()["source"].get<std::string>()),
            std::string::npos)
      << ctl.out;
  EXPECT_EQ(Ctl({"reference", typo}).status, 1);
}

// ---------------------------------------------------------------------------
// 5. Reports from the block page.

TEST_F(ApiTest, ReportsAreFiledLimitedReleasedAndDismissed) {
  ASSERT_EQ(Query("reported-1.live.test").status, "NXDOMAIN");
  ASSERT_EQ(Query("reported-2.live.test").status, "NXDOMAIN");
  // JSON, from the block page's script.
  HttpCall c = Req("POST", "/v1/reports",
             json{{"name", "Reported-1.live.test"}, {"url", "http://reported-1.live.test/promo"},
                  {"message", "ini toko online biasa"}, {"reference", "B-1"}}
                 .dump());
  c.from = "127.0.5.1";
  HttpResult r = Http(api_port_, c);
  ASSERT_EQ(r.status, 201) << r.Show();
  std::uint64_t first = r.Json()["id"];
  EXPECT_EQ(r.Json()["state"], "open");
  // A form, as the block page posts without script; with curl.
  auto [status, body] = Curl({"--interface", "127.0.5.2", "-H", "Accept: application/json", "--data-urlencode",
                              "name=reported-2.live.test", "--data-urlencode", "message=salah blokir & tolong dibuka",
                              "--data", "lang=id", Url("/v1/reports")});
  ASSERT_EQ(status, 201) << body;
  std::uint64_t second = json::parse(body)["id"];
  EXPECT_EQ(second, first + 1);
  // A browser (no JSON in Accept) gets a thank-you page in its language.
  std::tie(status, body) = Curl({"--interface", "127.0.5.4", "--data", "name=reported-2.live.test&lang=id",
                                 Url("/v1/reports")});
  ASSERT_EQ(status, 201) << body;
  EXPECT_NE(body.find("Terima kasih"), std::string::npos) << body;
  EXPECT_NE(body.find("<b>" + std::to_string(second + 1) + "</b>"), std::string::npos) << body;
  std::tie(status, body) = Curl({"--interface", "127.0.5.4", "--data", "name=reported-2.live.test&lang=en",
                                 Url("/v1/reports")});
  EXPECT_NE(body.find("Thank you"), std::string::npos) << body;
  std::tie(status, body) = Curl({"--interface", "127.0.5.2", "--data", "name=reported-3.live.test&colour=red",
                                 Url("/v1/reports")});
  EXPECT_EQ(status, 400) << body;
  std::tie(status, body) = Curl({"--interface", "127.0.5.2", "--data", "message=no+name", Url("/v1/reports")});
  EXPECT_EQ(status, 400) << body;
  std::tie(status, body) = Curl({"--interface", "127.0.5.2", "--data", "name=not+a+name", Url("/v1/reports")});
  EXPECT_EQ(status, 400) << body;

  // The quota: 5 a minute per address; the 6th is 429 with Retry-After.
  // Another address is not affected.
  std::vector<int> statuses;
  HttpResult limited;
  for (int i = 0; i < 7; ++i) {
    HttpCall f = Req("POST", "/v1/reports", json{{"name", "reported-3.live.test"}, {"message", std::to_string(i)}}.dump());
    f.from = "127.0.5.3";
    HttpResult one = Http(api_port_, f);
    statuses.push_back(one.status);
    if (one.status == 429) limited = one;
  }
  EXPECT_EQ(statuses, (std::vector<int>{201, 201, 201, 201, 201, 429, 429}));
  EXPECT_EQ(limited.Header("retry-after"), "60");
  EXPECT_TRUE(IsJsonError(limited));
  HttpCall other = Req("POST", "/v1/reports", json{{"name", "reported-3.live.test"}}.dump());
  other.from = "127.0.5.4";
  EXPECT_EQ(Http(api_port_, other).status, 201);

  // The editor's list: newest first, the texts and the verdict when filed.
  HttpResult list = Call("GET", "/v1/reports?state=open&limit=100");
  ASSERT_EQ(list.status, 200) << list.Show();
  std::map<std::uint64_t, json> open;
  for (const json& rep : list.Field("reports")) open[rep["id"].get<std::uint64_t>()] = rep;
  ASSERT_TRUE(open.count(first) && open.count(second)) << list.body;
  EXPECT_EQ(open[first]["name"], "reported-1.live.test");
  EXPECT_EQ(open[first]["message"], "ini toko online biasa");
  EXPECT_EQ(open[first]["url"], "http://reported-1.live.test/promo");
  EXPECT_NE(open[first]["verdict"].get<std::string>().find("block by feed"), std::string::npos) << open[first];
  EXPECT_EQ(open[second]["message"], "salah blokir & tolong dibuka");

  // Release the first: an allow rule, the name resolves again, and the audit
  // log links the rule to the report.
  std::uint64_t serial = Serial();
  r = Call("POST", "/v1/reports/" + std::to_string(first) + "/release", json{{"note", "toko resmi"}}.dump());
  ASSERT_EQ(r.status, 200) << r.Show();
  EXPECT_EQ(r.Json()["state"], "released");
  EXPECT_EQ(r.Json()["resolved_by"], "api:test-editor");
  EXPECT_EQ(Query("reported-1.live.test").status, "NOERROR");
  EXPECT_EQ(Query("www.reported-1.live.test").status, "NOERROR");
  HttpResult check = Call("GET", "/v1/check?name=reported-1.live.test", "", "viewer");
  EXPECT_EQ(check.Json()["verdict"], "allow") << check.body;
  EXPECT_EQ(check.Json()["source"], "city") << check.body;
  bool linked = false;
  for (const json& rec : AuditSince(serial + 1)) {
    if (rec.value("link", "") != "report/" + std::to_string(first)) continue;
    EXPECT_EQ(rec["op"], "add") << rec;
    EXPECT_EQ(rec["detail"]["after"]["value"], "reported-1.live.test") << rec;
    EXPECT_EQ(rec["detail"]["after"]["action"], "allow") << rec;
    EXPECT_EQ(rec["by"], "api:test-editor") << rec;
    linked = true;
  }
  EXPECT_TRUE(linked);

  // Dismiss the second: the block stays.
  r = Call("POST", "/v1/reports/" + std::to_string(second) + "/dismiss", json{{"note", "memang judi"}}.dump());
  ASSERT_EQ(r.status, 200) << r.Show();
  EXPECT_EQ(r.Json()["state"], "dismissed");
  EXPECT_EQ(Query("reported-2.live.test").status, "NXDOMAIN");

  // Resolving twice: 409, whichever way.
  for (const auto& [id, verb] : std::vector<std::pair<std::uint64_t, std::string>>{
           {first, "release"}, {first, "dismiss"}, {second, "dismiss"}, {second, "release"}}) {
    HttpResult again = Call("POST", "/v1/reports/" + std::to_string(id) + "/" + verb);
    EXPECT_EQ(again.status, 409) << verb << " " << id << " " << again.Show();
    EXPECT_TRUE(IsJsonError(again));
  }
  EXPECT_EQ(Query("reported-2.live.test").status, "NXDOMAIN");
  EXPECT_EQ(Call("POST", "/v1/reports/999999/release").status, 404);
  EXPECT_EQ(Call("POST", "/v1/reports/" + std::to_string(second + 1) + "/release",
                 json{{"colour", "red"}}.dump()).status, 400);
  EXPECT_EQ(Call("GET", "/v1/reports/" + std::to_string(first) + "/release").status, 405);

  list = Call("GET", "/v1/reports?state=released");
  bool found = false;
  for (const json& rep : list.Field("reports")) found |= rep["id"] == first;
  EXPECT_TRUE(found) << list.body;
}

// The audit log's pages end between changes: a change of 30 rules read with
// limit=7 comes whole, and "next" goes on after it.
TEST_F(ApiTest, AuditPagesKeepAChangeWhole) {
  std::uint64_t serial = Serial();
  json many = json::array();
  for (int i = 0; i < 30; ++i) many.push_back({{"value", "many" + std::to_string(i) + ".live.test"}, {"source", "many"}});
  HttpResult r = Call("POST", "/v1/rules", many.dump());
  ASSERT_EQ(r.status, 200) << r.Show();
  std::uint64_t change = r.Json()["serial"];
  ASSERT_EQ(Call("POST", "/v1/rules", json{{"value", "after-many.live.test"}, {"source", "many"}}.dump()).status, 200);
  HttpResult page = Call("GET", "/v1/audit?limit=7&from=" + std::to_string(change), "", "viewer");
  ASSERT_EQ(page.status, 200) << page.Show();
  json j = page.Json();
  ASSERT_EQ(j["records"].size(), 30u) << page.body;
  for (const json& rec : j["records"]) EXPECT_EQ(rec["serial"], change);
  EXPECT_EQ(j["next"], change + 1);
  page = Call("GET", "/v1/audit?limit=7&from=" + std::to_string(change + 1), "", "viewer");
  j = page.Json();
  ASSERT_EQ(j["records"].size(), 1u) << page.body;
  EXPECT_EQ(j["records"][0]["detail"]["after"]["value"], "after-many.live.test");
  EXPECT_TRUE(j["next"].is_null()) << page.body;  // nothing after it
  // From before the change: a page of the records before it, then the change.
  std::vector<json> small = AuditSince(serial + 1, 3), big = AuditSince(serial + 1);
  EXPECT_EQ(small, big);
  int ours = 0;
  for (const json& rec : big) ours += rec["detail"].contains("after") && rec["detail"]["after"]["source"] == "many";
  EXPECT_EQ(ours, 31);
}

// ---------------------------------------------------------------------------
// 6. Writers in parallel while dnsperf runs.

struct Change {
  bool add;
  std::string value;
};

TEST_F(ApiTest, ConcurrentWritersUnderDnsLoad) {
  constexpr int kThreads = 8, kRules = 50;
  auto value = [](int t, int i) { return "t" + std::to_string(t) + "-r" + std::to_string(i) + ".conc.live.test"; };
  std::string queries = dir_->Sub("conc-queries.txt");
  {
    std::ofstream q(queries);
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
      q << value(static_cast<int>(rng() % kThreads), static_cast<int>(rng() % kRules)) << " A\n"
        << "www.example.test A\nslot88.com A\nn" << rng() % 200 << ".live.test A\n";
    }
  }
  std::uint64_t serial_before = Serial();

  // dnsperf runs back to back, 3 s each, for as long as the writers write.
  std::atomic<bool> writing{true};
  std::vector<std::string> perf_logs;
  std::thread perf([&] {
    for (int run = 0; run < 20; ++run) {
      ChildProcess p;
      std::string log = dir_->Sub("dnsperf-" + std::to_string(run) + ".log");
      if (!p.Start({"/usr/bin/dnsperf", "-s", "127.0.0.1", "-p", std::to_string(dns_port_), "-d", queries, "-l", "3",
                    "-Q", "1500", "-c", "4", "-t", "3"},
                   log)) {
        break;
      }
      auto deadline = std::chrono::steady_clock::now() + 15s;
      while (p.Running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
      p.Stop();
      perf_logs.push_back(p.Log());
      if (!writing) break;
    }
  });
  std::this_thread::sleep_for(500ms);

  // Each thread: 50 rules, two at a time every fifth request (an array), and
  // removes every fifth rule it added two steps before; after each 200 it asks
  // saringd's DNS (raw UDP) whether the change is in force.
  std::mutex mu;
  std::vector<Change> done;  // what got a 200
  std::vector<std::string> failures;
  auto writer = [&](int t) {
    std::vector<Change> mine;
    for (int i = 0; i < kRules; ++i) {
      json body;
      if (i % 5 == 0 && i + 1 < kRules) {
        body = json::array({{{"value", value(t, i)}, {"source", "conc"}}, {{"value", value(t, i + 1)}, {"source", "conc"}}});
      } else {
        body = {{"kind", "domain"}, {"action", "block"}, {"value", value(t, i)}, {"source", "conc"}};
      }
      HttpCall c = Req("POST", "/v1/rules", body.dump());
      c.auth = Bearer(tokens_["editor"]);
      c.timeout = 20s;
      HttpResult r = Http(api_port_, c);
      if (r.status == 200) {
        for (const json& one : body.is_array() ? body : json::array({body})) {
          mine.push_back({true, one["value"].get<std::string>()});
          // Enforced by the time the 200 is in, whatever the other writers do.
          if (int rcode = UdpRcode(dns_port_, one["value"]); rcode != 3) {
            std::lock_guard lock(mu);
            failures.push_back(one["value"].get<std::string>() + " answered rcode " + std::to_string(rcode) +
                               " after its 200");
          }
        }
      } else {
        std::lock_guard lock(mu);
        failures.push_back("add " + body.dump() + ": " + r.Show());
      }
      if (body.is_array()) ++i;
      if (i % 5 == 4) {
        HttpCall d = Req("DELETE", "/v1/rules", json{{"value", value(t, i - 2)}, {"source", "conc"}}.dump());
        d.auth = c.auth;
        d.timeout = 20s;
        HttpResult dr = Http(api_port_, d);
        if (dr.status == 200) {
          mine.push_back({false, value(t, i - 2)});
          if (int rcode = UdpRcode(dns_port_, value(t, i - 2)); rcode != 0) {
            std::lock_guard lock(mu);
            failures.push_back(value(t, i - 2) + " answered rcode " + std::to_string(rcode) + " after its removal");
          }
        } else {
          std::lock_guard lock(mu);
          failures.push_back("remove " + value(t, i - 2) + ": " + dr.Show());
        }
      }
    }
    std::lock_guard lock(mu);
    done.insert(done.end(), mine.begin(), mine.end());
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) writers.emplace_back(writer, t);
  for (auto& w : writers) w.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  writing = false;
  perf.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures[0];
  std::cout << "[ info ] " << done.size() << " changes from " << kThreads << " writers in " << seconds
            << " s, with " << perf_logs.size() << " dnsperf runs\n";

  // dnsperf: nothing lost, nothing failed.
  ASSERT_FALSE(perf_logs.empty());
  std::uint64_t sent = 0;
  for (const std::string& log : perf_logs) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, std::regex("Queries sent:\\s+(\\d+)"))) << log;
    sent += std::stoull(m[1]);
    ASSERT_TRUE(std::regex_search(log, m, std::regex("Queries lost:\\s+(\\d+)"))) << log;
    EXPECT_EQ(m[1], "0") << log;
    EXPECT_EQ(log.find("SERVFAIL"), std::string::npos) << log;
    EXPECT_NE(log.find("NXDOMAIN"), std::string::npos) << log;
  }
  EXPECT_GT(sent, 1000u);

  // The final rule list is what the successful responses add up to.
  std::set<std::string> expected;
  std::map<std::string, int> adds, removes;
  for (const Change& c : done) {
    if (c.add) {
      expected.insert(c.value);
      ++adds[c.value];
    } else {
      expected.erase(c.value);
      ++removes[c.value];
    }
  }
  EXPECT_EQ(adds.size(), static_cast<std::size_t>(kThreads * kRules));
  EXPECT_EQ(removes.size(), static_cast<std::size_t>(kThreads * (kRules / 5)));
  std::set<std::string> listed = RuleValues("conc");
  EXPECT_EQ(listed.size(), expected.size());
  EXPECT_EQ(listed, expected);

  // Every change is in the audit log exactly once.
  std::map<std::string, int> audit_adds, audit_removes;
  for (const json& rec : AuditSince(serial_before + 1)) {
    const json& detail = rec["detail"];
    if (rec["op"] == "add" && detail["after"]["source"] == "conc") {
      ++audit_adds[detail["after"]["value"]];
      EXPECT_EQ(rec["by"], "api:test-editor");
    } else if (rec["op"] == "remove" && detail["before"]["source"] == "conc") {
      ++audit_removes[detail["before"]["value"]];
    }
  }
  EXPECT_EQ(audit_adds, adds);
  EXPECT_EQ(audit_removes, removes);
  // Read in small pages, the log is the same: "next" never skips or repeats a
  // record, though a request of two rules is one change with two records.
  std::vector<json> whole = AuditSince(serial_before + 1), paged = AuditSince(serial_before + 1, 7);
  ASSERT_EQ(paged.size(), whole.size());
  EXPECT_EQ(paged, whole);

  // And DNS agrees with the list.
  EXPECT_EQ(Query(value(3, 49)).status, "NXDOMAIN");
  EXPECT_EQ(Query(value(3, 2)).status, "NOERROR");  // removed
}

}  // namespace
}  // namespace saring
