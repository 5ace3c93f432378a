#include "saring/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <sstream>

#include "match/domain_shards.h"
#include "match/pattern_set.h"
#include "testing/temp_dir.h"

namespace saring {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(std::size_t max_delta = 20000) {
    engine_.reset();
    EngineOptions options;
    options.db_dir = dir_.Sub("db");
    options.max_delta_entries = max_delta;
    Status st = Engine::Open(options, &engine_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  void Add(RuleKind kind, Action action, const std::string& value, const std::string& source = "city",
           const std::string& category = "gambling") {
    Rule r;
    r.kind = kind;
    r.action = action;
    r.value = value;
    r.source = source;
    r.category = category;
    Status st = engine_->AddRules({r}, ctx_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Block(const std::string& d, const std::string& source = "city") {
    Add(RuleKind::kDomain, Action::kBlock, d, source);
  }
  void Allow(const std::string& d) { Add(RuleKind::kDomain, Action::kAllow, d, "allow", "critical"); }

  Verdict Check(std::string_view name) { return engine_->snapshot()->CheckName(name); }
  std::string Decide(std::string_view name) { return std::string(ToString(Check(name).decision)); }

  Status Import(const std::string& source, const std::string& text, ImportResult* result,
                FeedFormat format = FeedFormat::kPlain, bool force = false) {
    ImportRequest request;
    request.options.source = source;
    request.options.force = force;
    request.format = format;
    std::istringstream in(text);
    return engine_->Import(request, in, ctx_, result);
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  ChangeContext ctx_{.by = "tester"};
};

TEST_F(EngineTest, DomainRuleMatchesNameAndSubdomainsOnly) {
  Block("x.pages.dev");
  EXPECT_EQ(Decide("x.pages.dev"), "block");
  EXPECT_EQ(Decide("a.x.pages.dev"), "block");
  EXPECT_EQ(Decide("deep.a.x.pages.dev"), "block");
  EXPECT_EQ(Decide("pages.dev"), "pass");
  EXPECT_EQ(Decide("ax.pages.dev"), "pass");
  EXPECT_EQ(Decide("y.pages.dev"), "pass");
  Verdict v = Check("www.x.pages.dev");
  EXPECT_EQ(v.rule, "x.pages.dev");
  EXPECT_EQ(v.source, "city");
  EXPECT_EQ(v.category, "gambling");
  EXPECT_EQ(v.kind, RuleKind::kDomain);
}

TEST_F(EngineTest, AllowWinsOverBlockAtAnyLevel) {
  Block("slot.example.go.id");
  Allow("example.go.id");
  EXPECT_EQ(Decide("slot.example.go.id"), "allow");  // allow on a parent still wins
  Block("judi.id");
  Allow("kota.judi.id");
  EXPECT_EQ(Decide("kota.judi.id"), "allow");
  EXPECT_EQ(Decide("www.kota.judi.id"), "allow");
  EXPECT_EQ(Decide("other.judi.id"), "block");
  // The same domain blocked and allowed by two sources: allow.
  Block("both.com", "feed");
  Allow("both.com");
  EXPECT_EQ(Decide("both.com"), "allow");
  EXPECT_EQ(Check("both.com").source, "allow");
}

TEST_F(EngineTest, PatternsBlockAndAllowPatternsWin) {
  Add(RuleKind::kPattern, Action::kBlock, "slot.?gacor");
  EXPECT_EQ(Decide("slotgacor88.xyz"), "block");
  EXPECT_EQ(Decide("www.slot-gacor.site"), "block");
  EXPECT_EQ(Decide("timeslot.com"), "pass");
  Verdict v = Check("slotgacor88.xyz");
  EXPECT_EQ(v.kind, RuleKind::kPattern);
  EXPECT_EQ(v.rule, "slot.?gacor");
  Add(RuleKind::kPattern, Action::kAllow, "\\.go\\.id$", "allow", "critical");
  EXPECT_EQ(Decide("slotgacor.kab.go.id"), "allow");
  Allow("slotgacor-info.org");
  EXPECT_EQ(Decide("slotgacor-info.org"), "allow");
}

TEST_F(EngineTest, DomainBlockBeatsPatternBlockInTheReport) {
  Add(RuleKind::kPattern, Action::kBlock, "gacor");
  Block("gacor.com", "feed");
  Verdict v = Check("www.gacor.com");
  EXPECT_EQ(v.kind, RuleKind::kDomain);
  EXPECT_EQ(v.source, "feed");
}

TEST_F(EngineTest, UrlRulesBlockPathsOnAllowedHosts) {
  Add(RuleKind::kUrl, Action::kBlock, "^http://[^/]*\\.go\\.id/[^?]*(slot|gacor)");
  auto snap = engine_->snapshot();
  EXPECT_TRUE(snap->CheckUrl("dinas.go.id", "http://dinas.go.id/uploads/slot-gacor.html").blocked());
  EXPECT_EQ(snap->CheckUrl("dinas.go.id", "http://dinas.go.id/berita/2024").decision, Decision::kPass);
  EXPECT_EQ(snap->CheckName("dinas.go.id").decision, Decision::kPass);
  Allow("dinas.go.id");
  EXPECT_EQ(engine_->snapshot()->CheckUrl("dinas.go.id", "http://dinas.go.id/uploads/slot-gacor.html").decision,
            Decision::kAllow);
}

TEST_F(EngineTest, InvalidRegexIsRefusedWithHyperscansReason) {
  Rule r;
  r.kind = RuleKind::kPattern;
  r.value = "slot(";
  r.source = "city";
  Status st = engine_->AddRules({r}, ctx_);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_FALSE(st.message().empty());
  EXPECT_EQ(engine_->store().serial(), 0u);
}

TEST_F(EngineTest, RemovalHidesTheBaseAndOtherSourcesStillBlock) {
  Block("a.com", "feed");
  Block("b.com", "feed");
  Block("b.com", "city");
  ASSERT_TRUE(engine_->Rebuild().ok());  // both now in the base index
  EXPECT_EQ(engine_->snapshot()->stats().delta_domains, 0u);
  std::vector<RuleKey> keys = {{"feed", RuleKind::kDomain, "a.com"}, {"feed", RuleKind::kDomain, "b.com"}};
  ASSERT_TRUE(engine_->RemoveRules(keys, ctx_).ok());
  EXPECT_EQ(Decide("a.com"), "pass");
  EXPECT_EQ(Decide("b.com"), "block");
  EXPECT_EQ(Check("b.com").source, "city");
  EXPECT_EQ(engine_->snapshot()->stats().delta_domains, 2u);
}

TEST_F(EngineTest, DeltaFoldsIntoANewIndexOnceLarge) {
  Open(/*max_delta=*/3);
  for (int i = 0; i < 5; ++i) Block("d" + std::to_string(i) + ".com");
  Snapshot::Stats s = engine_->snapshot()->stats();
  EXPECT_LE(s.delta_domains, 3u);
  EXPECT_EQ(s.base_domains + s.delta_domains >= 5, true);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Decide("www.d" + std::to_string(i) + ".com"), "block");
}

TEST_F(EngineTest, BackgroundRebuildFoldsTheDeltaWhileChangesGoOn) {
  engine_.reset();
  EngineOptions options;
  options.db_dir = dir_.Sub("db");
  options.max_delta_entries = 3;
  options.background_rebuild = true;
  ASSERT_TRUE(Engine::Open(options, &engine_).ok());
  for (int i = 0; i < 5; ++i) Block("bg" + std::to_string(i) + ".com");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Decide("bg" + std::to_string(i) + ".com"), "block");
  // The fold happens on the engine's own thread; wait for it, bounded.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // Shards are swapped in one by one, and the delta is trimmed after the last
  // one; changes after the fold's view of the store stay in the delta.
  auto folded = [&] {
    Snapshot::Stats s = engine_->snapshot()->stats();
    return s.base_domains >= 4 && s.delta_domains <= 1;
  };
  while (!folded() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Snapshot::Stats s = engine_->snapshot()->stats();
  EXPECT_GE(s.base_domains, 4u);
  EXPECT_LE(s.delta_domains, 1u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Decide("www.bg" + std::to_string(i) + ".com"), "block");
  engine_.reset();  // stops the thread
}

TEST_F(EngineTest, ReaderSeesNewSnapshotsWithoutAsking) {
  SnapshotReader reader(&engine_->publisher());
  const Snapshot* first = reader.Get();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->CheckName("new.com").decision, Decision::kPass);
  Block("new.com");
  const Snapshot* second = reader.Get();
  EXPECT_NE(first, second);
  EXPECT_EQ(second->CheckName("new.com").decision, Decision::kBlock);
  EXPECT_EQ(second->serial(), engine_->store().serial());
}

TEST_F(EngineTest, BatchedChecksAgreeWithSingleChecks) {
  for (int i = 0; i < 50; ++i) Block("b" + std::to_string(i) + ".net");
  Allow("b7.net");
  Add(RuleKind::kPattern, Action::kBlock, "togel");
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back("www.b" + std::to_string(i * 2) + ".net");
    names.push_back("togel" + std::to_string(i) + ".org");
    names.push_back("ok" + std::to_string(i) + ".org");
  }
  std::vector<std::string_view> views(names.begin(), names.end());
  std::vector<Verdict> out(views.size());
  auto snap = engine_->snapshot();
  snap->CheckNames(views, out);
  for (std::size_t i = 0; i < views.size(); ++i) {
    Verdict one = snap->CheckName(views[i]);
    EXPECT_EQ(out[i].decision, one.decision) << views[i];
    EXPECT_EQ(out[i].rule, one.rule) << views[i];
  }
}

TEST_F(EngineTest, ImportReportsRejectsAndApplies) {
  ImportResult result;
  Status st = Import("feed", "Slot88.COM.\n\n  gacor.net \n10.0.0.1\nbad..name\nwww.maxwin.org\n", &result);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(result.store.added, 3u);
  EXPECT_EQ(result.parse.rejected, 2u);
  ASSERT_EQ(result.rejected.size(), 2u);
  EXPECT_EQ(result.rejected[0].line, 4u);
  EXPECT_EQ(Decide("a.slot88.com"), "block");
  EXPECT_EQ(Decide("www.maxwin.org"), "block");
  EXPECT_EQ(Decide("maxwin.org"), "pass");
}

TEST_F(EngineTest, ImportOfPatternsRejectsBadRegexesByLine) {
  ImportResult result;
  Status st = Import("pats", "# families\nslot.?gacor\nslot(\ntogel\n", &result, FeedFormat::kPatterns);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(result.store.added, 2u);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].line, 3u);
  EXPECT_EQ(Decide("togel4d.net"), "block");
}

