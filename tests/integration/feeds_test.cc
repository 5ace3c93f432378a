// Feeds end to end: the real saringd downloads lists from a scripted HTTP(S)
// origin on loopback (tests/testing/http_origin.h), driven by `saringctl feeds
// sync` over saringd's control socket and by the admin API, with Debian's
// unbound as the upstream. Every case is checked twice: by the run record
// (verdict, error, http status, counts) and by what saringd answers (dig:
// NXDOMAIN for the names of the set in force, the upstream's NOERROR for the
// others).
//
// Every wait is bounded: programs run under a deadline and are killed by PID
// when it passes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/http_origin.h"
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
using testing::HttpResponse;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---------------------------------------------------------------------------
// Programs, with a deadline.

using Ran = testing::BoundedRun;
using testing::RunBounded;

using testing::ReadWholeFile;
// Waits (bounded) for a child started with Spawn; SIGKILLs it at the deadline.
int WaitChild(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  int wstatus = 0;
  for (;;) {
    if (waitpid(pid, &wstatus, WNOHANG) == pid) {
      return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    }
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
}

// ---------------------------------------------------------------------------
// Lists.

// Generated names live under feed.test, which the upstream answers for any
// name (a redirect zone): NOERROR means "not blocked", NXDOMAIN "blocked by
// saringd".
std::string Name(const std::string& prefix, long i) { return prefix + std::to_string(i) + ".feed.test"; }

std::string List(const std::string& prefix, long first, long count) {
  std::string out;
  out.reserve(static_cast<std::size_t>(count) * (prefix.size() + 18));
  for (long i = first; i < first + count; ++i) out += Name(prefix, i) + "\n";
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  std::string h = haystack, n = needle;
  std::transform(h.begin(), h.end(), h.begin(), ::tolower);
  std::transform(n.begin(), n.end(), n.begin(), ::tolower);
  return h.find(n) != std::string::npos;
}

// ---------------------------------------------------------------------------
// One saringd with its own store.

struct Daemon {
  std::string base, db, config;
  int dns_port = 0, admin_port = 0;
  std::string token;
  ChildProcess process;
  std::string scratch;

  // Writes the config: the usual [server]/[upstream]/[admin], then `feeds`
  // (the [feeds] table and [[feed]] seeds).
  void Configure(const std::string& dir, int upstream_port, const std::string& feeds) {
    base = dir;
    db = base + "/db";
    scratch = base + "/scratch";
    config = base + "/saringd.toml";
    std::filesystem::create_directories(scratch);
    dns_port = FreePort();
    admin_port = FreePort();
    std::ofstream(config) << "[server]\ndb = \"" << db << "\"\nworkers = 1\ndns_listen = [\"127.0.0.1:"
                          << dns_port << "\"]\n"
                          << "[upstream]\nservers = [\"127.0.0.1:" << upstream_port
                          << "\"]\ntimeout_ms = 400\nquery_timeout_ms = 1200\n"
                          << "[proxy]\nlisten = \"\"\n[admin]\nlisten = \"127.0.0.1:" << admin_port << "\"\n"
                          << feeds;
  }

  // Starts (or restarts) saringd on the same store and config.
  ::testing::AssertionResult Start(std::chrono::seconds ready_within = 30s) {
    static int starts = 0;
    std::string log = base + "/saringd." + std::to_string(++starts) + ".log";
    if (!process.Start({std::string(SARING_BIN_DIR) + "/saringd", "--config", config}, log)) {
      return ::testing::AssertionFailure() << "cannot start saringd";
    }
    if (!process.WaitForLog("saringd ready", ready_within)) {
      return ::testing::AssertionFailure() << "saringd not ready within " << ready_within.count()
                                           << " s:\n" << process.Log();
    }
    return ::testing::AssertionSuccess();
  }

  Ran Ctl(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
    args.insert(args.begin(), {std::string(SARING_BIN_DIR) + "/saringctl", "--db", db});
    return RunBounded(args, scratch, timeout);
  }

  void MakeToken() {
    Ran r = Ctl({"tokens", "create", "--role", "admin", "--name", "t"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    token = r.out.substr(0, r.out.find_first_of("\r\n"));
    ASSERT_FALSE(token.empty());
  }

  // `saringctl feeds sync NAME [--force] --json`: the run record.
  json Sync(const std::string& feed, bool force = false, double* seconds = nullptr) {
    std::vector<std::string> args = {"feeds", "sync", feed, "--json"};
    if (force) args.push_back("--force");
    Ran r = Ctl(args, 90s);
    if (seconds) *seconds = r.seconds;
    EXPECT_FALSE(r.timed_out) << "feeds sync " << feed << " did not end";
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "feeds sync " << feed << ": status " << r.status << "\nout: " << r.out
                               << "\nerr: " << r.err;
    if (!j.is_object()) return json::object();
    std::string v = j.value("verdict", "");
    bool good = v == "applied" || v == "unchanged" || v == "not-modified";
    EXPECT_EQ(r.status, good ? 0 : 1) << "exit status of feeds sync for verdict " << v << ": " << r.err;
    return j;
  }

  // `saringctl feeds status NAME --json`: the runs, newest first.
  std::vector<json> Runs(const std::string& feed) {
    Ran r = Ctl({"feeds", "status", feed, "--json", "--limit", "100"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    std::vector<json> runs;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << line;
      if (j.is_object()) runs.push_back(j);
    }
    return runs;
  }

  json Feed(const std::string& feed) {
    Ran r = Ctl({"feeds", "list", "--json"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.value("name", "") == feed) return j;
    }
    ADD_FAILURE() << "no feed " << feed << " in: " << r.out;
    return json::object();
  }

  json Stats() {
    Ran r = Ctl({"stats", "--json"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j.is_object() ? j : json::object();
  }

  // Domains the source holds (stats --json), or -1 if there is no such source.
  long SourceDomains(const std::string& source) {
    json s = Stats();
    for (const json& src : s.value("sources", json::array())) {
      if (src.value("name", "") == source) return src.value("domains", 0L);
    }
    return -1;
  }

  // `saringctl check --json`: name -> "block" / "pass" / ...
  std::map<std::string, std::string> Check(const std::vector<std::string>& names) {
    std::vector<std::string> args = {"check", "--json"};
    args.insert(args.end(), names.begin(), names.end());
    Ran r = Ctl(args);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    std::map<std::string, std::string> verdicts;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object()) verdicts[j.value("name", "")] = j.value("verdict", "");
    }
    return verdicts;
  }

  // dig @saringd: the response status (NOERROR, NXDOMAIN...), "" when none.
  std::string Dig(const std::string& name) {
    Ran r = RunBounded({"/usr/bin/dig", "@127.0.0.1", "-p", std::to_string(dns_port), name, "A", "+tries=2",
                        "+time=2"},
                       scratch, 15s);
    std::smatch m;
    if (std::regex_search(r.out, m, std::regex("status: ([A-Z]+)"))) return m[1];
    return "";
  }

  // The admin API through curl: (HTTP status, body).
  std::pair<int, std::string> Api(const std::string& method, const std::string& target,
                                  std::chrono::seconds timeout = 60s) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-m", std::to_string(timeout.count()), "-X", method,
                                     "-w", "\n%{http_code}", "http://127.0.0.1:" + std::to_string(admin_port) + target};
    if (!token.empty()) argv.insert(argv.begin() + 1, {"-H", "Authorization: Bearer " + token});
    Ran r = RunBounded(argv, scratch, timeout + 5s);
    std::size_t nl = r.out.rfind('\n');
    if (nl == std::string::npos) return {0, r.out + r.err};
    return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
  }

  json ApiJson(const std::string& method, const std::string& target, int want_status = 200) {
    auto [status, body] = Api(method, target);
    EXPECT_EQ(status, want_status) << method << " " << target << ": " << body;
    json j = json::parse(body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << body;
    return j.is_discarded() ? json::object() : j;
  }

  // GET /v1/check?name=: "block" or "pass".
  std::string ApiVerdict(const std::string& name) {
    return ApiJson("GET", "/v1/check?name=" + name).value("verdict", "");
  }
};

// ---------------------------------------------------------------------------

class FeedsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto start = Clock::now();
    dir_ = new testing::TempDir;
    upstream_port_ = FreePort();
    unbound_ = new ChildProcess;
    testing::StartUnbound(dir_->Sub("unbound"), upstream_port_,
                          "  local-zone: \"feed.test.\" redirect\n"
                          "  local-data: \"feed.test. 300 IN A 192.0.2.1\"\n",
                          unbound_);

    origin_ = new HttpOrigin;
    ASSERT_TRUE(origin_->Start().ok());
    std::filesystem::create_directories(dir_->Sub("cert"));
    std::filesystem::create_directories(dir_->Sub("other-cert"));
    testing::SelfSignedCert cert = testing::MakeSelfSignedCert(dir_->Sub("cert"));
    testing::SelfSignedCert other = testing::MakeSelfSignedCert(dir_->Sub("other-cert"));
    tls_origin_ = new HttpOrigin;
    ASSERT_TRUE(tls_origin_->Start({cert.cert_file, cert.key_file, 0}).ok());
    untrusted_origin_ = new HttpOrigin;
    ASSERT_TRUE(untrusted_origin_->Start({other.cert_file, other.key_file, 0}).ok());

    // The shared saringd: runs only when synced, the generated CA trusted,
    // short download timeouts so a stalled mirror costs seconds.
    daemon_ = new Daemon;
    daemon_->Configure(dir_->Sub("main"), upstream_port_,
                       "[feeds]\nschedule = false\nca_file = \"" + cert.cert_file +
                           "\"\nstall_timeout_s = 2\nconnect_timeout_s = 2\nattempts = 1\n"
                           "[[feed]]\nname = \"seeded\"\nurl = \"" + origin_->Url("/seeded/list") +
                           "\"\ncategory = \"gambling\"\n");
    ASSERT_TRUE(daemon_->Start());
    daemon_->MakeToken();
    std::printf("[ suite    ] unbound, origins and saringd up in %.2f s\n", SecondsSince(start));
  }

  static void TearDownTestSuite() {
    delete daemon_;
    delete untrusted_origin_;
    delete tls_origin_;
    delete origin_;
    delete unbound_;
    delete dir_;
  }

  void TearDown() override {
    if (HasFailure() && daemon_) std::printf("saringd log tail:\n%s\n", Tail(daemon_->process.Log()).c_str());
  }

  static std::string Tail(const std::string& log, std::size_t lines = 30) {
    std::size_t pos = log.size();
    for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) pos = log.rfind('\n', pos - 1);
    return pos == std::string::npos ? log : log.substr(pos + 1);
  }

  // Adds feed `name` at `url` through saringctl (saringd's control socket).
  static void AddFeed(const std::string& name, const std::string& url) {
    Ran r = daemon_->Ctl({"feeds", "add", "--name", name, "--url", url});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  // Serves `count` names `prefix`0.. at `path` and syncs feed `name` until
  // that set is in force (the baseline the misbehaving mirror must not spoil).
  static void Baseline(const std::string& name, const std::string& path, const std::string& prefix,
                       long count = 1000) {
    origin_->Route(path, HttpResponse::Ok(List(prefix, 0, count)));
    json run = daemon_->Sync(name);
    ASSERT_EQ(run.value("verdict", ""), "applied") << run.dump();
    ASSERT_EQ(run.value("rules_after", 0L), count) << run.dump();
    ASSERT_EQ(daemon_->SourceDomains(name), count);
  }

  // The set `prefix`0..count-1 is in force: the source holds exactly it, and
  // saringd answers NXDOMAIN for samples of it.
  static void ExpectInForce(const std::string& source, const std::string& prefix, long count) {
    EXPECT_EQ(daemon_->SourceDomains(source), count) << "source " << source;
    for (long i : {0L, count / 2, count - 1}) {
      EXPECT_EQ(daemon_->Dig(Name(prefix, i)), "NXDOMAIN") << Name(prefix, i) << " should be blocked";
    }
  }

  static void ExpectNotBlocked(const std::string& name) {
    EXPECT_EQ(daemon_->Dig(name), "NOERROR") << name << " should not be blocked";
    EXPECT_EQ(daemon_->ApiVerdict(name), "pass") << name;
  }

  static testing::TempDir* dir_;
  static int upstream_port_;
  static ChildProcess* unbound_;
  static HttpOrigin* origin_;
  static HttpOrigin* tls_origin_;
  static HttpOrigin* untrusted_origin_;
  static Daemon* daemon_;
};

testing::TempDir* FeedsTest::dir_ = nullptr;
int FeedsTest::upstream_port_ = 0;
ChildProcess* FeedsTest::unbound_ = nullptr;
HttpOrigin* FeedsTest::origin_ = nullptr;
HttpOrigin* FeedsTest::tls_origin_ = nullptr;
HttpOrigin* FeedsTest::untrusted_origin_ = nullptr;
Daemon* FeedsTest::daemon_ = nullptr;

// 1. The feed seeded by the config: a good (gzipped) list is applied and its
// names are answered NXDOMAIN.
TEST_F(FeedsTest, GoodListIsAppliedAndItsNamesBlocked) {
  std::string body = List("good", 0, 1000);
  HttpResponse r = HttpResponse::Ok(body);
  r.gzip = true;
  origin_->Route("/seeded/list", r);
  ASSERT_EQ(daemon_->SourceDomains("seeded"), -1) << "nothing before the first run";

  json run = daemon_->Sync("seeded");
  EXPECT_EQ(run.value("verdict", ""), "applied") << run.dump();
  EXPECT_EQ(run.value("error", "?"), "");
  EXPECT_EQ(run.value("http_status", 0), 200);
  EXPECT_EQ(run.value("bytes", 0UL), body.size()) << "decoded bytes";
  EXPECT_EQ(run.value("lines", 0), 1000);
  EXPECT_EQ(run.value("accepted", 0), 1000);
  EXPECT_EQ(run.value("rejected", -1), 0);
  EXPECT_EQ(run.value("added", 0), 1000);
  EXPECT_EQ(run.value("removed", -1), 0);
  EXPECT_EQ(run.value("rules_before", -1), 0);
  EXPECT_EQ(run.value("rules_after", 0), 1000);
  EXPECT_EQ(run.value("attempts", 0), 1);
  EXPECT_EQ(run.value("trigger", ""), "manual");
  EXPECT_GT(run.value("serial", 0), 0);
  EXPECT_NE(origin_->LastRequestHeader("/seeded/list", "accept-encoding").find("gzip"), std::string::npos);

  ExpectInForce("seeded", "good", 1000);
  ExpectNotBlocked(Name("good", 1000));
  json check = daemon_->ApiJson("GET", "/v1/check?name=" + Name("good", 7));
  EXPECT_EQ(check.value("verdict", ""), "block") << check.dump();
  EXPECT_EQ(check.value("source", ""), "seeded");
  EXPECT_EQ(check.value("category", ""), "gambling");

  json feed = daemon_->Feed("seeded");
  EXPECT_EQ(feed.value("last_verdict", ""), "applied");
  EXPECT_EQ(feed.value("failures", -1), 0);
  EXPECT_EQ(feed.value("created_by", ""), "config");
}

// An adblock-format feed opens with its "[Adblock Plus 2.0]" header, as
// EasyList-style lists do: that is a list, not JSON.
TEST_F(FeedsTest, AdblockListWithItsHeaderIsApplied) {
  Ran add = daemon_->Ctl({"feeds", "add", "--name", "adblock", "--url", origin_->Url("/adblock/list"), "--format",
                          "adblock"});
  ASSERT_EQ(add.status, 0) << add.out << add.err;
  std::string body = "[Adblock Plus 2.0]\n! Title: test ads\n! Expires: 1 day\n";
  for (int i = 0; i < 200; ++i) body += "||" + Name("ads", i) + "^\n";
  origin_->Route("/adblock/list", HttpResponse::Ok(body));
  json run = daemon_->Sync("adblock");
  EXPECT_EQ(run.value("verdict", ""), "applied") << run.dump();
  EXPECT_EQ(run.value("accepted", 0), 200);
  ExpectInForce("adblock", "ads", 200);

  // A JSON error document is still no list.
  origin_->Route("/adblock/list", HttpResponse::Ok("[{\"error\": \"rate limited\"}]\n", "application/json"));
  run = daemon_->Sync("adblock");
  EXPECT_EQ(run.value("verdict", ""), "rejected") << run.dump();
  ExpectInForce("adblock", "ads", 200);
}

// 2. The same list again: the ETag makes it a 304 and nothing changes.
TEST_F(FeedsTest, SameListWithEtagIsNotModified) {
  AddFeed("etag", origin_->Url("/etag/list"));
  HttpResponse r = HttpResponse::Ok(List("etag", 0, 1000));
  r.etag = "\"v1\"";
  origin_->Route("/etag/list", r);

  // Through the admin API this time.
  json first = daemon_->ApiJson("POST", "/v1/feeds/etag/sync");
  ASSERT_EQ(first.value("verdict", ""), "applied") << first.dump();
  EXPECT_EQ(daemon_->Feed("etag").value("etag", ""), "\"v1\"");
  auto source = [] {
    json stats = daemon_->Stats();
    for (const json& s : stats.value("sources", json::array())) {
      if (s.value("name", "") == "etag") return s;
    }
    return json::object();
  };
  json source_before = source();

  json again = daemon_->ApiJson("POST", "/v1/feeds/etag/sync");
  EXPECT_EQ(again.value("verdict", ""), "not-modified") << again.dump();
  EXPECT_EQ(again.value("http_status", 0), 304);
  EXPECT_EQ(again.value("bytes", -1), 0);
  EXPECT_EQ(again.value("added", -1) + again.value("removed", -1) + again.value("changed", -1), 0);
  EXPECT_EQ(again.value("serial", -1), 0) << "nothing committed";
  EXPECT_EQ(again.value("error", "?"), "");
  EXPECT_EQ(origin_->LastRequestHeader("/etag/list", "if-none-match"), "\"v1\"");
  json source_after = source();
  EXPECT_EQ(source_after.value("domains", 0), 1000);
  EXPECT_EQ(source_after.value("updated_at", 0), source_before.value("updated_at", 0)) << "source untouched";
  ExpectInForce("etag", "etag", 1000);

  // saringctl too; and --force ignores the ETag (a full download, nothing to change).
  EXPECT_EQ(daemon_->Sync("etag").value("verdict", ""), "not-modified");
  json forced = daemon_->Sync("etag", /*force=*/true);
  EXPECT_EQ(forced.value("verdict", ""), "unchanged") << forced.dump();
  EXPECT_EQ(forced.value("http_status", 0), 200);
  EXPECT_TRUE(forced.value("forced", false));
  EXPECT_EQ(origin_->LastRequestHeader("/etag/list", "if-none-match"), "");
  json feed = daemon_->Feed("etag");
  EXPECT_EQ(feed.value("etag", ""), "\"v1\"");
  EXPECT_EQ(feed.value("failures", -1), 0);

  // A mirror that only sends Last-Modified: If-Modified-Since does the same.
  AddFeed("lastmod", origin_->Url("/lastmod/list"));
  HttpResponse lm = HttpResponse::Ok(List("lastmod", 0, 10));
  lm.last_modified = "Tue, 03 Nov 2026 10:00:00 GMT";
  origin_->Route("/lastmod/list", lm);
  EXPECT_EQ(daemon_->Sync("lastmod").value("verdict", ""), "applied");
  json lm_again = daemon_->Sync("lastmod");
  EXPECT_EQ(lm_again.value("verdict", ""), "not-modified") << lm_again.dump();
  EXPECT_EQ(lm_again.value("http_status", 0), 304);
  EXPECT_EQ(origin_->LastRequestHeader("/lastmod/list", "if-modified-since"), lm.last_modified);
  EXPECT_EQ(daemon_->Dig(Name("lastmod", 3)), "NXDOMAIN");
}

// 3. A body cut short (Content-Length promises more): failed, "truncated",
// the previous set stays.
TEST_F(FeedsTest, TruncatedResponseFailsAndKeepsThePreviousSet) {
  AddFeed("trunc", origin_->Url("/trunc/list"));
  Baseline("trunc", "/trunc/list", "trunc");
  HttpResponse r = HttpResponse::Ok(List("cut", 0, 1000));
  r.truncate_after = r.body.size() / 2;
  origin_->Route("/trunc/list", r);

  json run = daemon_->Sync("trunc");
  EXPECT_TRUE(run.value("verdict", "") == "failed" || run.value("verdict", "") == "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "truncated")) << run.dump();
  EXPECT_EQ(run.value("http_status", 0), 200);
  EXPECT_EQ(run.value("added", -1), 0);
  EXPECT_EQ(run.value("serial", -1), 0);
  ExpectInForce("trunc", "trunc", 1000);
  ExpectNotBlocked(Name("cut", 1));  // in the half that did arrive
  EXPECT_EQ(daemon_->Feed("trunc").value("failures", 0), 1);

  // Chunked, cut at a line boundary before the last chunk: no length to
  // compare with, but the missing terminating chunk still gives it away.
  r = HttpResponse::Ok(List("cut", 0, 5000));  // ~90 KB: six 16 KB chunks
  r.chunked = true;
  r.truncate_after = 2 * (6 + 16384 + 2);  // two whole chunks ("4000\r\n" data "\r\n"), ~1,900 names
  origin_->Route("/trunc/list", r);
  run = daemon_->Sync("trunc");
  EXPECT_TRUE(run.value("verdict", "") == "failed" || run.value("verdict", "") == "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "truncated")) << run.dump();
  EXPECT_EQ(run.value("added", -1), 0);
  ExpectInForce("trunc", "trunc", 1000);

  // The same cut in a gzipped body.
  r.chunked = false;
  r.gzip = true;
  r.truncate_after = 1000;
  origin_->Route("/trunc/list", r);
  run = daemon_->Sync("trunc");
  EXPECT_TRUE(run.value("verdict", "") == "failed" || run.value("verdict", "") == "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "truncated")) << run.dump();
  ExpectInForce("trunc", "trunc", 1000);
  EXPECT_EQ(daemon_->Feed("trunc").value("failures", 0), 3);
}

// 4. An HTML error page served as 200, and one claiming text/plain.
TEST_F(FeedsTest, HtmlPagesAreRejectedAndThePreviousSetStays) {
  AddFeed("html", origin_->Url("/html/list"));
  Baseline("html", "/html/list", "html");
  const std::string page =
      "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\nbad.feed.test\n"
      "<p>Please try again later.</p></body></html>\n";

  origin_->Route("/html/list", HttpResponse::Ok(page, "text/html; charset=utf-8"));
  json run = daemon_->Sync("html");
  EXPECT_EQ(run.value("verdict", ""), "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "HTML")) << run.dump();
  EXPECT_EQ(run.value("http_status", 0), 200);
  EXPECT_EQ(run.value("bytes", 0UL), page.size());
  ExpectInForce("html", "html", 1000);

  // As text/plain (after a byte-order mark and blank lines): the sniff catches it.
  origin_->Route("/html/list", HttpResponse::Ok("\xEF\xBB\xBF\n  \n" + page, "text/plain"));
  run = daemon_->Sync("html");
  EXPECT_EQ(run.value("verdict", ""), "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "markup")) << run.dump();
  ExpectInForce("html", "html", 1000);
  ExpectNotBlocked("bad.feed.test");
  json feed = daemon_->Feed("html");
  EXPECT_EQ(feed.value("failures", 0), 2);
  EXPECT_EQ(feed.value("last_verdict", ""), "rejected");
}

// 5. A list shrunk by 90%: refused by the shrink limit, then applied by --force.
TEST_F(FeedsTest, ShrunkenListIsRejectedUntilForced) {
  AddFeed("shrink", origin_->Url("/shrink/list"));
  Baseline("shrink", "/shrink/list", "shrink");
  origin_->Route("/shrink/list", HttpResponse::Ok(List("shrink", 0, 100)));

  json run = daemon_->Sync("shrink");
  EXPECT_EQ(run.value("verdict", ""), "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "shrink")) << run.dump();
  EXPECT_EQ(run.value("accepted", 0), 100);
  EXPECT_EQ(run.value("rules_before", 0), 1000);
  EXPECT_EQ(run.value("removed", -1), 0);
  ExpectInForce("shrink", "shrink", 1000);

  json forced = daemon_->Sync("shrink", /*force=*/true);
  EXPECT_EQ(forced.value("verdict", ""), "applied") << forced.dump();
  EXPECT_TRUE(forced.value("forced", false));
  EXPECT_EQ(forced.value("removed", 0), 900);
  EXPECT_EQ(forced.value("added", -1), 0);
  EXPECT_EQ(forced.value("rules_after", 0), 100);
  ExpectInForce("shrink", "shrink", 100);
  ExpectNotBlocked(Name("shrink", 500));
  ExpectNotBlocked(Name("shrink", 999));
  EXPECT_EQ(daemon_->Feed("shrink").value("failures", -1), 0);
}

// 6. Binary junk, and text that is mostly not names: rejected.
TEST_F(FeedsTest, GarbageIsRejectedAndThePreviousSetStays) {
  AddFeed("junk", origin_->Url("/junk/list"));
  Baseline("junk", "/junk/list", "junk");

  std::mt19937 rng(42);
  std::string binary(64 * 1024, '\0');
  for (char& c : binary) c = static_cast<char>(rng() & 0xff);
  binary[0] = 'x';  // not what the markup/JSON sniff looks for: the parser must refuse it
  origin_->Route("/junk/list", HttpResponse::Ok(binary, "application/octet-stream"));
  json run = daemon_->Sync("junk");
  EXPECT_EQ(run.value("verdict", ""), "rejected") << run.dump();
  EXPECT_FALSE(run.value("error", "").empty());
  EXPECT_EQ(run.value("added", -1), 0);
  ExpectInForce("junk", "junk", 1000);

  // The baseline's names plus 1,500 junk lines: 60% junk is over the 50%
  // limit (and nothing would shrink, so only the junk check can refuse it).
  std::string text = List("junk", 0, 1000);
  for (int i = 0; i < 1500; ++i) {
    text += "@@ not a domain name #" + std::to_string(i) + " !!! <> \x01\n";
  }
  origin_->Route("/junk/list", HttpResponse::Ok(text));
  run = daemon_->Sync("junk");
  EXPECT_EQ(run.value("verdict", ""), "rejected") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "not valid entries")) << run.dump();
  EXPECT_EQ(run.value("accepted", 0), 1000);
  EXPECT_EQ(run.value("rejected", 0), 1500);
  ExpectInForce("junk", "junk", 1000);
  EXPECT_EQ(daemon_->Feed("junk").value("failures", 0), 2);
}

// 7. A mirror that stops sending mid-body, and one that never answers: both
// end as failed after the stall timeout (2 s here), not after minutes.
TEST_F(FeedsTest, StalledResponsesFailWithinTheStallTimeout) {
  AddFeed("stall", origin_->Url("/stall/list"));
  Baseline("stall", "/stall/list", "stall");

  HttpResponse r = HttpResponse::Ok(List("slow", 0, 1000));
  r.stall_after = 100;
  origin_->Route("/stall/list", r);
  double seconds = 0;
  json run = daemon_->Sync("stall", false, &seconds);
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "stalled")) << run.dump();
  EXPECT_EQ(run.value("http_status", 0), 200);
  EXPECT_GE(run.value("seconds", 0.0), 1.5);
  EXPECT_LT(seconds, 10) << "the stall timeout is 2 s";
  ExpectInForce("stall", "stall", 1000);

  HttpResponse silent = HttpResponse::Ok(List("slow", 0, 1000));
  silent.delay_ms = 60000;  // holds the connection without a byte
  origin_->Route("/stall/list", silent);
  run = daemon_->Sync("stall", false, &seconds);
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "stalled")) << run.dump();
  EXPECT_EQ(run.value("http_status", -1), 0);
  EXPECT_LT(seconds, 10);
  ExpectInForce("stall", "stall", 1000);
  ExpectNotBlocked(Name("slow", 0));
  std::printf("[          ] stalled syncs ended in %.2f s\n", seconds);
}

// 8. A 302 to another path serving a new good list: followed and applied.
TEST_F(FeedsTest, RedirectToANewListIsFollowedAndApplied) {
  AddFeed("redir", origin_->Url("/redir/list"));
  Baseline("redir", "/redir/list", "redir");
  origin_->Route("/redir/list", HttpResponse::Redirect(origin_->Url("/redir/moved")));
  origin_->Route("/redir/moved", HttpResponse::Ok(List("redir", 100, 1000)));  // 100 out, 100 in

  json run = daemon_->Sync("redir");
  EXPECT_EQ(run.value("verdict", ""), "applied") << run.dump();
  EXPECT_EQ(run.value("http_status", 0), 200);
  EXPECT_EQ(run.value("added", 0), 100);
  EXPECT_EQ(run.value("removed", 0), 100);
  EXPECT_EQ(run.value("rules_after", 0), 1000);
  EXPECT_EQ(origin_->Requests("/redir/moved"), 1);
  EXPECT_EQ(daemon_->SourceDomains("redir"), 1000);
  for (long i : {100L, 600L, 1000L, 1099L}) EXPECT_EQ(daemon_->Dig(Name("redir", i)), "NXDOMAIN") << i;
  ExpectNotBlocked(Name("redir", 0));
  ExpectNotBlocked(Name("redir", 99));

  // Where a redirect must not lead: file:// (a local file as the list), and round in circles.
  origin_->Route("/redir/list", HttpResponse::Redirect("file:///etc/hostname"));
  run = daemon_->Sync("redir");
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "unsupported scheme")) << run.dump();
  origin_->Route("/redir/list", HttpResponse::Redirect(origin_->Url("/redir/loop")));
  origin_->Route("/redir/loop", HttpResponse::Redirect(origin_->Url("/redir/list")));
  run = daemon_->Sync("redir");
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "redirect")) << run.dump();
  origin_->Route("/redir/list", HttpResponse::Code(503, "busy\n"));
  run = daemon_->Sync("redir");
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_EQ(run.value("http_status", 0), 503);
  EXPECT_EQ(run.value("attempts", 0), 1) << "[feeds] attempts = 1";
  EXPECT_EQ(daemon_->SourceDomains("redir"), 1000);
  EXPECT_EQ(daemon_->Dig(Name("redir", 1050)), "NXDOMAIN");
}

