#include "update/fetch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "testing/http_origin.h"
#include "testing/temp_dir.h"

namespace saring::update {
namespace {

using saring::testing::HttpOrigin;
using saring::testing::HttpResponse;
using saring::testing::MakeSelfSignedCert;
using saring::testing::TempDir;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Lines(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "host" + std::to_string(i) + ".example.com\n";
  return out;
}

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(origin_.Start().ok()); }

  // Quick retries so the tests stay fast; everything else as shipped.
  FetchOptions Options(const std::string& path) {
    FetchOptions o;
    o.url = origin_.Url(path);
    o.backoff_ms = 1;
    o.connect_timeout_ms = 5000;
    o.total_timeout_ms = 30000;
    return o;
  }

  TempDir dir_;
  std::string dest_ = dir_.Sub("feed.txt");
  HttpOrigin origin_;
};

TEST_F(FetchTest, SavesBodyAndValidators) {
  HttpResponse r = HttpResponse::Ok("a.example\nb.example\n");
  r.etag = "\"v1\"";
  r.last_modified = "Wed, 21 Oct 2015 07:28:00 GMT";
  origin_.Route("/feed", r);

  FetchResult result;
  Status st = Fetch(Options("/feed"), dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest_), "a.example\nb.example\n");
  EXPECT_FALSE(Exists(dest_ + ".part"));
  EXPECT_EQ(result.http_status, 200);
  EXPECT_FALSE(result.not_modified);
  EXPECT_EQ(result.bytes, 20u);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.etag, "\"v1\"");
  EXPECT_EQ(result.last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_EQ(result.content_type, "text/plain");
  EXPECT_EQ(result.effective_url, origin_.Url("/feed"));
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(origin_.LastRequestHeader("/feed", "User-Agent"), "saring/0.1 (+feed)");
  EXPECT_EQ(origin_.LastRequestHeader("/feed", "If-None-Match"), "");
}

TEST_F(FetchTest, ReplacesAnExistingFile) {
  WriteFile(dest_, "old contents\n");
  origin_.Route("/feed", HttpResponse::Ok("new\n"));
  ASSERT_TRUE(Fetch(Options("/feed"), dest_, nullptr).ok());
  EXPECT_EQ(ReadFile(dest_), "new\n");
}

TEST_F(FetchTest, EmptyBodyIsSaved) {
  origin_.Route("/empty", HttpResponse::Ok(""));
  FetchResult result;
  ASSERT_TRUE(Fetch(Options("/empty"), dest_, &result).ok());
  EXPECT_TRUE(Exists(dest_));
  EXPECT_EQ(ReadFile(dest_), "");
  EXPECT_EQ(result.bytes, 0u);
}

TEST_F(FetchTest, MatchingEtagGivesNotModifiedAndLeavesDestUntouched) {
  HttpResponse r = HttpResponse::Ok("a.example\n");
  r.etag = "\"v1\"";
  origin_.Route("/feed", r);
  FetchResult first;
  ASSERT_TRUE(Fetch(Options("/feed"), dest_, &first).ok());
  WriteFile(dest_, "kept\n");  // so that any write would show

  FetchOptions o = Options("/feed");
  o.etag = first.etag;
  FetchResult second;
  Status st = Fetch(o, dest_, &second);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(second.not_modified);
  EXPECT_EQ(second.http_status, 304);
  EXPECT_EQ(second.bytes, 0u);
  EXPECT_EQ(second.etag, "\"v1\"");
  EXPECT_EQ(ReadFile(dest_), "kept\n");
  EXPECT_FALSE(Exists(dest_ + ".part"));
  EXPECT_EQ(origin_.LastRequestHeader("/feed", "If-None-Match"), "\"v1\"");
  EXPECT_EQ(origin_.Requests("/feed"), 2);
}

TEST_F(FetchTest, ChangedEtagDownloadsAgain) {
  HttpResponse r = HttpResponse::Ok("v2\n");
  r.etag = "\"v2\"";
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.etag = "\"v1\"";
  FetchResult result;
  ASSERT_TRUE(Fetch(o, dest_, &result).ok());
  EXPECT_FALSE(result.not_modified);
  EXPECT_EQ(result.etag, "\"v2\"");
  EXPECT_EQ(ReadFile(dest_), "v2\n");
}

TEST_F(FetchTest, LastModifiedIsSentAsIfModifiedSince) {
  HttpResponse r = HttpResponse::Ok("a.example\n");
  r.last_modified = "Wed, 21 Oct 2015 07:28:00 GMT";
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.last_modified = r.last_modified;
  FetchResult result;
  ASSERT_TRUE(Fetch(o, dest_, &result).ok());
  EXPECT_TRUE(result.not_modified);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_EQ(result.last_modified, r.last_modified);
  EXPECT_EQ(origin_.LastRequestHeader("/feed", "If-Modified-Since"), r.last_modified);
}

