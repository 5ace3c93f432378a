#include "proxy/access_log.h"
#include "proxy/access_log_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "testing/temp_dir.h"

namespace saring::proxy {
namespace {

std::string Line(const AccessEntry& e) {
  std::string out;
  AppendSquidLine(e, &out);
  return out;
}

TEST(AccessLogTest, Miss) {
  AccessEntry e;
  e.time_ms = 1718000000123;
  e.elapsed_ms = 456;
  e.client = "10.1.2.3";
  e.code = "TCP_MISS";
  e.status = 200;
  e.bytes = 5120;
  e.method = "GET";
  e.url = "http://example.com/index.html";
  e.hierarchy = "HIER_DIRECT";
  e.peer = "93.184.216.34";
  e.type = "text/html";
  EXPECT_EQ(Line(e),
            "1718000000.123    456 10.1.2.3 TCP_MISS/200 5120 GET http://example.com/index.html - "
            "HIER_DIRECT/93.184.216.34 text/html\n");
}

TEST(AccessLogTest, DeniedBlock) {
  AccessEntry e;
  e.time_ms = 1718000001005;
  e.elapsed_ms = 0;
  e.client = "192.168.10.77";
  e.code = "TCP_DENIED";
  e.status = 403;
  e.bytes = 3870;
  e.method = "GET";
  e.url = "http://slot88gacor.com/daftar";
  e.hierarchy = "HIER_NONE";
  e.type = "text/html";
  EXPECT_EQ(Line(e),
            "1718000001.005      0 192.168.10.77 TCP_DENIED/403 3870 GET http://slot88gacor.com/daftar - "
            "HIER_NONE/- text/html\n");
}

TEST(AccessLogTest, TunnelConnect) {
  AccessEntry e;
  e.time_ms = 1718000002999;
  e.elapsed_ms = 123456;
  e.client = "2001:db8::7";
  e.code = "TCP_TUNNEL";
  e.status = 200;
  e.bytes = 1234567890123ull;
  e.method = "CONNECT";
  e.url = "www.google.com:443";
  e.user = "budi";
  e.hierarchy = "HIER_DIRECT";
  e.peer = "142.250.4.100";
  EXPECT_EQ(Line(e),
            "1718000002.999 123456 2001:db8::7 TCP_TUNNEL/200 1234567890123 CONNECT www.google.com:443 budi "
            "HIER_DIRECT/142.250.4.100 -\n");
}

TEST(AccessLogTest, PrivacyAndDefaults) {
  AccessEntry e;
  e.time_ms = 5;  // Squid pads seconds to 9
  e.elapsed_ms = 1234567;  // wider than 6: not cut
  e.status = 0;
  EXPECT_EQ(Line(e), "        0.005 1234567 - NONE/000 0 - - - HIER_NONE/- -\n");
  e.time_ms = -1;
  e.elapsed_ms = -3;
  EXPECT_EQ(Line(e), "        0.000      0 - NONE/000 0 - - - HIER_NONE/- -\n");
}

TEST(AccessLogTest, Escaping) {
  AccessEntry e;
  e.time_ms = 1718000000000;
  e.elapsed_ms = 7;
  e.client = "10.0.0.9";
  e.code = "TCP_DENIED";
  e.status = 403;
  e.bytes = 100;
  e.method = "GET";
  e.url = "http://a.com/slot gacor/\t\x01\xC3\xA9?q=100%25";
  e.user = "budi santoso%[x]";
  e.hierarchy = "HIER_NONE";
  e.type = "text/html; charset=utf-8";
  EXPECT_EQ(Line(e),
            "1718000000.000      7 10.0.0.9 TCP_DENIED/403 100 GET "
            "http://a.com/slot%20gacor/%09%01%C3%A9?q=100%25 budi%20santoso%25%5Bx%5D "
            "HIER_NONE/- text/html;%20charset=utf-8\n");
  AccessEntry crlf;
  crlf.url = "http://a/\r\nX";
  std::string nl = Line(crlf);
  EXPECT_EQ(nl.find('\r'), std::string::npos);
  EXPECT_EQ(nl.find('\n'), nl.size() - 1);
  EXPECT_NE(nl.find("http://a/%0D%0AX"), std::string::npos);
}

TEST(AccessLogTest, AppendsWithoutClearing) {
  std::string out = "first\n";
  AccessEntry e;
  e.time_ms = 1000;
  AppendSquidLine(e, &out);
  AppendSquidLine(e, &out);
  EXPECT_EQ(out.rfind("first\n", 0), 0u);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
}

// What SARG / Calamaris do: split on runs of blanks into 10 fields, then code/status and hierarchy/peer on '/'.
TEST(AccessLogTest, ParsesBackLikeSquidTools) {
  const std::regex squid(
      R"(^(\d+)\.(\d{3}) +(\d+) (\S+) ([A-Z_]+)/(\d{3}) (\d+) (\S+) (\S+) (\S+) ([A-Z_]+)/(\S+) (\S+)\n$)");
  std::vector<AccessEntry> entries;
  AccessEntry a{.time_ms = 1718000000123, .elapsed_ms = 45, .client = "10.1.2.3", .code = "TCP_MISS",
                .status = 200, .bytes = 512, .method = "GET", .url = "http://x.id/a b", .user = "",
                .hierarchy = "HIER_DIRECT", .peer = "1.2.3.4", .type = "text/plain; charset=x"};
  AccessEntry b{.time_ms = 1718000000999, .elapsed_ms = 0, .client = "", .code = "TCP_DENIED", .status = 403,
                .bytes = 3000, .method = "CONNECT", .url = "slot88.com:443", .user = "x y",
                .hierarchy = "HIER_NONE", .peer = "", .type = ""};
  entries.push_back(a);
  entries.push_back(b);
  for (const AccessEntry& e : entries) {
    std::string line = Line(e);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, squid)) << line;
    EXPECT_EQ(std::stoll(m[1]) * 1000 + std::stoll(m[2]), e.time_ms);
    EXPECT_EQ(std::stoll(m[3]), e.elapsed_ms);
    EXPECT_EQ(m[4].str(), e.client.empty() ? "-" : std::string(e.client));
    EXPECT_EQ(m[5].str(), e.code);
    EXPECT_EQ(std::stoi(m[6]), e.status);
    EXPECT_EQ(std::stoull(m[7]), e.bytes);
    EXPECT_EQ(m[8].str(), e.method);
    EXPECT_EQ(m[11].str(), e.hierarchy);
    // Whitespace splitting (awk, SARG) gives exactly 10 fields.
    std::istringstream in(line);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    EXPECT_EQ(fields.size(), 10u) << line;
  }
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(AccessLogFileTest, BuffersFlushesAndReopensAfterRotation) {
  saring::testing::TempDir dir;
  std::string path = dir.Sub("access.log");
  std::unique_ptr<AccessLogFile> log;
  ASSERT_TRUE(AccessLogFile::Open(path, &log).ok());
  log->Append("one\n");
  log->Append("two\n");
  log->Flush();
  EXPECT_EQ(Slurp(path), "one\ntwo\n");
  // logrotate moves the file away; Reopen starts a new one at the same path.
  ASSERT_EQ(std::rename(path.c_str(), dir.Sub("access.log.1").c_str()), 0);
  log->Append("three\n");
  ASSERT_TRUE(log->Reopen().ok());
  log->Append("four\n");
  log.reset();  // flushes
  EXPECT_EQ(Slurp(dir.Sub("access.log.1")), "one\ntwo\nthree\n");
  EXPECT_EQ(Slurp(path), "four\n");

  std::unique_ptr<AccessLogFile> nowhere;
  Status st = AccessLogFile::Open(dir.Sub("no/such/dir/access.log"), &nowhere);
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_NE(st.message().find("access log"), std::string::npos);
}

}  // namespace
}  // namespace saring::proxy
