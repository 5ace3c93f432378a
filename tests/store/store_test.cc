#include "saring/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/temp_dir.h"

namespace saring {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    ASSERT_TRUE(Store::Open(dir_.Sub("db"), StoreOptions(), &store_).ok());
  }

  static Rule MakeRule(std::string value, std::string source = "city",
                       Action action = Action::kBlock) {
    Rule r;
    r.value = std::move(value);
    r.source = std::move(source);
    r.action = action;
    return r;
  }

  ImportReport Replace(const std::string& source, std::initializer_list<const char*> domains,
                       bool force = false, Status* status = nullptr) {
    ImportSet set;
    for (const char* d : domains) EXPECT_TRUE(set.Add(RuleKind::kDomain, Action::kBlock, d).ok());
    ImportOptions options;
    options.source = source;
    options.force = force;
    ImportReport report;
    Status st = store_->ReplaceSource(options, &set, ctx_, &report);
    if (status) *status = st;
    else EXPECT_TRUE(st.ok()) << st.ToString();
    return report;
  }

  std::set<std::string> DomainsOf(const std::string& source) {
    std::set<std::string> out;
    std::uint64_t serial;
    EXPECT_TRUE(store_
                    ->ScanRules(RuleKind::kDomain,
                                [&](const StoredRuleView& r) {
                                  if (r.source == source) out.emplace(r.value);
                                },
                                &serial)
                    .ok());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  ChangeContext ctx_{.by = "tester", .now = 1700000000};
};

TEST_F(StoreTest, NewStoreIsEmptyAtSerialZero) {
  EXPECT_TRUE(store_->created());
  EXPECT_EQ(store_->serial(), 0u);
  std::vector<SourceInfo> sources;
  ASSERT_TRUE(store_->ListSources(&sources).ok());
  EXPECT_TRUE(sources.empty());
}

TEST_F(StoreTest, OpenWithoutCreateFailsClearly) {
  std::unique_ptr<Store> other;
  StoreOptions options;
  options.create_if_missing = false;
  Status st = Store::Open(dir_.Sub("missing"), options, &other);
  EXPECT_TRUE(st.IsNotFound());
  EXPECT_NE(st.message().find("saringctl"), std::string::npos);
}

TEST_F(StoreTest, RefusesToCreateAStoreInAFolderWithOtherFiles) {
  std::filesystem::create_directories(dir_.Sub("home"));
  std::ofstream(dir_.Sub("home/notes.txt")) << "mine";
  std::unique_ptr<Store> other;
  EXPECT_TRUE(Store::Open(dir_.Sub("home"), StoreOptions(), &other).IsFailedPrecondition());
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("home/notes.txt")));
}

TEST_F(StoreTest, AddRuleIsStoredAuditedAndCounted) {
  Rule r = MakeRule("Slot88.COM");
  r.note = "seen on a billboard";
  std::size_t changed = 0;
  ASSERT_TRUE(store_->AddRules({r}, ctx_, &changed).ok());
  EXPECT_EQ(changed, 1u);
  EXPECT_EQ(store_->serial(), 1u);

  Rule got;
  ASSERT_TRUE(store_->GetRule({"city", RuleKind::kDomain, "slot88.com"}, &got).ok());
  EXPECT_EQ(got.value, "slot88.com");
  EXPECT_EQ(got.category, "gambling");
  EXPECT_EQ(got.added_by, "tester");
  EXPECT_EQ(got.added_at, 1700000000);
  EXPECT_EQ(got.note, "seen on a billboard");

  SourceInfo info;
  ASSERT_TRUE(store_->GetSource("city", &info).ok());
  EXPECT_EQ(info.domains, 1u);

  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(0, 10, &audit).ok());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].op, "add");
  EXPECT_EQ(audit[0].by, "tester");
  EXPECT_EQ(audit[0].serial, 1u);
  auto detail = nlohmann::json::parse(audit[0].detail);
  EXPECT_EQ(detail["after"]["value"], "slot88.com");
}

TEST_F(StoreTest, SameRuleAgainChangesNothing) {
  ASSERT_TRUE(store_->AddRules({MakeRule("a.com")}, ctx_).ok());
  std::size_t changed = 7;
  ASSERT_TRUE(store_->AddRules({MakeRule("A.com.")}, ctx_, &changed).ok());
  EXPECT_EQ(changed, 0u);
  EXPECT_EQ(store_->serial(), 1u);
}