TEST_F(EngineTest, ShrinkingImportKeepsTheOldSetInForce) {
  ImportResult result;
  ASSERT_TRUE(Import("feed", "a.com\nb.com\nc.com\nd.com\ne.com\n", &result).ok());
  Status st = Import("feed", "a.com\n", &result);
  EXPECT_TRUE(st.IsFailedPrecondition());
  EXPECT_EQ(Decide("e.com"), "block");
  st = Import("feed", "", &result);
  EXPECT_TRUE(st.IsFailedPrecondition());
  EXPECT_EQ(Decide("e.com"), "block");
}

TEST_F(EngineTest, LargeImportRebuildsTheIndex) {
  std::string text;
  for (int i = 0; i < 30000; ++i) text += "judi" + std::to_string(i) + ".xyz\n";
  ImportResult result;
  ASSERT_TRUE(Import("feed", text, &result).ok());
  Snapshot::Stats s = engine_->snapshot()->stats();
  EXPECT_EQ(s.base_domains, 30000u);
  EXPECT_EQ(s.delta_domains, 0u);
  EXPECT_EQ(s.base_serial, engine_->store().serial());
  EXPECT_EQ(Decide("m.judi29999.xyz"), "block");
  EXPECT_EQ(Decide("judi30000.xyz"), "pass");
}