// 9. HTTPS with the generated CA as [feeds] ca_file; a run of every kind, and
// the history lists them newest first. An origin whose certificate is not in
// the bundle fails.
TEST_F(FeedsTest, HttpsFeedWithCaFileAndItsRunHistory) {
  AddFeed("tls", tls_origin_->Url("/tls/list"));
  HttpResponse good = HttpResponse::Ok(List("tls", 0, 1000));
  good.etag = "\"t1\"";
  tls_origin_->Route("/tls/list", good);
  std::vector<std::string> verdicts;
  auto sync = [&](bool force = false) {
    json run = daemon_->Sync("tls", force);
    verdicts.push_back(run.value("verdict", ""));
    return run;
  };

  json run = sync();
  EXPECT_EQ(run.value("verdict", ""), "applied") << run.dump();
  ExpectInForce("tls", "tls", 1000);
  EXPECT_EQ(sync().value("verdict", ""), "not-modified");
  tls_origin_->Route("/tls/list", HttpResponse::Ok("<html>maintenance</html>", "text/html"));
  EXPECT_EQ(sync().value("verdict", ""), "rejected");
  tls_origin_->Route("/tls/list", HttpResponse::Code(404, "gone\n"));
  run = sync();
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_EQ(run.value("http_status", 0), 404);
  EXPECT_TRUE(Contains(run.value("error", ""), "HTTP 404")) << run.dump();
  tls_origin_->Route("/tls/list", HttpResponse::Ok(List("tls", 0, 100)));
  EXPECT_EQ(sync().value("verdict", ""), "rejected");
  ExpectInForce("tls", "tls", 1000);
  EXPECT_EQ(daemon_->Feed("tls").value("failures", 0), 3);
  run = sync(/*force=*/true);
  EXPECT_EQ(run.value("verdict", ""), "applied") << run.dump();
  ExpectInForce("tls", "tls", 100);
  ExpectNotBlocked(Name("tls", 500));

  std::vector<json> runs = daemon_->Runs("tls");
  ASSERT_EQ(runs.size(), verdicts.size());
  std::reverse(verdicts.begin(), verdicts.end());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].value("verdict", ""), verdicts[i]) << "run " << i << " (newest first): " << runs[i].dump();
    EXPECT_GT(runs[i].value("ended_at", 0), 0);
    EXPECT_EQ(runs[i].value("forced", false), i == 0);
    if (i > 0) {
      EXPECT_LT(runs[i].value("id", 0UL), runs[i - 1].value("id", 0UL)) << "newest first";
      EXPECT_LE(runs[i].value("started_at", 0), runs[i - 1].value("started_at", 0));
    }
  }
  // The API says the same.
  json api = daemon_->ApiJson("GET", "/v1/feeds/tls/runs");
  ASSERT_EQ(api["runs"].size(), runs.size()) << api.dump();
  for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(api["runs"][i]["id"], runs[i]["id"]);
  EXPECT_EQ(daemon_->Feed("tls").value("failures", -1), 0);

  AddFeed("untrusted", untrusted_origin_->Url("/list"));
  untrusted_origin_->Route("/list", HttpResponse::Ok(List("untrusted", 0, 10)));
  run = daemon_->Sync("untrusted");
  EXPECT_EQ(run.value("verdict", ""), "failed") << run.dump();
  EXPECT_TRUE(Contains(run.value("error", ""), "certificate")) << run.dump();
  EXPECT_EQ(untrusted_origin_->Requests("/list"), 0) << "no request goes past a failed handshake";
  ExpectNotBlocked(Name("untrusted", 1));
}

