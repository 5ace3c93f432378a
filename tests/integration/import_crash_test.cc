// Crash safety of imports: runs the real `saringctl import` of a 1M-line feed
// in a child process, kills it with SIGKILL at points spread over the import,
// then checks that the store holds exactly the old or exactly the new set.
#include <gtest/gtest.h>
#include <signal.h>


#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "saring/engine.h"
#include "saring/store.h"
#include "testing/process.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace saring {
namespace {

constexpr int kLines = 1000000;

// Set A holds names 0..999999, set B names 500000..1499999: half shared, and
// neither shrinks the source, so every import is allowed.
std::string Name(int i) { return "slot" + std::to_string(i) + "gacor.xyz"; }

void WriteSet(const std::string& path, int first) {
  std::ofstream out(path);
  for (int i = first; i < first + kLines; ++i) out << Name(i) << "\n";
}

// A real `saringctl import` of `file` into source "feed", its output discarded.
void StartImport(const std::string& db, const std::string& file, testing::ChildProcess* child) {
  ASSERT_TRUE(child->Start({std::string(SARING_BIN_DIR) + "/saringctl", "--db", db, "import",
                            "--source", "feed", file},
                           "/dev/null"));
}

// Which set the store holds: 'A', 'B', or '?' for anything else.
char Inspect(const std::string& db) {
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.create_if_missing = false;
  Status st = Store::Open(db, options, &store);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!st.ok()) return '?';
  std::size_t count = 0;
  std::uint64_t serial;
  EXPECT_TRUE(store
                  ->ScanRules(RuleKind::kDomain,
                              [&](const StoredRuleView& r) { count += r.source == "feed"; },
                              &serial)
                  .ok());
  auto has = [&](int i) {
    Rule rule;
    return store->GetRule({"feed", RuleKind::kDomain, Name(i)}, &rule).ok();
  };
  bool has_a_only = false, has_b_only = false, missing_shared = false;
  for (int i : {0, 1, 250000, 499999}) has_a_only |= has(i);
  for (int i : {1000000, 1250000, 1499999}) has_b_only |= has(i);
  for (int i : {500000, 750000, 999999}) missing_shared |= !has(i);

  SourceInfo info;
  EXPECT_TRUE(store->GetSource("feed", &info).ok());
  EXPECT_EQ(info.domains, count) << "source count disagrees with the rules";
  EXPECT_EQ(serial, store->serial());
  std::vector<AuditRecord> audit;
  EXPECT_TRUE(store->ReadAudit(store->serial(), 10, &audit).ok());
  EXPECT_FALSE(audit.empty()) << "the last change left no audit record";

  if (count != static_cast<std::size_t>(kLines) || missing_shared) return '?';
  if (has_a_only && !has_b_only) return 'A';
  if (has_b_only && !has_a_only) return 'B';
  return '?';
}

TEST(ImportCrashTest, KillDuringImportLeavesOldOrNewSetWhole) {
  testing::TempDir dir;
  std::string rules = dir.Sub("rules"), db = dir.Sub("db");
  std::filesystem::create_directories(rules);
  std::ofstream(rules + "/manifest.toml") << "[[source]]\nname = \"seed\"\nfile = \"seed.txt\"\n";
  std::ofstream(rules + "/seed.txt") << "seed.example\n";
  testing::ProgramResult init = testing::RunProgram(
      {std::string(SARING_BIN_DIR) + "/saringctl", "--rules", rules, "--db", db, "init"}, "",
      dir.path());
  ASSERT_EQ(init.status, 0) << init.err;
  WriteSet(dir.Sub("a.txt"), 0);
  WriteSet(dir.Sub("b.txt"), 500000);

  // Two complete imports first (into an empty store, then A -> B), the second
  // timed, so the kill points can be spread over an import like the ones killed.
  double full = 0;
  for (const char* file : {"a.txt", "b.txt"}) {
    auto start = std::chrono::steady_clock::now();
    testing::ChildProcess import;
    StartImport(db, dir.Sub(file), &import);
    ASSERT_EQ(import.Wait(), 0);
    full = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  char state = Inspect(db);
  ASSERT_EQ(state, 'B');

  int killed_before_end = 0, new_sets = 0;
  for (double fraction : {0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97, 1.05}) {
    char target = state == 'A' ? 'B' : 'A';
    testing::ChildProcess import;
    StartImport(db, dir.Sub(target == 'A' ? "a.txt" : "b.txt"), &import);
    std::this_thread::sleep_for(std::chrono::duration<double>(full * fraction));
    import.Signal(SIGKILL);
    if (import.Wait() == 128 + SIGKILL) ++killed_before_end;
    char now = Inspect(db);
    ASSERT_NE(now, '?') << "store holds a mix after a kill at " << fraction << " of an import";
    if (now == target) ++new_sets;
    std::printf("kill at %.2f of %.2fs: store holds set %c (import target %c)\n", fraction, full,
                now, target);
    state = now;
  }
  EXPECT_GT(killed_before_end, 3) << "kills did not land inside imports";

  // The survivor is usable: the engine opens it and enforces it.
  std::unique_ptr<Engine> engine;
  EngineOptions options;
  options.db_dir = db;
  ASSERT_TRUE(Engine::Open(options, &engine).ok());
  int in_set = state == 'A' ? 10 : 1400000;
  EXPECT_EQ(engine->snapshot()->CheckName("www." + Name(in_set)).decision, Decision::kBlock);
  std::printf("%d kills inside an import, %d left the new set\n", killed_before_end, new_sets);
}

}  // namespace
}  // namespace saring