TEST_F(EngineTest, ReopenUsesTheSavedIndexAndKeepsVerdicts) {
  Block("saved.com", "feed");
  Add(RuleKind::kPattern, Action::kBlock, "maxwin");
  ASSERT_TRUE(engine_->Rebuild().ok());
  for (int k = 0; k < match::kDomainShards; ++k) {
    EXPECT_TRUE(std::filesystem::exists(dir_.Sub("db") + "/domains-" + std::to_string(k) + ".idx"));
  }
  Open();
  EXPECT_EQ(Decide("www.saved.com"), "block");
  EXPECT_EQ(Decide("maxwin.site"), "block");
  Snapshot::Stats s = engine_->snapshot()->stats();
  EXPECT_EQ(s.base_serial, engine_->store().serial());
  EXPECT_EQ(s.base_domains, 1u);
}

TEST_F(EngineTest, ChangesDuringRebuildsAreNeverLost) {
  std::string text;
  for (int i = 0; i < 30000; ++i) text += "base" + std::to_string(i) + ".xyz\n";
  ImportResult result;
  ASSERT_TRUE(Import("feed", text, &result).ok());

  std::atomic<bool> done{false};
  std::atomic<bool> rebuild_failed{false};
  std::thread rebuilder([&] {
    while (!done.load()) rebuild_failed.store(rebuild_failed.load() || !engine_->Rebuild().ok());
  });
  struct Join {  // also when an assertion below returns early
    std::atomic<bool>& done;
    std::thread& thread;
    ~Join() {
      done.store(true);
      thread.join();
    }
  } join{done, rebuilder};
  SnapshotReader reader(&engine_->publisher());
  for (int i = 0; i < 300; ++i) {
    Block("live" + std::to_string(i) + ".xyz");
    // Every published snapshot, mid-rebuild or not, holds all changes so far.
    ASSERT_TRUE(reader.Get()->CheckName("live" + std::to_string(i) + ".xyz").blocked()) << i;
    ASSERT_TRUE(reader.Get()->CheckName("live0.xyz").blocked()) << i;
    ASSERT_TRUE(reader.Get()->CheckName("base" + std::to_string(i * 97) + ".xyz").blocked()) << i;
    if (i % 3 == 0) {
      std::vector<RuleKey> keys = {{"feed", RuleKind::kDomain, "base" + std::to_string(i) + ".xyz"}};
      ASSERT_TRUE(engine_->RemoveRules(keys, ctx_).ok());
      ASSERT_FALSE(reader.Get()->CheckName("base" + std::to_string(i) + ".xyz").blocked()) << i;
    }
  }
  done.store(true);
  ASSERT_FALSE(rebuild_failed.load());
  ASSERT_TRUE(engine_->Rebuild().ok());
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(Decide("live" + std::to_string(i) + ".xyz"), "block");
    EXPECT_EQ(Decide("base" + std::to_string(i) + ".xyz"), i % 3 == 0 ? "pass" : "block");
  }
  EXPECT_EQ(engine_->snapshot()->stats().delta_domains, 0u);
}