// 10. SIGKILL during the apply of a 1M-name feed, at points spread over it;
// saringd restarted on the same store each time must hold the whole old set
// or the whole new one, and the killed run says which ("interrupted" or
// "applied").
TEST_F(FeedsTest, KillDuringApplyOfLargeFeedLeavesOldOrNewSetWhole) {
  // Set A: big0..big999999; set B: big100000..big1149999. Either way the
  // change is under the 20% shrink limit, and the counts tell them apart.
  constexpr long kA0 = 0, kACount = 1000000, kB0 = 100000, kBCount = 1050000;
  Daemon d;
  d.Configure(dir_->Sub("kill"), upstream_port_,
              "[feeds]\nschedule = false\nstall_timeout_s = 10\nattempts = 1\n"
              "[[feed]]\nname = \"big\"\nurl = \"" + origin_->Url("/big/list") + "\"\n");
  ASSERT_TRUE(d.Start());
  d.MakeToken();

  // The two lists, generated into files and served from memory.
  auto make = [&](const std::string& file, long first, long count) {
    std::string body = List("big", first, count);
    std::ofstream(d.base + "/" + file, std::ios::binary) << body;
    HttpResponse r = HttpResponse::Ok(ReadWholeFile(d.base + "/" + file));
    r.etag = "\"" + file + "\"";
    return r;
  };
  const HttpResponse set_a = make("a.txt", kA0, kACount), set_b = make("b.txt", kB0, kBCount);
  std::printf("[          ] lists: %zu and %zu bytes\n", set_a.body.size(), set_b.body.size());

  auto start = Clock::now();
  origin_->Route("/big/list", set_a);
  json first = d.ApiJson("POST", "/v1/feeds/big/sync");
  ASSERT_EQ(first.value("verdict", ""), "applied") << first.dump();
  const double apply_s = first.value("seconds", 1.0);
  std::printf("[          ] first apply of 1M names: %.2f s (sync %.2f s)\n", apply_s, SecondsSince(start));

  // Which set the store holds, by the count and by samples (checked through
  // saringctl and dig): 'A', 'B', or '?'.
  auto inspect = [&]() -> char {
    long domains = d.SourceDomains("big");
    std::vector<std::string> a_only = {Name("big", 0), Name("big", 50000), Name("big", 99999)};
    std::vector<std::string> b_only = {Name("big", 1000000), Name("big", 1100000), Name("big", 1149999)};
    std::vector<std::string> shared = {Name("big", 100000), Name("big", 555555), Name("big", 999999)};
    std::vector<std::string> all = a_only;
    all.insert(all.end(), b_only.begin(), b_only.end());
    all.insert(all.end(), shared.begin(), shared.end());
    std::map<std::string, std::string> v = d.Check(all);
    auto all_are = [&](const std::vector<std::string>& names, const std::string& want) {
      for (const std::string& n : names) {
        if (v[n] != want) return false;
      }
      return true;
    };
    bool shared_ok = all_are(shared, "block");
    char held = '?';
    if (domains == kACount && shared_ok && all_are(a_only, "block") && all_are(b_only, "pass")) held = 'A';
    if (domains == kBCount && shared_ok && all_are(b_only, "block") && all_are(a_only, "pass")) held = 'B';
    if (held == '?') {
      ADD_FAILURE() << "neither set whole: " << domains << " domains; "
                    << json(v).dump();
      return held;
    }
    // What saringd answers agrees.
    const std::string& in = held == 'A' ? a_only[1] : b_only[1];
    const std::string& out = held == 'A' ? b_only[1] : a_only[1];
    EXPECT_EQ(d.Dig(in), "NXDOMAIN") << in;
    EXPECT_EQ(d.Dig(out), "NOERROR") << out;
    EXPECT_EQ(d.Dig(shared[1]), "NXDOMAIN") << shared[1];
    // And so does the feed's download state, committed with the rules.
    EXPECT_EQ(d.Feed("big").value("etag", ""), held == 'A' ? set_a.etag : set_b.etag);
    return held;
  };
  ASSERT_EQ(inspect(), 'A');

  char held = 'A';
  std::uint64_t newest_id = d.Runs("big").at(0).value("id", 0UL);
  for (double fraction : {0.15, 0.5, 0.9}) {
    const char target = held == 'A' ? 'B' : 'A';
    origin_->Route("/big/list", target == 'A' ? set_a : set_b);
    int requests = origin_->Requests("/big/list");
    std::string out = d.scratch + "/sync.out";
    pid_t curl = testing::Spawn({"/usr/bin/curl", "-sS", "-m", "120", "-X", "POST", "-H",
                                 "Authorization: Bearer " + d.token,
                                 "http://127.0.0.1:" + std::to_string(d.admin_port) + "/v1/feeds/big/sync"},
                                "/dev/null", out, out);
    ASSERT_GT(curl, 0);
    // The run has begun once the origin is asked (its record is written first).
    auto asked_by = Clock::now() + 20s;
    while (origin_->Requests("/big/list") == requests && Clock::now() < asked_by) std::this_thread::sleep_for(2ms);
    ASSERT_GT(origin_->Requests("/big/list"), requests) << "the sync never reached the origin";
    auto asked = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(fraction * apply_s));
    bool done_before_kill = ReadWholeFile(out).find("\"verdict\"") != std::string::npos;
    d.process.Signal(SIGKILL);
    EXPECT_EQ(d.process.Wait(), 128 + SIGKILL);
    double killed_at = SecondsSince(asked);
    WaitChild(curl, 10s);

    ASSERT_TRUE(d.Start(60s));
    char now_held = inspect();
    std::vector<json> runs = d.Runs("big");
    ASSERT_FALSE(runs.empty());
    const json& killed = runs[0];
    EXPECT_GT(killed.value("id", 0UL), newest_id) << "the killed run is in the history";
    std::string verdict = killed.value("verdict", "");
    EXPECT_GT(killed.value("ended_at", 0), 0) << "no run is left \"running\": " << killed.dump();
    if (now_held == held) {
      EXPECT_EQ(verdict, "interrupted") << "old set in force: " << killed.dump();
      EXPECT_FALSE(done_before_kill);
    } else if (now_held == target) {
      EXPECT_EQ(verdict, "applied") << "new set in force: " << killed.dump();
    }
    for (const json& r : runs) EXPECT_NE(r.value("verdict", ""), "running") << r.dump();
    std::printf("[          ] kill at %.2f s of ~%.2f s: store holds set %c, run %s%s%s\n", killed_at, apply_s,
                now_held, verdict.c_str(), killed.value("error", "").empty() ? "" : ": ",
                killed.value("error", "").c_str());
    if (now_held == '?') break;
    held = now_held;
    newest_id = killed.value("id", 0UL);
  }

  // A run after all that completes normally.
  const char target = held == 'A' ? 'B' : 'A';
  origin_->Route("/big/list", target == 'A' ? set_a : set_b);
  json last = d.ApiJson("POST", "/v1/feeds/big/sync");
  EXPECT_EQ(last.value("verdict", ""), "applied") << last.dump();
  EXPECT_EQ(inspect(), target);
  d.process.Stop();
}

