// FeedService over a real engine and store, with file:// feeds (downloads
// over HTTP(S) are covered by fetch_test and the integration tests).
#include "saring/feed_service.h"

#include <gtest/gtest.h>

#include <fstream>

#include "saring/engine.h"
#include "testing/temp_dir.h"

namespace saring {
namespace {

class FeedServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions options;
    options.db_dir = dir_.Sub("db");
    ASSERT_TRUE(Engine::Open(options, &engine_).ok());
    FeedServiceOptions feed_options;
    feed_options.keep_runs = 3;
    feed_options.attempts = 1;
    feeds_ = std::make_unique<FeedService>(engine_.get(), feed_options);
    FeedSource feed;
    feed.name = "tp";
    feed.url = "file://" + dir_.Sub("list.txt");
    ASSERT_TRUE(feeds_->Add(feed, ctx_).ok());
  }

  void Serve(const std::string& text) { std::ofstream(dir_.Sub("list.txt"), std::ios::binary) << text; }

  static std::string Names(int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) out += "judi" + std::to_string(i) + ".com\n";
    return out;
  }

  FeedRun Sync(bool force = false) {
    FeedRun run;
    SyncOptions sync;
    sync.force = force;
    Status st = feeds_->Sync("tp", sync, &run);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return run;
  }

  bool Blocked(const std::string& name) { return engine_->snapshot()->CheckName(name).blocked(); }

  testing::TempDir dir_;
  ChangeContext ctx_{.by = "tester"};
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<FeedService> feeds_;
};

TEST_F(FeedServiceTest, AGoodListIsAppliedAndRecorded) {
  Serve(Names(0, 100));
  FeedRun run = Sync();
  EXPECT_EQ(run.verdict, "applied") << run.error;
  EXPECT_EQ(run.accepted, 100u);
  EXPECT_EQ(run.added, 100u);
  EXPECT_EQ(run.serial, engine_->store().serial());
  EXPECT_TRUE(Blocked("www.judi7.com"));
  std::vector<FeedRun> runs;
  ASSERT_TRUE(feeds_->Runs("tp", 10, &runs).ok());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].verdict, "applied");
  EXPECT_NE(runs[0].ended_at, 0);
  FeedSource feed;
  ASSERT_TRUE(feeds_->Get("tp", &feed).ok());
  EXPECT_EQ(feed.last_verdict, "applied");
  EXPECT_EQ(feed.failures, 0);
  EXPECT_NE(feed.last_good_at, 0);

  EXPECT_EQ(Sync().verdict, "unchanged");
}

TEST_F(FeedServiceTest, BadDownloadsAreRejectedAndTheLastGoodSetStays) {
  Serve(Names(0, 100));
  ASSERT_EQ(Sync().verdict, "applied");
  std::uint64_t serial = engine_->store().serial();
  struct Case {
    const char* what;
    std::string body;
    const char* error;
  } cases[] = {
      {"empty", "", "empty"},
      {"html", "\n  <!DOCTYPE html><html><body>Situs diblokir</body></html>\n", "markup"},
      {"json", "{\"error\": \"quota\"}\n", "JSON"},
      {"junk", "not a name!\n" + std::string(50, '#') + "\n%%%\n@@@ ###\nx y z\nok1.com\n", "not valid entries"},
      {"blank lines only", "\n\n# a comment\n", "no entries"},
      {"shrunk by 90%", Names(0, 10), "shrink"},
  };
  for (const Case& c : cases) {
    Serve(c.body);
    FeedRun run = Sync();
    EXPECT_EQ(run.verdict, "rejected") << c.what;
    EXPECT_NE(run.error.find(c.error), std::string::npos) << c.what << ": " << run.error;
    EXPECT_EQ(engine_->store().serial(), serial) << c.what;
    EXPECT_TRUE(Blocked("judi99.com")) << c.what;
  }
  FeedSource feed;
  ASSERT_TRUE(feeds_->Get("tp", &feed).ok());
  EXPECT_EQ(feed.failures, 6);
  // Forced, the shrunken list goes in.
  Serve(Names(0, 10));
  FeedRun forced = Sync(/*force=*/true);
  EXPECT_EQ(forced.verdict, "applied");
  EXPECT_TRUE(forced.forced);
  EXPECT_FALSE(Blocked("judi99.com"));
  ASSERT_TRUE(feeds_->Get("tp", &feed).ok());
  EXPECT_EQ(feed.failures, 0);
}

TEST_F(FeedServiceTest, AMissingFileFailsAndOnlyTheNewestRunsAreKept) {
  for (int i = 0; i < 5; ++i) {
    FeedRun run = Sync();
    EXPECT_EQ(run.verdict, "failed");
    EXPECT_FALSE(run.error.empty());
  }
  std::vector<FeedRun> runs;
  ASSERT_TRUE(feeds_->Runs("tp", 100, &runs).ok());
  EXPECT_EQ(runs.size(), 3u);
  for (std::size_t i = 1; i < runs.size(); ++i) EXPECT_GT(runs[i - 1].id, runs[i].id);  // newest first
}

TEST_F(FeedServiceTest, RunsACrashLeftOpenAreClosedAsInterrupted) {
  FeedRun left;
  left.feed = "tp";
  left.id = 42;
  left.started_at = 1000;
  RecordWrite w{RecordTable::kFeedRuns, "tp/ffffffffffffffd5", FeedRunToJson(left)};
  ASSERT_TRUE(engine_->store().WriteRecords({&w, 1}, "", "", ctx_).ok());
  ASSERT_TRUE(feeds_->RecoverInterrupted().ok());
  std::vector<FeedRun> runs;
  ASSERT_TRUE(feeds_->Runs("tp", 10, &runs).ok());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].verdict, "interrupted");
  EXPECT_NE(runs[0].ended_at, 0);
}

TEST_F(FeedServiceTest, DefinitionsAreValidatedAndRemovalCanPurge) {
  FeedSource dup;
  dup.name = "tp";
  dup.url = "file:///x";
  EXPECT_EQ(feeds_->Add(dup, ctx_).code(), Status::Code::kAlreadyExists);
  FeedSource bad = dup;
  bad.name = "other";
  bad.url = "ftp://h/x";
  EXPECT_TRUE(feeds_->Add(bad, ctx_).IsInvalidArgument());
  FeedSource parsed;
  EXPECT_TRUE(FeedSourceFromRequest(R"({"name":"a","url":"http://h/x","colour":"red"})", &parsed).IsInvalidArgument());
  EXPECT_TRUE(FeedSourceFromRequest(R"({"name":"a","url":"http://h/x","every":"5s"})", &parsed).IsInvalidArgument());
  ASSERT_TRUE(FeedSourceFromRequest(R"({"name":"a","url":"http://h/x","every":"12h","format":"hosts"})", &parsed).ok());
  EXPECT_EQ(parsed.every_s, 12 * 3600);
  EXPECT_EQ(parsed.format, FeedFormat::kHosts);

  Serve(Names(0, 20));
  ASSERT_EQ(Sync().verdict, "applied");
  ASSERT_TRUE(feeds_->Remove("tp", /*purge=*/true, ctx_).ok());
  EXPECT_FALSE(Blocked("judi1.com"));
  FeedSource gone;
  EXPECT_TRUE(feeds_->Get("tp", &gone).IsNotFound());
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(engine_->store().ReadAudit(0, 100, &audit).ok());
  EXPECT_EQ(audit.back().op, "feed.remove");
}

}  // namespace
}  // namespace saring