TEST_F(FetchTest, GzipBodyIsDecoded) {
  const std::string body = Lines(5000);
  HttpResponse r = HttpResponse::Ok(body);
  r.gzip = true;
  origin_.Route("/feed.gz", r);
  FetchResult result;
  Status st = Fetch(Options("/feed.gz"), dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(origin_.LastRequestHeader("/feed.gz", "Accept-Encoding").find("gzip"), std::string::npos);
  EXPECT_EQ(result.bytes, body.size());
  EXPECT_TRUE(ReadFile(dest_) == body);
}

TEST_F(FetchTest, BadContentEncodingIsRefused) {
  HttpResponse r = HttpResponse::Ok("this is not gzip at all\n");
  r.headers.emplace_back("Content-Encoding", "gzip");
  origin_.Route("/feed", r);
  FetchResult result;
  Status st = Fetch(Options("/feed"), dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_EQ(result.attempts, 1);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_FALSE(Exists(dest_ + ".part"));
}

TEST_F(FetchTest, TruncatedBodyIsRetriedOnceThenRefused) {
  HttpResponse r = HttpResponse::Ok(Lines(100));
  r.truncate_after = 50;
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.attempts = 3;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(o.url), std::string::npos) << st.message();
  EXPECT_EQ(result.error, st.message());
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(origin_.Requests("/feed"), 2);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_FALSE(Exists(dest_ + ".part"));
}

TEST_F(FetchTest, TruncatedBodyDoesNotReplaceTheLastGoodFile) {
  WriteFile(dest_, "last good\n");
  HttpResponse r = HttpResponse::Ok(Lines(100));
  r.truncate_after = 50;
  origin_.Route("/feed", r);
  Status st = Fetch(Options("/feed"), dest_, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(ReadFile(dest_), "last good\n");
}

TEST_F(FetchTest, TruncationOnceThenGoodBodySucceeds) {
  HttpResponse bad = HttpResponse::Ok(Lines(100));
  bad.truncate_after = 50;
  origin_.RouteSequence("/feed", {bad, HttpResponse::Ok(Lines(100))});
  FetchResult result;
  Status st = Fetch(Options("/feed"), dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(ReadFile(dest_), Lines(100));
}

TEST_F(FetchTest, HtmlBodyIsSavedAsIs) {
  const std::string page = "<html><body>Internet Positif</body></html>\n";
  origin_.Route("/feed", HttpResponse::Ok(page, "text/html; charset=utf-8"));
  FetchResult result;
  ASSERT_TRUE(Fetch(Options("/feed"), dest_, &result).ok());
  EXPECT_EQ(ReadFile(dest_), page);
  EXPECT_EQ(result.content_type, "text/html; charset=utf-8");
}

TEST_F(FetchTest, NotFoundIsRefusedWithoutRetry) {
  origin_.Route("/feed", HttpResponse::Code(404, "no such feed\n"));
  FetchOptions o = Options("/feed");
  o.attempts = 3;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_NE(st.message().find("404"), std::string::npos) << st.message();
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.http_status, 404);
  EXPECT_EQ(origin_.Requests("/feed"), 1);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_FALSE(Exists(dest_ + ".part"));
}

TEST_F(FetchTest, ServiceUnavailableIsRetried) {
  origin_.RouteSequence("/feed", {HttpResponse::Code(503, "busy\n"), HttpResponse::Code(503, "busy\n"),
                                  HttpResponse::Ok("a.example\n")});
  FetchOptions o = Options("/feed");
  o.attempts = 3;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(origin_.Requests("/feed"), 3);
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(ReadFile(dest_), "a.example\n");
}

TEST_F(FetchTest, PersistentServerErrorIsUnavailableAfterAllAttempts) {
  origin_.Route("/feed", HttpResponse::Code(500, "oops\n"));
  origin_.Route("/limited", HttpResponse::Code(429, "slow down\n"));
  FetchOptions o = Options("/feed");
  o.attempts = 2;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(result.http_status, 500);
  EXPECT_EQ(origin_.Requests("/feed"), 2);

  o.url = origin_.Url("/limited");
  st = Fetch(o, dest_, &result);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(origin_.Requests("/limited"), 2);
  EXPECT_FALSE(Exists(dest_));
}

TEST_F(FetchTest, StalledResponseIsAbortedByStallTimeout) {
  HttpResponse r = HttpResponse::Ok(Lines(1000));
  r.stall_after = 100;
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.stall_timeout_ms = 1000;
  o.attempts = 1;
  auto start = Clock::now();
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  double took = SecondsSince(start);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 5.0);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_FALSE(Exists(dest_ + ".part"));
}

TEST_F(FetchTest, RedirectIsFollowedAndFinalValidatorsKept) {
  HttpResponse moved = HttpResponse::Redirect(origin_.Url("/new"));
  moved.etag = "\"redirect\"";
  HttpResponse final_response = HttpResponse::Ok("a.example\n");
  final_response.etag = "\"final\"";
  origin_.Route("/old", moved);
  origin_.Route("/new", final_response);
  FetchResult result;
  Status st = Fetch(Options("/old"), dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest_), "a.example\n");
  EXPECT_EQ(result.effective_url, origin_.Url("/new"));
  EXPECT_EQ(result.etag, "\"final\"");
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(origin_.Requests("/old"), 1);
  EXPECT_EQ(origin_.Requests("/new"), 1);
}

