// engine_bench: the engine's one-shot timings on a national-size list, each
// measured in this process:
//   import      a plain list into an empty store until the snapshot serves it
//   cold start  opening that store until the snapshot serves (saved index)
//   rebuild     opening with no saved index (index rebuilt from the store)
//   add         one `rules add` until a reader thread sees the verdict change
//   peak        VmHWM during a full index rebuild against the steady VmRSS
// Usage: engine_bench --list FILE --db DIR  (DIR must not exist)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "saring/engine.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A field of /proc/self/status in KiB (VmRSS, VmHWM).
long StatusKiB(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0).
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

void Die(const saring::Status& st) {
  std::fprintf(stderr, "engine_bench: %s\n", st.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<saring::Engine> OpenEngine(const std::string& db) {
  saring::EngineOptions options;
  options.db_dir = db;
  std::unique_ptr<saring::Engine> engine;
  saring::Status st = saring::Engine::Open(options, &engine);
  if (!st.ok()) Die(st);
  return engine;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"engine_bench: import, cold start, rule-change latency and rebuild memory"};
  std::string list, db;
  int adds = 50;
  app.add_option("--list", list, "plain list of domains")->required();
  app.add_option("--db", db, "store folder to create")->required();
  app.add_option("--adds", adds, "single-rule changes to time")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (std::filesystem::exists(db)) Die(saring::Status::AlreadyExists(db + " exists"));

  std::size_t domains = 0;
  {
    auto engine = OpenEngine(db);
    saring::ImportRequest request;
    request.options.source = "trustpositif";
    std::ifstream in(list, std::ios::binary);
    saring::ImportResult result;
    auto start = Clock::now();
    saring::Status st = engine->Import(request, in, saring::ChangeContext{}, &result);
    double t = Seconds(start);
    if (!st.ok()) Die(st);
    domains = result.store.after;
    std::printf("import          %zu domains: %.2f s until the snapshot serves them\n", domains, t);
  }
  {
    auto start = Clock::now();
    auto engine = OpenEngine(db);
    std::printf("cold start      %.3f s (saved index)\n", Seconds(start));
  }
  {
    for (const auto& f : std::filesystem::directory_iterator(db)) {
      if (f.path().extension() == ".idx") std::filesystem::remove(f.path());
    }
    auto start = Clock::now();
    auto engine = OpenEngine(db);
    std::printf("cold start      %.3f s (no saved index: rebuilt from the store)\n", Seconds(start));
  }

  auto engine = OpenEngine(db);
  const saring::Snapshot::Stats stats = engine->snapshot()->stats();
  std::printf("index           %zu bytes, %.2f B/domain\n", stats.index_bytes,
              static_cast<double>(stats.index_bytes) / static_cast<double>(domains));

  // Rule-change latency: a reader thread polls like a worker would.
  std::atomic<int> target{-1};
  std::atomic<bool> stop{false};
  std::atomic<long long> seen_ns{0};
  std::thread reader([&] {
    saring::SnapshotReader snapshots(&engine->publisher());
    while (!stop.load()) {
      int t = target.load();
      if (t < 0) continue;
      std::string name = "www.bench-add-" + std::to_string(t) + ".xyz";
      if (snapshots.Get()->CheckName(name).blocked()) {
        seen_ns.store(Clock::now().time_since_epoch().count());
        target.store(-1);
      }
    }
  });
  std::vector<double> latencies;
  for (int i = 0; i < adds; ++i) {
    saring::Rule rule;
    rule.value = "bench-add-" + std::to_string(i) + ".xyz";
    rule.source = "city";
    seen_ns.store(0);
    auto start = Clock::now();
    target.store(i);
    saring::Status st = engine->AddRules({rule}, saring::ChangeContext{});
    if (!st.ok()) Die(st);
    while (seen_ns.load() == 0) std::this_thread::yield();
    latencies.push_back(std::chrono::duration<double, std::milli>(
                            Clock::time_point(Clock::duration(seen_ns.load())) - start)
                            .count());
  }
  stop.store(true);
  reader.join();
  std::sort(latencies.begin(), latencies.end());
  std::printf("rules add       %d changes: p50 %.2f ms, p99 %.2f ms, max %.2f ms until a reader sees it\n",
              adds, latencies[latencies.size() / 2], latencies[latencies.size() * 99 / 100],
              latencies.back());

  long steady = StatusKiB("VmRSS");
  ResetPeak();
  auto start = Clock::now();
  saring::Status st = engine->Rebuild();
  if (!st.ok()) Die(st);
  double t = Seconds(start);
  long peak = StatusKiB("VmHWM");
  std::printf("rebuild         %.2f s; steady RSS %.1f MiB, peak %.1f MiB: %.2fx\n", t, steady / 1024.0,
              peak / 1024.0, static_cast<double>(peak) / static_cast<double>(steady));
  return 0;
}