TEST_F(StoreTest, UpdateRecordsBeforeAndAfter) {
  ASSERT_TRUE(store_->AddRules({MakeRule("a.com")}, ctx_).ok());
  ASSERT_TRUE(store_->AddRules({MakeRule("a.com", "city", Action::kAllow)}, ctx_).ok());
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(2, 10, &audit).ok());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].op, "update");
  auto detail = nlohmann::json::parse(audit[0].detail);
  EXPECT_EQ(detail["before"]["action"], "block");
  EXPECT_EQ(detail["after"]["action"], "allow");
  SourceInfo info;
  ASSERT_TRUE(store_->GetSource("city", &info).ok());
  EXPECT_EQ(info.domains, 1u);
}

TEST_F(StoreTest, BatchWithOneBadRuleAppliesNothing) {
  Status st = store_->AddRules({MakeRule("good.com"), MakeRule("bad..com")}, ctx_);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("rule 2"), std::string::npos);
  EXPECT_EQ(store_->serial(), 0u);
  Rule got;
  EXPECT_TRUE(store_->GetRule({"city", RuleKind::kDomain, "good.com"}, &got).IsNotFound());
}

TEST_F(StoreTest, RemoveOfMissingRuleRemovesNothing) {
  ASSERT_TRUE(store_->AddRules({MakeRule("a.com"), MakeRule("b.com")}, ctx_).ok());
  std::vector<RuleKey> keys = {{"city", RuleKind::kDomain, "a.com"},
                               {"city", RuleKind::kDomain, "nope.com"}};
  EXPECT_TRUE(store_->RemoveRules(keys, ctx_).IsNotFound());
  EXPECT_EQ(DomainsOf("city"), (std::set<std::string>{"a.com", "b.com"}));
  keys.pop_back();
  ASSERT_TRUE(store_->RemoveRules(keys, ctx_).ok());
  EXPECT_EQ(DomainsOf("city"), (std::set<std::string>{"b.com"}));
  SourceInfo info;
  ASSERT_TRUE(store_->GetSource("city", &info).ok());
  EXPECT_EQ(info.domains, 1u);
}

TEST_F(StoreTest, ReplaceSourceReportsDifferences) {
  ImportReport r1 = Replace("feed", {"a.com", "b.com", "c.com", "d.com", "e.com"});
  EXPECT_EQ(r1.added, 5u);
  EXPECT_EQ(r1.removed, 0u);
  ImportReport r2 = Replace("feed", {"a.com", "b.com", "c.com", "d.com", "f.com", "f.com"});
  EXPECT_EQ(r2.added, 1u);
  EXPECT_EQ(r2.removed, 1u);
  EXPECT_EQ(r2.unchanged, 4u);
  EXPECT_EQ(r2.before, 5u);
  EXPECT_EQ(r2.after, 5u);  // the duplicate counts once
  EXPECT_EQ(DomainsOf("feed").count("e.com"), 0u);
  EXPECT_EQ(DomainsOf("feed").count("f.com"), 1u);
  ASSERT_TRUE(r2.changes_tracked);
  EXPECT_EQ(r2.changes.size(), 2u);
}

TEST_F(StoreTest, ImportOfUnnormalizedNamesIsRefusedWhole) {
  Replace("feed", {"a.com"});
  Status st;
  ImportReport r = Replace("feed", {"a.com", "B.com", "c.com"}, false, &st);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(DomainsOf("feed"), (std::set<std::string>{"a.com"}));
}

TEST_F(StoreTest, ShrinkBeyondLimitIsRefusedUnlessForced) {
  Replace("feed", {"a.com", "b.com", "c.com", "d.com", "e.com"});
  std::uint64_t serial = store_->serial();
  Status st;
  ImportReport r = Replace("feed", {"a.com", "b.com", "c.com"}, false, &st);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st.ToString();
  EXPECT_NE(st.message().find("from 5 to 3"), std::string::npos) << st.message();
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(store_->serial(), serial);
  EXPECT_EQ(DomainsOf("feed").size(), 5u);

  r = Replace("feed", {}, false, &st);
  EXPECT_TRUE(st.IsFailedPrecondition());  // an empty download never wipes a list
  r = Replace("feed", {"a.com", "b.com", "c.com"}, true);
  EXPECT_TRUE(r.applied);
  EXPECT_EQ(DomainsOf("feed").size(), 3u);
}

TEST_F(StoreTest, ImportDoesNotTouchOtherSources) {
  ASSERT_TRUE(store_->AddRules({MakeRule("a.com", "city")}, ctx_).ok());
  Replace("feed", {"a.com", "z.com"});
  Replace("feed", {"z.com", "y.com"});
  EXPECT_EQ(DomainsOf("city"), (std::set<std::string>{"a.com"}));
  std::vector<Rule> rules;
  ASSERT_TRUE(store_->FindRules(RuleKind::kDomain, "z.com", &rules).ok());
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].source, "feed");
}