TEST_F(FetchTest, RelativeRedirectIsFollowed) {
  origin_.Route("/old", HttpResponse::Redirect("/new", 301));
  origin_.Route("/new", HttpResponse::Ok("a.example\n"));
  ASSERT_TRUE(Fetch(Options("/old"), dest_, nullptr).ok());
  EXPECT_EQ(ReadFile(dest_), "a.example\n");
}

TEST_F(FetchTest, RedirectLoopIsRefused) {
  origin_.Route("/a", HttpResponse::Redirect(origin_.Url("/b")));
  origin_.Route("/b", HttpResponse::Redirect(origin_.Url("/a")));
  FetchOptions o = Options("/a");
  o.max_redirects = 5;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_EQ(result.attempts, 1);
  EXPECT_LE(origin_.Requests("/a") + origin_.Requests("/b"), 6);
  EXPECT_FALSE(Exists(dest_));
}

TEST_F(FetchTest, RedirectToFileSchemeIsRefused) {
  WriteFile(dir_.Sub("secret"), "secret\n");
  origin_.Route("/feed", HttpResponse::Redirect("file://" + dir_.Sub("secret")));
  Status st = Fetch(Options("/feed"), dest_, nullptr);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_FALSE(Exists(dest_));
}

TEST_F(FetchTest, BodyOverMaxBytesIsRefused) {
  origin_.Route("/feed", HttpResponse::Ok(std::string(10000, 'x')));
  FetchOptions o = Options("/feed");
  o.max_bytes = 1000;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_EQ(result.attempts, 1);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_FALSE(Exists(dest_ + ".part"));

  o.max_bytes = 10000;  // exactly the limit is fine
  ASSERT_TRUE(Fetch(o, dest_, &result).ok());
  EXPECT_EQ(result.bytes, 10000u);
}

TEST_F(FetchTest, ChunkedBodyOverMaxBytesIsRefusedWhileStreaming) {
  HttpResponse r = HttpResponse::Ok(Lines(20000));
  r.chunked = true;
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.max_bytes = 50000;
  WriteFile(dest_, "last good\n");
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_EQ(ReadFile(dest_), "last good\n");
  EXPECT_FALSE(Exists(dest_ + ".part"));

  o.max_bytes = 1 << 30;
  ASSERT_TRUE(Fetch(o, dest_, &result).ok());
  EXPECT_TRUE(ReadFile(dest_) == Lines(20000));
}

TEST_F(FetchTest, GzipBombOverMaxBytesIsRefused) {
  HttpResponse r = HttpResponse::Ok(std::string(4 << 20, 'a'));  // compresses to a few KB
  r.gzip = true;
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.max_bytes = 1 << 20;
  Status st = Fetch(o, dest_, nullptr);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_FALSE(Exists(dest_));
}

TEST_F(FetchTest, FileUrlIsCopied) {
  const std::string src = dir_.Sub("local.txt");
  WriteFile(src, Lines(10));
  FetchOptions o;
  o.url = "file://" + src;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest_), Lines(10));
  EXPECT_EQ(result.bytes, Lines(10).size());
  EXPECT_EQ(result.http_status, 0);
  EXPECT_FALSE(result.not_modified);

  o.url = "file://" + dir_.Sub("missing.txt");
  st = Fetch(o, dir_.Sub("other.txt"), &result);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_FALSE(Exists(dir_.Sub("other.txt")));
}

TEST_F(FetchTest, UnsupportedSchemeOrBadUrlIsInvalidArgument) {
  for (const std::string url : {"ftp://127.0.0.1/feed.txt", "gopher://127.0.0.1/", "not a url", "",
                                "http://", "example.com/feed.txt"}) {
    FetchOptions o;
    o.url = url;
    FetchResult result;
    Status st = Fetch(o, dest_, &result);
    EXPECT_TRUE(st.IsInvalidArgument()) << url << ": " << st.ToString();
    EXPECT_EQ(result.attempts, 0) << url;
  }
  EXPECT_FALSE(Exists(dest_));
}