// SIGTERM while an API-triggered sync waits on a silent mirror: saringd stops
// within a few seconds (the download is cancelled), not after the stall timeout.
TEST_F(FeedsTest, SigtermDuringASlowDownloadStopsPromptly) {
  Daemon d;
  d.Configure(dir_->Sub("sigterm"), upstream_port_,
              "[feeds]\nschedule = false\nstall_timeout_s = 30\nattempts = 1\n"
              "[[feed]]\nname = \"silent\"\nurl = \"" + origin_->Url("/silent/list") + "\"\n");
  ASSERT_TRUE(d.Start());
  d.MakeToken();
  HttpResponse silent = HttpResponse::Ok(List("silent", 0, 10));
  silent.delay_ms = 60000;
  origin_->Route("/silent/list", silent);
  std::string out = d.scratch + "/sync.out";
  pid_t curl = testing::Spawn({"/usr/bin/curl", "-sS", "-m", "60", "-X", "POST", "-H",
                               "Authorization: Bearer " + d.token,
                               "http://127.0.0.1:" + std::to_string(d.admin_port) + "/v1/feeds/silent/sync"},
                              "/dev/null", out, out);
  ASSERT_GT(curl, 0);
  auto asked_by = Clock::now() + 10s;
  while (origin_->Requests("/silent/list") == 0 && Clock::now() < asked_by) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(origin_->Requests("/silent/list"), 1);

  auto start = Clock::now();
  d.process.Signal(SIGTERM);
  auto deadline = Clock::now() + 40s;
  while (d.process.Running() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  double stop_s = SecondsSince(start);
  std::printf("[          ] stopped %.2f s after SIGTERM\n", stop_s);
  EXPECT_LT(stop_s, 5) << "saringd waited for the download instead of cancelling it";
  EXPECT_EQ(d.process.Stop(), 0);
  WaitChild(curl, 10s);

  // The run was closed, not left for the next start to call "interrupted".
  ASSERT_TRUE(d.Start());
  std::vector<json> runs = d.Runs("silent");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].value("verdict", ""), "failed") << runs[0].dump();
  EXPECT_TRUE(Contains(runs[0].value("error", ""), "cancelled")) << runs[0].dump();
  EXPECT_EQ(d.SourceDomains("silent"), -1);
}

