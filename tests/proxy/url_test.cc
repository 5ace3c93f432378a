#include "proxy/url.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "saring/engine.h"
#include "saring/snapshot.h"
#include "testing/temp_dir.h"

namespace saring::proxy {
namespace {

struct Case {
  std::string target;
  std::string host_header;
  std::string want;  // the normalized url, or (when error is true) a piece of the error message
  bool error = false;
};

Case Ok(std::string target, std::string want, std::string host = "") {
  return {std::move(target), std::move(host), std::move(want), false};
}
Case Err(std::string target, std::string message_part, std::string host = "") {
  return {std::move(target), std::move(host), std::move(message_part), true};
}

std::vector<Case> Cases() {
  std::vector<Case> c = {
      // Scheme, host, port, userinfo, fragment.
      Ok("http://example.com/", "http://example.com/"),
      Ok("http://example.com", "http://example.com/"),
      Ok("HTTP://Example.COM/Path", "http://example.com/Path"),
      Ok("HtTp://EXAMPLE.com/", "http://example.com/"),
      Ok("http://example.com:80/", "http://example.com/"),
      Ok("http://example.com:8080/", "http://example.com:8080/"),
      Ok("http://example.com:/a", "http://example.com/a"),
      Ok("http://example.com:0080/a", "http://example.com/a"),
      Ok("http://example.com:08080/a", "http://example.com:8080/a"),
      Ok("https://example.com:443/a", "https://example.com/a"),
      Ok("HTTPS://example.com/a", "https://example.com/a"),
      Ok("https://example.com:80/a", "https://example.com:80/a"),
      Ok("http://example.com:443/a", "http://example.com:443/a"),
      Ok("http://user:pw@example.com/a", "http://example.com/a"),
      Ok("http://user@evil.com@example.com/a", "http://example.com/a"),
      Ok("http://evil.com#@example.com/a", "http://evil.com/"),
      Ok("http://example.com/a#frag", "http://example.com/a"),
      Ok("http://example.com/a?x=1#frag", "http://example.com/a?x=1"),
      Ok("http://example.com?x", "http://example.com/?x"),
      Ok("http://example.com#f", "http://example.com/"),
      Ok("http://example.com\\a\\b", "http://example.com/a/b"),
      Ok("http://example.com./", "http://example.com/"),
      Ok("http://bücher.example/", "http://xn--bcher-kva.example/"),
      Ok("http://B%C3%BCcher.example/", "http://xn--bcher-kva.example/"),
      Ok("http://%73lot.example/", "http://slot.example/"),
      // Origin-form: the host comes from the Host header.
      Ok("/a?b", "http://example.com/a?b", "Example.com"),
      Ok("/", "http://example.com:8080/", "example.com:8080"),
      Ok("/x", "http://example.com/x", " example.com\t"),
      Ok("/x", "http://example.com/x", "EXAMPLE.com.:80"),
      Ok("/x", "http://xn--bcher-kva.example/x", "bücher.example"),
      Ok("//evil.com/x", "http://example.com/evil.com/x", "example.com"),
      // IP literals.
      Ok("http://192.168.1.1/a", "http://192.168.1.1/a"),
      Ok("http://192.168.1.1:8080/a", "http://192.168.1.1:8080/a"),
      Ok("http://1.2.3.4./", "http://1.2.3.4/"),
      Ok("http://0x7f.1/", "http://127.0.0.1/"),
      Ok("http://2130706433/", "http://127.0.0.1/"),
      Ok("http://0177.0.0.1/", "http://127.0.0.1/"),
      Ok("http://10.1/", "http://10.0.0.1/"),
      Ok("http://[::1]/", "http://[::1]/"),
      Ok("http://[::1]:80/", "http://[::1]/"),
      Ok("http://[2001:DB8:0:0::1]:8080/a", "http://[2001:db8::1]:8080/a"),
      Ok("/a", "http://[::1]:8080/a", "[::1]:8080"),
      Ok("/a", "http://10.0.0.1/a", "10.0.0.1:80"),
      // Path: decoding.
      Ok("/a%2fb", "http://h.id/a/b", "h.id"),
      Ok("/a%2Fslot", "http://h.id/a/slot", "h.id"),
      Ok("/%73lot", "http://h.id/slot", "h.id"),
      Ok("/a%7eb%2d%5F", "http://h.id/a~b-_", "h.id"),
      Ok("/a%3Bb%3d%2B", "http://h.id/a;b=+", "h.id"),
      Ok("/a\\b", "http://h.id/a/b", "h.id"),
      Ok("/a%5Cb", "http://h.id/a/b", "h.id"),
      Ok("/a%20b", "http://h.id/a%20b", "h.id"),
      Ok("/a%3fb", "http://h.id/a%3Fb", "h.id"),
      Ok("/a%23b", "http://h.id/a%23b", "h.id"),
      Ok("/a%25b", "http://h.id/a%25b", "h.id"),
      Ok("/a%252Fb", "http://h.id/a%252Fb", "h.id"),
      Ok("/a%0ab", "http://h.id/a%0Ab", "h.id"),
      Ok("/caf%c3%a9", "http://h.id/caf%C3%A9", "h.id"),
      Ok("/café", "http://h.id/caf%C3%A9", "h.id"),
      Ok("/A/B", "http://h.id/A/B", "h.id"),
      Ok("/a\"b<c>", "http://h.id/a\"b<c>", "h.id"),
      Ok("/a%22b%3Cc%3E", "http://h.id/a\"b<c>", "h.id"),
      // Path: dot segments and slashes.
      Ok("/a/./b", "http://h.id/a/b", "h.id"),
      Ok("/a/../b", "http://h.id/b", "h.id"),
      Ok("/a/%2e%2E/b", "http://h.id/b", "h.id"),
      Ok("/a/.%2e/b", "http://h.id/b", "h.id"),
      Ok("/a/%2e/b", "http://h.id/a/b", "h.id"),
      Ok("/a/b%2f..%2fc", "http://h.id/a/c", "h.id"),
      Ok("/a//b///c", "http://h.id/a/b/c", "h.id"),
      Ok("/a/", "http://h.id/a/", "h.id"),
      Ok("/a//", "http://h.id/a/", "h.id"),
      Ok("/..", "http://h.id/", "h.id"),
      Ok("/../../a", "http://h.id/a", "h.id"),
      Ok("/a/...", "http://h.id/a/...", "h.id"),
      Ok("/a/..b/b..", "http://h.id/a/..b/b..", "h.id"),
      // RFC 3986 §5.2.4's own examples.
      Ok("/a/b/c/./../../g", "http://h.id/a/g", "h.id"),
      Ok("/mid/content=5/../6", "http://h.id/mid/6", "h.id"),
      // Query.
      Ok("/p?a=1&b=2", "http://h.id/p?a=1&b=2", "h.id"),
      Ok("/p?q=%41%42%2d%7E", "http://h.id/p?q=AB-~", "h.id"),
      Ok("/p?q=%2f%3d", "http://h.id/p?q=%2F%3D", "h.id"),
      Ok("/p?a%3Db", "http://h.id/p?a%3Db", "h.id"),
      Ok("/p?a+b=c%2Bd", "http://h.id/p?a+b=c%2Bd", "h.id"),
      Ok("/p?", "http://h.id/p", "h.id"),
      Ok("/p?x=%c3%a9", "http://h.id/p?x=%C3%A9", "h.id"),
      Ok("/p?x=é", "http://h.id/p?x=%C3%A9", "h.id"),
      Ok("/p?a/../b//c", "http://h.id/p?a/../b//c", "h.id"),
      Ok("/p?x?y", "http://h.id/p?x?y", "h.id"),
      // Errors.
      Err("", "empty request target"),
      Err(std::string(8193, 'a').replace(0, 1, "/"), "longer than 8192", "h.id"),
      Err("/a b", "control character or space", "h.id"),
      Err("/a\tb", "0x09", "h.id"),
      Err("/a\x01", "0x01", "h.id"),
      Err("/a\x7f", "0x7F", "h.id"),
      Err("http://exa mple.com/", "control character or space"),
      Err("/a%00b", "%00", "h.id"),
      Err("/p?x=%00", "%00 (NUL byte) in the query", "h.id"),
      Err("http://a%00.com/", "%00 (NUL byte) in the host"),
      Err("/a%2", "malformed percent-escape in the path", "h.id"),
      Err("/a%", "malformed percent-escape", "h.id"),
      Err("/a%zz", "malformed percent-escape", "h.id"),
      Err("/a%2g", "malformed percent-escape", "h.id"),
      Err("/p?x=%g1", "malformed percent-escape in the query", "h.id"),
      Err("/p?x=100%", "malformed percent-escape in the query", "h.id"),
      Err("http://ex%2.com/", "malformed percent-escape in the host"),
      Err("http://ex%20ample.com/", "0x20 in the host"),
      Err("http:///a", "missing host"),
      Err("http://:80/a", "missing host"),
      Err("http://user@/a", "missing host"),
      Err("/a", "missing Host header"),
      Err("/a", "missing Host header", " \t "),
      Err("/a", "missing host", ":8080"),
      Err("/a", "'@' in the Host header", "user@h.id"),
      Err("/a", "in the Host header", "h.id\r\nX-Evil: 1"),
      Err("http://example.com:99999/", "port out of range"),
      Err("http://example.com:0/", "bad port 0"),
      Err("http://example.com:8o/", "bad port"),
      Err("http://example.com:-1/", "bad port"),
      Err("/a", "bad port", "h.id:http"),
      Err("ftp://example.com/", "unsupported scheme 'ftp'"),
      Err("ws://example.com/", "unsupported scheme"),
      Err("example.com:443", "authority-form"),
      Err("example.com", "neither absolute-form"),
      Err("*", "asterisk-form"),
      Err("http://exa_mple..com/", "invalid host"),
      Err("http://-x.com/", "invalid host"),
      Err("http://ex!ample.com/", "invalid host"),
      Err("http://[::g]/", "invalid IPv6 literal"),
      Err("http://[]/", "invalid IPv6 literal"),
      Err("http://[fe80::1%25eth0]/", "invalid IPv6 literal"),
      Err("http://[::1/", "unclosed '['"),
      Err("http://[::1]x/", "text after the IPv6 literal"),
      Err("http://::1/", "invalid host"),
      Err("http://1.2.3.256/", "invalid IPv4 address"),
      Err("http://1.2.3.4.5/", "invalid IPv4 address"),
      Err("http://1..2/", "invalid IPv4 address"),
      Err("http://4294967296/", "invalid IPv4 address"),
      Err("http://example.09/", "invalid IPv4 address"),
  };
  // RFC 3986 §5.4.1/§5.4.2 examples, base "http://a/b/c/d;p?q": the reference
  // appended to the base's directory, then dot segments removed, must give
  // the RFC's result.
  const char* const kRfc[][2] = {
      {"g", "/b/c/g"},        {"./g", "/b/c/g"},          {"g/", "/b/c/g/"},
      {".", "/b/c/"},         {"./", "/b/c/"},            {"..", "/b/"},
      {"../", "/b/"},         {"../g", "/b/g"},           {"../..", "/"},
      {"../../", "/"},        {"../../g", "/g"},          {"../../../g", "/g"},
      {"../../../../g", "/g"}, {"g.", "/b/c/g."},         {".g", "/b/c/.g"},
      {"g..", "/b/c/g.."},    {"..g", "/b/c/..g"},        {"./../g", "/b/g"},
      {"./g/.", "/b/c/g/"},   {"g/./h", "/b/c/g/h"},      {"g/../h", "/b/c/h"},
      {"g;x=1/./y", "/b/c/g;x=1/y"}, {"g;x=1/../y", "/b/c/y"}, {"g?y/./x", "/b/c/g?y/./x"},
      {"g#s/../x", "/b/c/g"},
  };
  for (const auto& r : kRfc) c.push_back(Ok(std::string("http://a/b/c/") + r[0], std::string("http://a") + r[1]));
  // Absolute "/./g" and "/../g" (§5.4.2).
  c.push_back(Ok("http://a/./g", "http://a/g"));
  c.push_back(Ok("http://a/../g", "http://a/g"));
  // Exactly 8 KiB is still fine.
  c.push_back(Ok("/" + std::string(8191, 'a'), "http://h.id/" + std::string(8191, 'a'), "h.id"));
  return c;
}

TEST(NormalizeRequestUrl, Table) {
  std::vector<Case> cases = Cases();
  EXPECT_GE(cases.size(), 60u);
  NormalizedUrl n;  // reused on purpose, as the proxy does per connection
  for (const Case& c : cases) {
    SCOPED_TRACE("target '" + c.target.substr(0, 80) + "' host '" + c.host_header + "'");
    Status st = NormalizeRequestUrl(c.target, c.host_header, &n);
    if (c.error) {
      ASSERT_FALSE(st.ok()) << "got " << n.url;
      EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
      EXPECT_NE(st.message().find(c.want), std::string::npos) << st.ToString();
      EXPECT_TRUE(n.url.empty());
    } else {
      ASSERT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(n.url, c.want);
    }
  }
}

TEST(NormalizeRequestUrl, Fields) {
  NormalizedUrl n;
  ASSERT_TRUE(NormalizeRequestUrl("http://u:p@Example.COM.:8080/a/../B%2fc?x=%41&y=%2f#f", "", &n).ok());
  EXPECT_EQ(n.host, "example.com");
  EXPECT_EQ(n.port, 8080);
  EXPECT_EQ(n.path, "/B/c");
  EXPECT_EQ(n.query, "x=A&y=%2F");
  EXPECT_FALSE(n.https);
  EXPECT_EQ(n.url, "http://example.com:8080/B/c?x=A&y=%2F");

  ASSERT_TRUE(NormalizeRequestUrl("https://[::FFFF:10.0.0.1]/", "", &n).ok());
  EXPECT_EQ(n.host, "[::ffff:10.0.0.1]");
  EXPECT_EQ(n.port, 443);
  EXPECT_TRUE(n.https);
  EXPECT_EQ(n.path, "/");
  EXPECT_EQ(n.query, "");
  EXPECT_EQ(n.url, "https://[::ffff:10.0.0.1]/");

  ASSERT_TRUE(NormalizeRequestUrl("/x?y", "h.id:81", &n).ok());
  EXPECT_EQ(n.host, "h.id");
  EXPECT_EQ(n.port, 81);
  EXPECT_FALSE(n.https);
  EXPECT_EQ(n.url, "http://h.id:81/x?y");
}

TEST(NormalizeRequestUrl, HostHeaderMismatchIsReportedNotAnError) {
  struct M {
    const char* target;
    const char* host;
    bool mismatch;
  };
  const M kCases[] = {
      {"http://example.com/", "example.com", false},
      {"http://example.com/", "", false},
      {"http://example.com/", "EXAMPLE.COM:80", false},
      {"http://example.com:80/", "example.com", false},
      {"http://example.com/", "example.com.", false},
      {"http://Example.com/", " example.com ", false},
      {"http://user@example.com/", "example.com", false},
      {"http://bücher.example/", "xn--bcher-kva.example", false},
      {"https://example.com/", "example.com:443", false},
      {"http://[::1]/", "[0:0::1]:80", false},
      {"http://example.com/", "other.com", true},
      {"http://example.com/", "example.com:8080", true},
      {"http://example.com:8080/", "example.com", true},
      {"https://example.com/", "example.com:80", true},
      {"http://example.com/", "bad host!", true},
      {"http://example.com/", "u@example.com", true},
      {"/a", "example.com", false},
  };
  NormalizedUrl n;
  for (const M& m : kCases) {
    SCOPED_TRACE(std::string(m.target) + " Host: " + m.host);
    Status st = NormalizeRequestUrl(m.target, m.host, &n);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(n.host_header_mismatch, m.mismatch);
  }
  // The absolute-form host wins.
  ASSERT_TRUE(NormalizeRequestUrl("http://example.com/a", "other.com", &n).ok());
  EXPECT_EQ(n.url, "http://example.com/a");
  // The flag does not stick from one call to the next.
  ASSERT_TRUE(NormalizeRequestUrl("http://example.com/a", "example.com", &n).ok());
  EXPECT_FALSE(n.host_header_mismatch);
}

const char kPlain[] = "http://dinas.kota.go.id/wp-content/uploads/slot-gacor/";

// Spellings a client (or an evader) may use for the page in kPlain; a server
// would serve the same page for all of them.
const char* const kEvil[][2] = {
    {"http://dinas.kota.go.id/wp-content/uploads/slot-gacor/", ""},
    {"http://DINAS.Kota.GO.ID.:80/wp-content/%2E%2E/wp-content/uploads//slot%2dgacor/", ""},
    {"http://dinas.kota.go.id/wp-content/uploads%2Fslot-gacor/", ""},
    {"http://dinas.kota.go.id/wp-content/uploads/%73lot-gacor/", ""},
    {"http://dinas.kota.go.id/wp-content/./uploads/./slot-gacor/", ""},
    {"http://dinas.kota.go.id/a/../wp-content/b/c/../../uploads/slot-gacor/", ""},
    {"http://dinas.kota.go.id/wp-content\\uploads\\slot-gacor\\", ""},
    {"http://admin:secret@dinas.kota.go.id:0080/wp-content/uploads/slot-gacor/#top", ""},
    {"http://%64inas.kota.go.id/%77%70%2d%63%6f%6e%74%65%6e%74%2f%75%70%6c%6f%61%64%73%2f%73%6c%6f%74%2d%67%61%63%6f%72%2f",
     ""},
    {"/wp-content//uploads///slot-gacor/", "Dinas.Kota.Go.Id.:80"},
    {"/x/%2e%2e/wp-content/uploads/slot-gacor/.", "dinas.kota.go.id"},
    {"/wp-content/uploads/slot-gacor%2F", "dinas.kota.go.id"},
    {"/wp-content/uploads/slot-gacor%5c", "dinas.kota.go.id"},
};

TEST(NormalizeRequestUrl, EvilSpellingsNormalizeToThePlainOne) {
  NormalizedUrl n;
  for (const auto& e : kEvil) {
    SCOPED_TRACE(std::string(e[0]) + " Host: " + e[1]);
    Status st = NormalizeRequestUrl(e[0], e[1], &n);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(n.url, kPlain);
    EXPECT_EQ(n.host, "dinas.kota.go.id");
  }
  ASSERT_TRUE(NormalizeRequestUrl(
                  "http://DINAS.Kota.GO.ID.:80/wp-content/%2E%2E/wp-content/uploads//slot%2dgacor/?a=1", "", &n)
                  .ok());
  EXPECT_EQ(n.url, std::string(kPlain) + "?a=1");
}

TEST(NormalizeRequestUrl, ReusesCapacity) {
  NormalizedUrl n;
  std::string long_path = "/" + std::string(3000, 'p');
  std::string long_query = std::string(2000, 'q');
  ASSERT_TRUE(NormalizeRequestUrl("http://" + std::string(60, 'h') + ".example" + long_path + "?" + long_query, "",
                                  &n)
                  .ok());
  EXPECT_EQ(n.path, long_path);
  EXPECT_EQ(n.query, long_query);
  const std::size_t host_cap = n.host.capacity(), path_cap = n.path.capacity(),
                    query_cap = n.query.capacity(), url_cap = n.url.capacity();
  const char* const path_data = n.path.data();
  const char* const url_data = n.url.data();

  ASSERT_TRUE(NormalizeRequestUrl("/a/../b?c", "h.id", &n).ok());
  EXPECT_EQ(n.host, "h.id");
  EXPECT_EQ(n.path, "/b");
  EXPECT_EQ(n.query, "c");
  EXPECT_EQ(n.url, "http://h.id/b?c");
  EXPECT_EQ(n.host.capacity(), host_cap);
  EXPECT_EQ(n.path.capacity(), path_cap);
  EXPECT_EQ(n.query.capacity(), query_cap);
  EXPECT_EQ(n.url.capacity(), url_cap);
  EXPECT_EQ(n.path.data(), path_data);  // no reallocation
  EXPECT_EQ(n.url.data(), url_data);

  // An error in between does not shrink anything either.
  EXPECT_FALSE(NormalizeRequestUrl("/a%zz", "h.id", &n).ok());
  EXPECT_EQ(n.url.capacity(), url_cap);
  ASSERT_TRUE(NormalizeRequestUrl("http://example.com/", "", &n).ok());
  EXPECT_EQ(n.url, "http://example.com/");
  EXPECT_EQ(n.url.data(), url_data);
}

// End to end: a URL rule in a real engine's snapshot, the normalized URL
// through Snapshot::CheckUrl.
TEST(NormalizeRequestUrl, UrlRuleBlocksEveryEvilSpelling) {
  testing::TempDir dir;
  EngineOptions options;
  options.db_dir = dir.Sub("db");
  std::unique_ptr<Engine> engine;
  Status st = Engine::Open(options, &engine);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Rule rule;
  rule.kind = RuleKind::kUrl;
  rule.action = Action::kBlock;
  rule.value = R"(^http://dinas\.kota\.go\.id/wp-content/uploads/slot-gacor/)";
  rule.source = "city";
  ChangeContext ctx;
  ctx.by = "tester";
  st = engine->AddRules({rule}, ctx);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::shared_ptr<const Snapshot> snapshot = engine->snapshot();

  NormalizedUrl n;
  int blocked = 0;
  for (const auto& e : kEvil) {
    SCOPED_TRACE(std::string(e[0]) + " Host: " + e[1]);
    ASSERT_TRUE(NormalizeRequestUrl(e[0], e[1], &n).ok());
    Verdict v = snapshot->CheckUrl(n.host, n.url);
    EXPECT_TRUE(v.blocked()) << n.url;
    EXPECT_EQ(v.kind, RuleKind::kUrl);
    blocked += v.blocked();
  }
  EXPECT_GE(blocked, 10);

  // More pages under it and a different case (URL rules match caseless).
  for (const char* t : {"http://dinas.kota.go.id/wp-content/uploads/slot-gacor/index.php?p=1",
                        "http://dinas.kota.go.id/WP-Content/Uploads/SLOT-GACOR/"}) {
    SCOPED_TRACE(t);
    ASSERT_TRUE(NormalizeRequestUrl(t, "", &n).ok());
    EXPECT_TRUE(snapshot->CheckUrl(n.host, n.url).blocked()) << n.url;
  }

  // The clean pages of the same host pass.
  for (const char* t : {"http://dinas.kota.go.id/", "http://dinas.kota.go.id/berita/2024/laporan",
                        "http://dinas.kota.go.id/wp-content/uploads/2024/05/laporan.pdf",
                        "http://dinas.kota.go.id/wp-content/uploads/slot-gacor",  // not the folder
                        "http://dinas.kota.go.id/wp-content/uploads/slot%3Fgacor/"}) {
    SCOPED_TRACE(t);
    ASSERT_TRUE(NormalizeRequestUrl(t, "", &n).ok());
    Verdict v = snapshot->CheckUrl(n.host, n.url);
    EXPECT_EQ(v.decision, Decision::kPass) << n.url;
  }
}

}  // namespace
}  // namespace saring::proxy