TEST_F(FetchTest, CredentialsAreNotShownInMessages) {
  origin_.Route("/feed", HttpResponse::Code(404));
  FetchOptions o = Options("/feed");
  o.url = "http://user:hunter2@127.0.0.1:" + std::to_string(origin_.port()) + "/feed";
  Status st = Fetch(o, dest_, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("hunter2"), std::string::npos) << st.message();
}

TEST_F(FetchTest, ConnectionRefusedIsUnavailable) {
  HttpOrigin gone;
  ASSERT_TRUE(gone.Start().ok());
  const std::string url = gone.Url("/feed");
  gone.Stop();  // nothing listens on that port any more
  FetchOptions o;
  o.url = url;
  o.attempts = 2;
  o.backoff_ms = 1;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_NE(st.message().find(url), std::string::npos) << st.message();
  EXPECT_FALSE(Exists(dest_));
}

TEST_F(FetchTest, CancelStopsAStalledTransferQuickly) {
  HttpResponse r = HttpResponse::Ok(Lines(1000));
  r.stall_after = 100;
  origin_.Route("/feed", r);
  std::atomic<bool> cancel{false};
  FetchOptions o = Options("/feed");
  o.stall_timeout_ms = 30000;
  o.cancelled = [&cancel] { return cancel.load(); };
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto start = Clock::now();
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  double took = SecondsSince(start);
  canceller.join();
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("cancelled"), std::string::npos) << st.message();
  EXPECT_LT(took, 3.0);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_FALSE(Exists(dest_));
  EXPECT_FALSE(Exists(dest_ + ".part"));
}

TEST_F(FetchTest, CancelInterruptsTheWaitBetweenRetries) {
  origin_.Route("/feed", HttpResponse::Code(503));
  std::atomic<bool> cancel{false};
  FetchOptions o = Options("/feed");
  o.attempts = 5;
  o.backoff_ms = 20000;
  o.cancelled = [&cancel] { return cancel.load(); };
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto start = Clock::now();
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  double took = SecondsSince(start);
  canceller.join();
  EXPECT_NE(st.message().find("cancelled"), std::string::npos) << st.message();
  EXPECT_LT(took, 2.0);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(origin_.Requests("/feed"), 1);
}

TEST_F(FetchTest, AlreadyCancelledMakesNoRequest) {
  origin_.Route("/feed", HttpResponse::Ok("a\n"));
  FetchOptions o = Options("/feed");
  o.cancelled = [] { return true; };
  Status st = Fetch(o, dest_, nullptr);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(origin_.Requests("/feed"), 0);
}

TEST_F(FetchTest, OriginStopEndsAStalledConnection) {
  HttpResponse r = HttpResponse::Ok(Lines(1000));
  r.stall_after = 100;
  origin_.Route("/feed", r);
  FetchOptions o = Options("/feed");
  o.stall_timeout_ms = 60000;
  o.attempts = 1;
  Status st;
  std::thread fetcher([&] { st = Fetch(o, dest_, nullptr); });
  while (origin_.Requests("/feed") == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto start = Clock::now();
  origin_.Stop();
  fetcher.join();
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(Exists(dest_));
}

class FetchTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = MakeSelfSignedCert(cert_dir_.path());
    other_ = MakeSelfSignedCert(other_dir_.path());
    HttpOrigin::Options options;
    options.cert_file = cert_.cert_file;
    options.key_file = cert_.key_file;
    ASSERT_TRUE(origin_.Start(options).ok());
    HttpResponse r = HttpResponse::Ok(Lines(100));
    r.gzip = true;
    origin_.Route("/feed", r);
  }

  TempDir cert_dir_, other_dir_, dir_;
  saring::testing::SelfSignedCert cert_, other_;
  std::string dest_ = dir_.Sub("feed.txt");
  HttpOrigin origin_;
};

TEST_F(FetchTlsTest, TrustedCertificateWorks) {
  FetchOptions o;
  o.url = origin_.Url("/feed");
  ASSERT_EQ(o.url.rfind("https://", 0), 0u);
  o.ca_file = cert_.cert_file;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest_), Lines(100));
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(origin_.Requests("/feed"), 1);
}

TEST_F(FetchTlsTest, UntrustedCertificateFailsVerification) {
  FetchOptions o;
  o.url = origin_.Url("/feed");
  o.ca_file = other_.cert_file;  // a CA that did not sign the origin's certificate
  o.backoff_ms = 1;
  FetchResult result;
  Status st = Fetch(o, dest_, &result);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(origin_.Requests("/feed"), 0);
  EXPECT_FALSE(Exists(dest_));

  o.ca_file = "";  // nor does the system trust store know it
  st = Fetch(o, dest_, &result);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(origin_.Requests("/feed"), 0);
}

}  // namespace
}  // namespace saring::update
