// saringctl end to end: the real binary against a real store, as an operator
// would use it, including what it says and returns on bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace saring {
namespace {

using nlohmann::json;

class SaringctlTest : public ::testing::Test {
 protected:
  // Each test starts from an initialized store without the bundled rules, so
  // what it sees is what it did (InitLoadsTheBundledRulesOnce uses the real ones).
  void SetUp() override {
    std::filesystem::create_directories(rules_);
    std::ofstream(rules_ + "/manifest.toml") << "# no default rules\n";
    std::string_view test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (!test.starts_with("Init")) {
      ASSERT_EQ(Ctl({"init"}).status, 0);
    }
  }

  testing::ProgramResult Ctl(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {std::string(SARING_BIN_DIR) + "/saringctl", "--db", db_,
                                     "--rules", rules_, "--by", "tester"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProgram(argv, input, dir_.path());
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }

  static std::vector<json> JsonLines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  testing::TempDir dir_;
  std::string db_ = dir_.Sub("db");
  std::string rules_ = dir_.Sub("rules");
};

TEST_F(SaringctlTest, InitLoadsTheBundledRulesOnce) {
  rules_ = std::string(SARING_SOURCE_DIR) + "/rules";
  auto r = Ctl({"init"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ready at serial"), std::string::npos);
  r = Ctl({"check", "dns.google", "slotgacor88.xyz", "kemkes.go.id"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("dns.google\tblock\tdomain dns.google\tsource=saring-doh\tcategory=doh"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("slotgacor88.xyz\tblock\tpattern"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kemkes.go.id\tallow"), std::string::npos) << r.out;

  r = Ctl({"init"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
}

TEST_F(SaringctlTest, ImportReportsRejectedLinesAndCounts) {
  std::string feed = Write("feed.txt", "Slot88.com.\n\nhttp://gacor.net/\n10.1.2.3\nbad..name\nm.maxwin.org\n");
  auto r = Ctl({"import", "--source", "trustpositif", feed});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("3 accepted, 2 rejected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 4: IP address, not a domain: 10.1.2.3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 5: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 added, 0 removed"), std::string::npos) << r.out;

  r = Ctl({"import", "--json", "--source", "trustpositif", "-"}, "slot88.com\ngacor.net\nm.maxwin.org\nnew.bet\n");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["added"], 1);
  EXPECT_EQ(j["unchanged"], 3);
  EXPECT_EQ(j["rejected"], 0);
}

TEST_F(SaringctlTest, ShrinkingImportIsRefusedUnlessForced) {
  ASSERT_EQ(Ctl({"import", "--source", "feed", "-"}, "a.com\nb.com\nc.com\nd.com\ne.com\n").status, 0);
  auto r = Ctl({"import", "--source", "feed", "-"}, "a.com\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("shrink"), std::string::npos) << r.err;
  EXPECT_NE(Ctl({"check", "e.com"}).out.find("block"), std::string::npos);
  r = Ctl({"import", "--source", "feed", "--force", "-"}, "a.com\n");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(Ctl({"check", "e.com"}).out.find("pass"), std::string::npos);
}

TEST_F(SaringctlTest, CheckJsonSaysWhichRuleWhoAndWhen) {
  ASSERT_EQ(Ctl({"rules", "add", "--source", "city", "--note", "billboard", "Judi-Baru.xyz"}).status, 0);
  auto r = Ctl({"check", "--json", "www.judi-baru.xyz", "example.org", "bad..name"});
  EXPECT_EQ(r.status, 1);  // one name was invalid
  std::vector<json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["name"], "www.judi-baru.xyz");
  EXPECT_EQ(lines[0]["verdict"], "block");
  EXPECT_EQ(lines[0]["rule"], "judi-baru.xyz");
  EXPECT_EQ(lines[0]["source"], "city");
  EXPECT_EQ(lines[0]["category"], "gambling");
  EXPECT_EQ(lines[0]["by"], "tester");
  EXPECT_EQ(lines[0]["note"], "billboard");
  EXPECT_EQ(lines[1]["verdict"], "pass");
  EXPECT_TRUE(lines[1]["rule"].is_null());
  EXPECT_EQ(lines[2]["verdict"], "invalid");

  r = Ctl({"check", "--stdin", "--json"}, "judi-baru.xyz\r\n\nExample.ORG\n");
  EXPECT_EQ(r.status, 0) << r.err;
  lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["name"], "example.org");
}

TEST_F(SaringctlTest, RulesAddListRemoveAndAudit) {
  ASSERT_EQ(Ctl({"rules", "add", "--source", "city", "a.xyz", "b.xyz"}).status, 0);
  ASSERT_EQ(Ctl({"rules", "add", "--kind", "pattern", "--source", "city", "maxwin[0-9]+"}).status, 0);
  ASSERT_EQ(Ctl({"rules", "add", "--action", "allow", "--category", "critical", "--source", "ops",
                 "ok.a.xyz"}).status, 0);
  auto r = Ctl({"rules", "list", "--source", "city", "--json"});
  ASSERT_EQ(r.status, 0);
  std::vector<json> rules = JsonLines(r.out);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[2]["kind"], "pattern");
  EXPECT_EQ(rules[0]["by"], "tester");

  EXPECT_NE(Ctl({"check", "ok.a.xyz"}).out.find("allow"), std::string::npos);
  EXPECT_NE(Ctl({"check", "maxwin99.site"}).out.find("block\tpattern maxwin[0-9]+"), std::string::npos);

  r = Ctl({"rules", "remove", "--source", "city", "a.xyz", "nope.xyz"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("nope.xyz"), std::string::npos) << r.err;
  EXPECT_NE(Ctl({"check", "a.xyz"}).out.find("block"), std::string::npos);  // nothing removed
  ASSERT_EQ(Ctl({"rules", "remove", "--source", "city", "A.xyz."}).status, 0);
  EXPECT_NE(Ctl({"check", "a.xyz"}).out.find("pass"), std::string::npos);

  r = Ctl({"audit", "--json"});
  ASSERT_EQ(r.status, 0);
  std::vector<json> audit = JsonLines(r.out);
  ASSERT_EQ(audit.size(), 5u);  // 2 adds in one change, a pattern, an allow, a remove
  EXPECT_EQ(audit[0]["serial"], audit[1]["serial"]);
  EXPECT_EQ(audit.back()["op"], "remove");
  EXPECT_EQ(audit.back()["by"], "tester");
  EXPECT_EQ(audit.back()["detail"]["before"]["value"], "a.xyz");
}

TEST_F(SaringctlTest, BadInputGetsAClearErrorAndNoChange) {
  ASSERT_EQ(Ctl({"rules", "add", "--source", "city", "x.com"}).status, 0);
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  } cases[] = {
      {{"rules", "add", "--kind", "pattern", "--source", "city", "slot("}, 1, "pattern"},
      {{"rules", "add", "--source", "City!", "y.com"}, 1, "source"},
      {{"rules", "add", "--source", "city", "a..b"}, 1, "empty label"},
      {{"rules", "add", "--source", "city", "--expires", "soon", "y.com"}, 1, "expiry"},
      {{"rules", "add", "--kind", "regex", "--source", "city", "y"}, 1, "kind"},
      {{"import", "--source", "feed", "--format", "csv", "-"}, 1, "format"},
      {{"import", "--source", "feed", "/nonexistent/file"}, 1, "cannot read"},
      {{"rules", "frobnicate"}, 2, ""},
      {{"check"}, 1, "names"},
  };
  for (const Case& c : cases) {
    auto r = Ctl(c.args);
    EXPECT_EQ(r.status, c.status) << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args.back() << ": " << r.err;
  }
  auto r = Ctl({"stats", "--json"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(json::parse(r.out)["serial"], 1);  // nothing above changed the store

  r = testing::RunProgram({std::string(SARING_BIN_DIR) + "/saringctl", "--db", dir_.Sub("none"),
                           "check", "a.com"},
                          "", dir_.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("init"), std::string::npos) << r.err;
}

TEST_F(SaringctlTest, ExportRoundTripsThroughTheImporters) {
  ASSERT_EQ(Ctl({"import", "--source", "feed", "-"}, "a.com\nb.net\nc.org\n").status, 0);
  ASSERT_EQ(Ctl({"rules", "add", "--source", "city", "b.net", "d.id"}).status, 0);
  auto plain = Ctl({"export", "--format", "plain"});
  ASSERT_EQ(plain.status, 0);
  std::istringstream lines(plain.out);
  std::set<std::string> names;
  for (std::string l; std::getline(lines, l);) names.insert(l);
  EXPECT_EQ(names, (std::set<std::string>{"a.com", "b.net", "c.org", "d.id"}));
  EXPECT_EQ(std::count(plain.out.begin(), plain.out.end(), '\n'), 4);  // b.net once

  auto rpz = Ctl({"export", "--format", "rpz"});
  ASSERT_EQ(rpz.status, 0);
  EXPECT_NE(rpz.out.find("*.a.com CNAME ."), std::string::npos);
  auto r = Ctl({"import", "--json", "--source", "again", "--format", "rpz", "-"}, rpz.out);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["added"], 4);
  EXPECT_EQ(j["rejected"], 0);
}

TEST_F(SaringctlTest, StatsShowSourcesAndIndex) {
  ASSERT_EQ(Ctl({"import", "--source", "feed", "-"}, "a.com\nb.com\n").status, 0);
  auto r = Ctl({"stats", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["index"]["base_domains"].get<int>() + j["index"]["delta_domains"].get<int>() >= 2, true);
  bool found = false;
  for (const json& s : j["sources"]) found |= s["name"] == "feed" && s["domains"] == 2;
  EXPECT_TRUE(found) << r.out;
}

}  // namespace
}  // namespace saring