// The [feeds] download settings are checked: saringd refuses to start on a
// value out of range, naming it.
TEST_F(FeedsTest, BadFeedDownloadSettingsAreRefused) {
  for (std::string bad : {"stall_timeout_s = 0", "connect_timeout_s = 601", "attempts = 0",
                                 "attempts = \"3\"", "stall_timeout = 5"}) {
    Daemon d;
    d.Configure(dir_->Sub("badconfig"), upstream_port_, "[feeds]\n" + bad + "\n");
    Ran r = RunBounded({std::string(SARING_BIN_DIR) + "/saringd", "--config", d.config}, d.scratch, 20s);
    EXPECT_EQ(r.status, 1) << bad << ": " << r.out << r.err;
    std::string key = bad.substr(0, bad.find(' '));
    EXPECT_TRUE(Contains(r.out + r.err, key)) << bad << ": " << r.out << r.err;
  }
}

// saringd starts and serves DNS while its only feed is unreachable (connection
// refused): the scheduled run fails in the background.
TEST_F(FeedsTest, StartsAndServesWhenTheFeedIsUnreachable) {
  int dead_port = FreePort();  // nothing listens there
  Daemon d;
  d.Configure(dir_->Sub("unreachable"), upstream_port_,
              "[feeds]\nschedule = true\nconnect_timeout_s = 2\nattempts = 1\n"
              "[[feed]]\nname = \"gone\"\nurl = \"http://127.0.0.1:" + std::to_string(dead_port) +
                  "/list\"\nevery = \"1h\"\n");
  auto start = Clock::now();
  ASSERT_TRUE(d.Start(20s));
  std::printf("[          ] ready in %.2f s\n", SecondsSince(start));
  EXPECT_EQ(d.Dig(Name("anything", 1)), "NOERROR");
  auto [status, body] = d.Api("GET", "/readyz");
  EXPECT_EQ(status, 200) << body;
  EXPECT_TRUE(json::parse(body, nullptr, false).value("ready", false)) << body;

  // The scheduled run ends as failed, bounded.
  json failed;
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    std::vector<json> runs = d.Runs("gone");
    if (!runs.empty() && runs[0].value("verdict", "") != "running") {
      failed = runs[0];
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(failed.is_object()) << "no finished run within 20 s\n" << d.process.Log();
  EXPECT_EQ(failed.value("verdict", ""), "failed") << failed.dump();
  EXPECT_EQ(failed.value("trigger", ""), "schedule");
  EXPECT_EQ(failed.value("http_status", -1), 0);
  EXPECT_TRUE(Contains(failed.value("error", ""), std::to_string(dead_port))) << failed.dump();
  EXPECT_EQ(d.Feed("gone").value("failures", 0), 1);
  // Still serving.
  EXPECT_EQ(d.Dig(Name("anything", 2)), "NOERROR");
  EXPECT_EQ(d.Api("GET", "/readyz").first, 200);
  EXPECT_TRUE(d.process.Running());
  EXPECT_EQ(d.process.Stop(), 0) << "clean stop on SIGTERM";
}

}  // namespace
}  // namespace saring