TEST_F(StoreTest, BulkImportGoesThroughIngestionAndSurvivesReopen) {
  ImportSet set;
  for (int i = 0; i < 60000; ++i) ASSERT_TRUE(set.Add(RuleKind::kDomain, Action::kBlock, "n" + std::to_string(i) + ".com").ok());
  ImportOptions options;
  options.source = "big";
  ImportReport report;
  ASSERT_TRUE(store_->ReplaceSource(options, &set, ctx_, &report).ok());
  EXPECT_EQ(report.added, 60000u);
  EXPECT_FALSE(report.changes_tracked);
  std::uint64_t serial = store_->serial();
  Reopen();
  EXPECT_FALSE(store_->created());
  EXPECT_EQ(store_->serial(), serial);
  EXPECT_EQ(DomainsOf("big").size(), 60000u);
  SourceInfo info;
  ASSERT_TRUE(store_->GetSource("big", &info).ok());
  EXPECT_EQ(info.domains, 60000u);
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(serial, 10, &audit).ok());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].op, "import");
}

TEST_F(StoreTest, ClassesAreStableAcrossReopen) {
  ASSERT_TRUE(store_->AddRules({MakeRule("a.com", "x"), MakeRule("b.com", "y", Action::kAllow)}, ctx_).ok());
  std::vector<RuleClass> before = store_->Classes();
  ASSERT_EQ(before.size(), 2u);
  Reopen();
  std::vector<RuleClass> after = store_->Classes();
  ASSERT_EQ(after.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after[i].source, before[i].source);
    EXPECT_EQ(after[i].action, before[i].action);
  }
}

TEST_F(StoreTest, ExpiredRulesAreRemovedAndAudited) {
  Rule r = MakeRule("temp.com");
  r.expires_at = ctx_.now + 60;
  ASSERT_TRUE(store_->AddRules({r, MakeRule("keep.com")}, ctx_).ok());
  std::vector<RuleKey> removed;
  ASSERT_TRUE(store_->RemoveExpired(ctx_, &removed).ok());
  EXPECT_TRUE(removed.empty());
  ChangeContext later{.by = "system", .now = ctx_.now + 61};
  ASSERT_TRUE(store_->RemoveExpired(later, &removed).ok());
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].value, "temp.com");
  EXPECT_EQ(DomainsOf("city"), (std::set<std::string>{"keep.com"}));
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(store_->serial(), 10, &audit).ok());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].op, "expire");
}

TEST_F(StoreTest, ListRulesPages) {
  for (const char* d : {"a.com", "b.com", "c.com"}) ASSERT_TRUE(store_->AddRules({MakeRule(d)}, ctx_).ok());
  std::vector<Rule> page;
  ASSERT_TRUE(store_->ListRules("city", nullptr, 2, &page).ok());
  ASSERT_EQ(page.size(), 2u);
  RuleKey after{page.back().source, page.back().kind, page.back().value};
  ASSERT_TRUE(store_->ListRules("city", &after, 2, &page).ok());
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].value, "c.com");
}

TEST_F(StoreTest, SecondOpenOfTheSameStoreIsRefused) {
  std::unique_ptr<Store> other;
  Status st = Store::Open(dir_.Sub("db"), StoreOptions(), &other);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("in use"), std::string::npos) << st.ToString();
}

TEST_F(StoreTest, CacheRoundTrip) {
  ASSERT_TRUE(store_->PutCached("k", "v").ok());
  std::string v;
  ASSERT_TRUE(store_->GetCached("k", &v).ok());
  EXPECT_EQ(v, "v");
  EXPECT_TRUE(store_->GetCached("other", &v).IsNotFound());
  EXPECT_EQ(store_->serial(), 0u);
}

TEST_F(StoreTest, AuditedRecordWriteMovesSerialButNotRulesSerial) {
  ASSERT_TRUE(store_->AddRules({MakeRule("slot88.com")}, ctx_).ok());
  ASSERT_EQ(store_->rules_serial(), 1u);
  RecordWrite w{RecordTable::kFeeds, "tp", R"({"url":"file:///x"})"};
  ASSERT_TRUE(store_->WriteRecords({&w, 1}, "feed.add", R"({"name":"tp"})", ctx_).ok());
  EXPECT_EQ(store_->serial(), 2u);
  EXPECT_EQ(store_->rules_serial(), 1u);
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(2, 10, &audit).ok());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].op, "feed.add");
  Reopen();
  EXPECT_EQ(store_->serial(), 2u);
  EXPECT_EQ(store_->rules_serial(), 1u);
  std::string value;
  ASSERT_TRUE(store_->GetRecord(RecordTable::kFeeds, "tp", &value).ok());
  EXPECT_EQ(value, R"({"url":"file:///x"})");
  EXPECT_TRUE(store_->GetRecord(RecordTable::kTokens, "tp", &value).IsNotFound());
}