TEST_F(EngineTest, CompiledPatternsAreCachedForTheCurrentSetOnly) {
  Add(RuleKind::kPattern, Action::kBlock, "togel");
  Add(RuleKind::kPattern, Action::kBlock, "maxwin");
  std::vector<match::PatternSet::Pattern> patterns = {{"maxwin", 0}, {"togel", 1}};
  std::string key = "pattern/" + match::PatternSet::CacheKey(patterns);
  std::string bytes;
  ASSERT_TRUE(engine_->store().GetCached(key, &bytes).ok());
  std::unique_ptr<match::PatternSet> set;
  ASSERT_TRUE(match::PatternSet::Deserialize(bytes, &set).ok());
  EXPECT_EQ(set->pattern_count(), 2u);
  std::vector<match::PatternSet::Pattern> older = {{"togel", 0}};
  EXPECT_TRUE(engine_->store().GetCached("pattern/" + match::PatternSet::CacheKey(older), &bytes)
                  .IsNotFound());
}

TEST_F(EngineTest, ExpiredRulesStopMatching) {
  Rule r;
  r.value = "soon.com";
  r.source = "city";
  r.expires_at = std::time(nullptr) + 1;
  ASSERT_TRUE(engine_->AddRules({r}, ctx_).ok());
  EXPECT_EQ(Decide("soon.com"), "block");
  ChangeContext later{.by = "system", .now = std::time(nullptr) + 5};
  std::vector<RuleKey> removed;
  ASSERT_TRUE(engine_->RemoveExpired(later, &removed).ok());
  EXPECT_EQ(removed.size(), 1u);
  EXPECT_EQ(Decide("soon.com"), "pass");
}

TEST_F(EngineTest, DefaultRulesLoadIntoANewStore) {
  engine_.reset();
  EngineOptions options;
  options.db_dir = dir_.Sub("fresh");
  options.default_rules_dir = std::string(SARING_SOURCE_DIR) + "/rules";
  ASSERT_TRUE(Engine::Open(options, &engine_).ok());
  std::vector<SourceInfo> sources;
  ASSERT_TRUE(engine_->store().ListSources(&sources).ok());
  EXPECT_EQ(sources.size(), 4u);
  EXPECT_EQ(Decide("dns.google"), "block");
  EXPECT_EQ(Check("dns.google").category, "doh");
  EXPECT_GT(engine_->snapshot()->stats().patterns, 10u);
}

}  // namespace
}  // namespace saring
