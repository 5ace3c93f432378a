#include "saring/import_set.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "saring/store.h"
#include "testing/temp_dir.h"

namespace saring {
namespace {

using Key = std::pair<RuleKind, std::string>;

std::vector<std::tuple<RuleKind, Action, std::string>> ReadAll(ImportSet* set) {
  std::vector<std::tuple<RuleKind, Action, std::string>> out;
  ImportSet::Entry e;
  while (set->Next(&e)) out.emplace_back(e.kind, e.action, std::string(e.value));
  EXPECT_TRUE(set->status().ok()) << set->status().ToString();
  return out;
}

std::size_t FilesIn(const std::string& dir) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

// Random entries with many duplicates (some with both actions), of all kinds,
// through a budget small enough for dozens of runs: the merged read must be
// exactly the sorted distinct set a std::map makes, with allow winning.
TEST(ImportSetTest, SpilledRunsMergeToTheSortedDistinctSet) {
  testing::TempDir dir;
  ImportSet set(dir.path(), 64 << 10);
  std::map<Key, Action> expected;
  std::mt19937 rng(7);
  for (int i = 0; i < 40000; ++i) {
    auto kind = static_cast<RuleKind>(rng() % 3);
    auto action = rng() % 5 == 0 ? Action::kAllow : Action::kBlock;
    std::string value = "n" + std::to_string(rng() % 15000) + std::string(rng() % 40, 'x') + ".test";
    if (i % 1000 == 0) value.assign(ImportSet::kMaxValue, 'y');  // the longest value still fits
    ASSERT_TRUE(set.Add(kind, action, value).ok());
    auto [it, inserted] = expected.emplace(Key{kind, value}, action);
    if (!inserted && action == Action::kAllow) it->second = Action::kAllow;
  }
  ASSERT_TRUE(set.Finish().ok());
  EXPECT_GT(set.spilled_runs(), 20u);
  EXPECT_EQ(FilesIn(dir.path()), 0u);  // the spill file has no name
  EXPECT_EQ(set.size(), expected.size());
  std::size_t domains = 0;
  for (const auto& [key, action] : expected) domains += key.first == RuleKind::kDomain;
  EXPECT_EQ(set.CountKind(RuleKind::kDomain), domains);

  std::vector<std::tuple<RuleKind, Action, std::string>> want;
  for (const auto& [key, action] : expected) want.emplace_back(key.first, action, key.second);
  EXPECT_EQ(ReadAll(&set), want);
  ASSERT_TRUE(set.Rewind().ok());
  EXPECT_EQ(ReadAll(&set), want);  // a second pass reads the same
}

TEST(ImportSetTest, WithoutSpillDirEverythingStaysInMemory) {
  ImportSet set("", 1);
  for (const char* v : {"b.test", "a.test", "b.test", "c.test"}) ASSERT_TRUE(set.Add(RuleKind::kDomain, Action::kBlock, v).ok());
  ASSERT_TRUE(set.Add(RuleKind::kDomain, Action::kAllow, "a.test").ok());
  ASSERT_TRUE(set.Finish().ok());
  EXPECT_EQ(set.spilled_runs(), 0u);
  using T = std::tuple<RuleKind, Action, std::string>;
  EXPECT_EQ(ReadAll(&set), (std::vector<T>{{RuleKind::kDomain, Action::kAllow, "a.test"},
                                           {RuleKind::kDomain, Action::kBlock, "b.test"},
                                           {RuleKind::kDomain, Action::kBlock, "c.test"}}));
}

TEST(ImportSetTest, RefusesOverlongValuesAndUseAfterFinish) {
  ImportSet set;
  Status st = set.Add(RuleKind::kPattern, Action::kBlock, std::string(ImportSet::kMaxValue + 1, 'a'));
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_TRUE(set.Rewind().code() == Status::Code::kFailedPrecondition);
  ASSERT_TRUE(set.Finish().ok());
  EXPECT_EQ(set.size(), 0u);
  ImportSet::Entry e;
  EXPECT_FALSE(set.Next(&e));
  EXPECT_FALSE(set.Add(RuleKind::kDomain, Action::kBlock, "late.test").ok());
}

// A spill that cannot be written is an error that sticks, and the store
// refuses the set without changing anything.
TEST(ImportSetTest, UnwritableSpillDirFailsTheImportAndChangesNothing) {
  testing::TempDir dir;
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(dir.Sub("db"), StoreOptions(), &store).ok());
  ChangeContext ctx;
  ctx.by = "test";
  ImportOptions options;
  options.source = "feed";
  ImportReport report;
  {
    ImportSet first;
    ASSERT_TRUE(first.Add(RuleKind::kDomain, Action::kBlock, "kept.test").ok());
    ASSERT_TRUE(store->ReplaceSource(options, &first, ctx, &report).ok());
  }
  std::uint64_t serial = store->serial();

  ImportSet set(dir.Sub("missing"), 256);
  Status st;
  for (int i = 0; i < 100 && st.ok(); ++i) st = set.Add(RuleKind::kDomain, Action::kBlock, "n" + std::to_string(i) + ".test");
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_NE(st.message().find(dir.Sub("missing")), std::string::npos) << st.message();
  EXPECT_FALSE(set.Add(RuleKind::kDomain, Action::kBlock, "more.test").ok());
  EXPECT_EQ(store->ReplaceSource(options, &set, ctx, &report).code(), Status::Code::kIOError);
  EXPECT_EQ(store->serial(), serial);
  std::vector<Rule> rules;
  ASSERT_TRUE(store->FindRules(RuleKind::kDomain, "kept.test", &rules).ok());
  EXPECT_EQ(rules.size(), 1u);
}

}  // namespace
}  // namespace saring