TEST_F(StoreTest, BookkeepingRecordsLeaveSerialAndAuditAlone) {
  RecordWrite w{RecordTable::kFeedRuns, "tp/1", "{}"};
  ASSERT_TRUE(store_->WriteRecords({&w, 1}, "", "", ctx_).ok());
  EXPECT_EQ(store_->serial(), 0u);
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(0, 10, &audit).ok());
  EXPECT_TRUE(audit.empty());
  w.erase = true;
  ASSERT_TRUE(store_->WriteRecords({&w, 1}, "", "", ctx_).ok());
  std::string value;
  EXPECT_TRUE(store_->GetRecord(RecordTable::kFeedRuns, "tp/1", &value).IsNotFound());
}

TEST_F(StoreTest, ListRecordsByPrefixAndPage) {
  std::vector<RecordWrite> writes;
  for (const char* k : {"a/1", "a/2", "a/3", "b/1"}) writes.push_back({RecordTable::kReports, k, "{}"});
  writes.push_back({RecordTable::kTokens, "a/9", "{}"});  // another table
  ASSERT_TRUE(store_->WriteRecords(writes, "", "", ctx_).ok());
  std::vector<std::pair<std::string, std::string>> out;
  ASSERT_TRUE(store_->ListRecords(RecordTable::kReports, "a/", "", 10, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].first, "a/1");
  ASSERT_TRUE(store_->ListRecords(RecordTable::kReports, "a/", "a/1", 1, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, "a/2");
  ASSERT_TRUE(store_->ListRecords(RecordTable::kReports, "", "", 10, &out).ok());
  EXPECT_EQ(out.size(), 4u);
}

TEST_F(StoreTest, RecordsCommitWithTheRuleChangeAndLinkItsAudit) {
  ctx_.records = {{RecordTable::kReports, "7", R"({"state":"released"})"}};
  ctx_.link = "report/7";
  ASSERT_TRUE(store_->AddRules({MakeRule("bank.co.id", "city", Action::kAllow)}, ctx_).ok());
  std::string value;
  ASSERT_TRUE(store_->GetRecord(RecordTable::kReports, "7", &value).ok());
  std::vector<AuditRecord> audit;
  ASSERT_TRUE(store_->ReadAudit(0, 10, &audit).ok());
  ASSERT_EQ(audit.size(), 1u);
  // A change that fails writes no record either.
  ctx_.records = {{RecordTable::kReports, "8", "{}"}};
  std::vector<Rule> bad = {MakeRule("ok.com"), MakeRule("not a name")};
  EXPECT_FALSE(store_->AddRules(bad, ctx_).ok());
  EXPECT_TRUE(store_->GetRecord(RecordTable::kReports, "8", &value).IsNotFound());
}

TEST_F(StoreTest, ImportCarriesRecordsOnEveryPath) {
  // Small import (WriteBatch), then the same set again (no rule change), then a bulk one (SST).
  ctx_.records = {{RecordTable::kFeeds, "tp", R"({"etag":"1"})"}};
  Replace("tp", {"a.com", "b.com"});
  std::string value;
  ASSERT_TRUE(store_->GetRecord(RecordTable::kFeeds, "tp", &value).ok());
  EXPECT_EQ(value, R"({"etag":"1"})");
  std::uint64_t serial = store_->serial();
  ctx_.records = {{RecordTable::kFeeds, "tp", R"({"etag":"2"})"}};
  Replace("tp", {"a.com", "b.com"});
  EXPECT_EQ(store_->serial(), serial);
  ASSERT_TRUE(store_->GetRecord(RecordTable::kFeeds, "tp", &value).ok());
  EXPECT_EQ(value, R"({"etag":"2"})");
  ImportSet set;
  for (int i = 0; i < 60000; ++i) ASSERT_TRUE(set.Add(RuleKind::kDomain, Action::kBlock, "n" + std::to_string(i) + ".com").ok());
  ImportOptions options;
  options.source = "tp";
  options.force = true;
  ctx_.records = {{RecordTable::kFeeds, "tp", R"({"etag":"3"})"},
                  {RecordTable::kFeedRuns, "tp/1", "{}", /*erase=*/true}};
  ImportReport report;
  ASSERT_TRUE(store_->ReplaceSource(options, &set, ctx_, &report).ok());
  Reopen();
  ASSERT_TRUE(store_->GetRecord(RecordTable::kFeeds, "tp", &value).ok());
  EXPECT_EQ(value, R"({"etag":"3"})");
  EXPECT_EQ(store_->rules_serial(), store_->serial());
}

}  // namespace
}  // namespace saring
