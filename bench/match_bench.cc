// match_bench: names/s of domain-rule lookup (a name matches when it or any parent is
// listed), DomainIndex against the baseline the peers measured, an absl::flat_hash_set of
// string_views over the list text probed suffix by suffix; plus building and loading the
// index.
//
// Data: the files named by SARING_BENCH_LIST and SARING_BENCH_QUERIES (one name a line, as
// gen_domains writes them); when unset, the same data is generated in-process (5M names,
// 1M queries). Every lookup variant is checked against the baseline on every query first.
#include <absl/container/flat_hash_set.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "match/domain_index.h"
#include "match/domain_shards.h"
#include "match/snapshot_parts.h"
#include "saring/snapshot.h"
#include "synthetic.h"

namespace saring::bench {
namespace {

using match::DomainIndex;
using match::NameSuffixes;
using BaselineSet = absl::flat_hash_set<std::string_view>;

constexpr std::size_t kDefaultDomains = 5'000'000;
constexpr std::size_t kDefaultQueries = 1'000'000;
constexpr std::size_t kBatch = 16;
constexpr DomainIndex::ClassId kClass = 1;

struct Data {
  std::string list_text;
  std::string query_text;
  std::vector<std::string_view> list;
  std::vector<std::string_view> queries;
  BaselineSet baseline;
  std::unique_ptr<DomainIndex> built;
  std::unique_ptr<DomainIndex> loaded;
  std::string index_path;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "match_bench: %s\n", message.c_str());
  std::abort();
}

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(std::string("cannot read ") + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Right to left, as the peers' baseline: "c", then "b.c", then "a.b.c".
bool BaselineMatch(const BaselineSet& set, std::string_view name) {
  for (std::size_t i = name.size(); i-- > 0;) {
    if (name[i] == '.' && set.contains(name.substr(i + 1))) return true;
  }
  return set.contains(name);
}

bool IndexMatch(const DomainIndex& index, std::string_view name) {
  NameSuffixes s;
  match::HashSuffixes(name, &s);
  for (int i = 0; i < s.count; ++i) {
    if (index.Find(s.hash[i]) != DomainIndex::kNotFound) return true;
  }
  return false;
}

// Hashes all n (<= kBatch) names, prefetches every bucket they need, then probes: the
// cache misses of the batch overlap instead of following one another.
void IndexMatchBatch(const DomainIndex& index, const std::string_view* names, std::size_t n,
                     bool* matched) {
  NameSuffixes s[kBatch];
  for (std::size_t k = 0; k < n; ++k) {
    match::HashSuffixes(names[k], &s[k]);
    for (int i = 0; i < s[k].count; ++i) index.Prefetch(s[k].hash[i]);
  }
  for (std::size_t k = 0; k < n; ++k) {
    matched[k] = false;
    for (int i = 0; i < s[k].count && !matched[k]; ++i) {
      matched[k] = index.Find(s[k].hash[i]) != DomainIndex::kNotFound;
    }
  }
}

std::unique_ptr<DomainIndex> BuildIndex(const std::vector<std::string_view>& list) {
  DomainIndex::Builder builder(list.size());
  for (std::string_view name : list) {
    if (!builder.Add(match::HashDomain(name), kClass)) Die("index full while building");
  }
  return builder.Finish();
}

void LoadData(Data* d) {
  auto start = std::chrono::steady_clock::now();
  const char* list_path = std::getenv("SARING_BENCH_LIST");
  const char* query_path = std::getenv("SARING_BENCH_QUERIES");
  if (list_path != nullptr && query_path != nullptr) {
    d->list_text = ReadFile(list_path);
    d->query_text = ReadFile(query_path);
    std::fprintf(stderr, "read %s and %s", list_path, query_path);
  } else {
    GenerateSynthetic(kDefaultDomains, kDefaultQueries, kDefaultSeed, &d->list_text,
                      &d->query_text);
    std::fprintf(stderr, "generated the data in-process (SARING_BENCH_LIST/QUERIES unset)");
  }
  d->list = SplitLines(d->list_text);
  d->queries = SplitLines(d->query_text);
  if (d->list.empty() || d->queries.empty()) Die("empty list or query stream");
  std::fprintf(stderr, ": %zu names (%.1f bytes avg), %zu queries, %.1f s\n", d->list.size(),
               static_cast<double>(d->list_text.size()) / d->list.size() - 1, d->queries.size(),
               SecondsSince(start));

  start = std::chrono::steady_clock::now();
  d->baseline.reserve(d->list.size());
  d->baseline.insert(d->list.begin(), d->list.end());
  if (d->baseline.size() != d->list.size()) Die("the list has duplicate names");
  std::fprintf(stderr, "absl baseline built in %.2f s\n", SecondsSince(start));

  start = std::chrono::steady_clock::now();
  d->built = BuildIndex(d->list);
  std::fprintf(stderr, "index built in %.2f s\n", SecondsSince(start));

  d->index_path = (std::filesystem::temp_directory_path() /
                   ("match_bench." + std::to_string(getpid()) + ".idx"));
  Status st = d->built->Save(d->index_path, 1);
  if (st.ok()) st = DomainIndex::Load(d->index_path, &d->loaded, nullptr);
  if (!st.ok()) Die(st.ToString());
}

// All lookup variants must give the baseline's answer for every query.
void Verify(const Data& d) {
  std::size_t hits = 0;
  bool batch_built[kBatch];
  bool batch_loaded[kBatch];
  for (std::size_t begin = 0; begin < d.queries.size(); begin += kBatch) {
    std::size_t n = std::min(kBatch, d.queries.size() - begin);
    IndexMatchBatch(*d.built, &d.queries[begin], n, batch_built);
    IndexMatchBatch(*d.loaded, &d.queries[begin], n, batch_loaded);
    for (std::size_t k = 0; k < n; ++k) {
      std::string_view q = d.queries[begin + k];
      bool want = BaselineMatch(d.baseline, q);
      if (IndexMatch(*d.built, q) != want || IndexMatch(*d.loaded, q) != want ||
          batch_built[k] != want || batch_loaded[k] != want) {
        Die("lookups disagree on " + std::string(q));
      }
      hits += want;
    }
  }
  std::fprintf(stderr, "verified: all variants agree; %zu of %zu queries match (%.1f%%)\n", hits,
               d.queries.size(), 100.0 * hits / d.queries.size());
}

double BaselineBytesPerDomain(const Data& d) {
  // Each slot is a string_view plus one control byte; the views point into the list text.
  double bytes = static_cast<double>(d.baseline.bucket_count()) * (sizeof(std::string_view) + 1) +
                 static_cast<double>(d.list_text.size());
  return bytes / d.list.size();
}

void SetLookupCounters(benchmark::State& state, const Data& d, double bytes_per_domain) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * d.queries.size()));
  state.counters["bytes_per_domain"] = bytes_per_domain;
}

void BM_LookupBaseline(benchmark::State& state, const Data* d) {
  std::size_t hits = 0;
  for (auto _ : state) {
    for (std::string_view q : d->queries) hits += BaselineMatch(d->baseline, q);
  }
  benchmark::DoNotOptimize(hits);
  SetLookupCounters(state, *d, BaselineBytesPerDomain(*d));
}

void BM_LookupIndexSingle(benchmark::State& state, const Data* d, const DomainIndex* index) {
  std::size_t hits = 0;
  for (auto _ : state) {
    for (std::string_view q : d->queries) hits += IndexMatch(*index, q);
  }
  benchmark::DoNotOptimize(hits);
  SetLookupCounters(state, *d, static_cast<double>(index->memory_bytes()) / d->list.size());
}

void BM_LookupIndexBatch16(benchmark::State& state, const Data* d, const DomainIndex* index) {
  std::size_t hits = 0;
  bool matched[kBatch];
  for (auto _ : state) {
    for (std::size_t begin = 0; begin < d->queries.size(); begin += kBatch) {
      std::size_t n = std::min(kBatch, d->queries.size() - begin);
      IndexMatchBatch(*index, &d->queries[begin], n, matched);
      for (std::size_t k = 0; k < n; ++k) hits += matched[k];
    }
  }
  benchmark::DoNotOptimize(hits);
  SetLookupCounters(state, *d, static_cast<double>(index->memory_bytes()) / d->list.size());
}

void BM_BuildIndex(benchmark::State& state, const Data* d) {
  for (auto _ : state) {
    std::unique_ptr<DomainIndex> index = BuildIndex(d->list);
    benchmark::DoNotOptimize(index.get());
    state.PauseTiming();
    index.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * d->list.size()));
}

void BM_LoadIndex(benchmark::State& state, const Data* d) {
  for (auto _ : state) {
    std::unique_ptr<DomainIndex> index;
    Status st = DomainIndex::Load(d->index_path, &index, nullptr);
    if (!st.ok()) Die(st.ToString());
    state.PauseTiming();
    index.reset();
    state.ResumeTiming();
  }
}

// The full per-query path workers run: Snapshot::CheckName(s) over the sharded
// base index, optionally with the bundled host patterns scanned as well.
std::unique_ptr<Snapshot> BuildSnapshot(const std::vector<std::string_view>& list,
                                        bool with_patterns) {
  auto parts = std::make_shared<Snapshot::Parts>();
  parts->classes = std::make_shared<const std::vector<RuleClass>>(std::vector<RuleClass>{
      {"trustpositif", "gambling", Action::kBlock}, {"saring-patterns", "gambling", Action::kBlock}});
  std::size_t counts[match::kDomainShards] = {};
  for (std::string_view name : list) ++counts[match::ShardOf(match::HashDomain(name))];
  for (int k = 0; k < match::kDomainShards; ++k) {
    DomainIndex::Builder builder(counts[k]);
    for (std::string_view name : list) {
      std::uint64_t h = match::HashDomain(name);
      if (match::ShardOf(h) == k && !builder.Add(match::InShardHash(h), 0)) Die("shard full");
    }
    parts->base.shard[k] = builder.Finish();
  }
  if (with_patterns) {
    std::ifstream in(std::string(SARING_SOURCE_DIR) + "/rules/patterns.txt");
    auto rules = std::make_shared<std::vector<CompiledRegexRule>>();
    std::vector<match::PatternSet::Pattern> patterns;
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      patterns.push_back({line, static_cast<std::uint32_t>(rules->size())});
      rules->push_back({line, 1});
    }
    std::unique_ptr<match::PatternSet> set;
    Status st = match::PatternSet::Compile(patterns, &set);
    if (!st.ok()) Die(st.ToString());
    parts->host_patterns = std::move(set);
    parts->host_rules = std::move(rules);
  }
  return std::make_unique<Snapshot>(std::move(parts));
}

void BM_SnapshotSingle(benchmark::State& state, const Data* d, const Snapshot* snapshot) {
  std::size_t hits = 0;
  for (auto _ : state) {
    for (std::string_view q : d->queries) hits += snapshot->CheckName(q).blocked();
  }
  benchmark::DoNotOptimize(hits);
  SetLookupCounters(state, *d, static_cast<double>(snapshot->stats().index_bytes) / d->list.size());
}

void BM_SnapshotBatch16(benchmark::State& state, const Data* d, const Snapshot* snapshot) {
  std::size_t hits = 0;
  Verdict out[kBatch];
  for (auto _ : state) {
    for (std::size_t begin = 0; begin < d->queries.size(); begin += kBatch) {
      std::size_t n = std::min(kBatch, d->queries.size() - begin);
      snapshot->CheckNames({&d->queries[begin], n}, {out, n});
      for (std::size_t k = 0; k < n; ++k) hits += out[k].blocked();
    }
  }
  benchmark::DoNotOptimize(hits);
  SetLookupCounters(state, *d, static_cast<double>(snapshot->stats().index_bytes) / d->list.size());
}

}  // namespace
}  // namespace saring::bench

int main(int argc, char** argv) {
  using namespace saring::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  Data data;
  LoadData(&data);
  Verify(data);

  const Data* d = &data;
  benchmark::RegisterBenchmark("lookup/absl_baseline", BM_LookupBaseline, d);
  benchmark::RegisterBenchmark("lookup/index_single", BM_LookupIndexSingle, d, d->built.get());
  benchmark::RegisterBenchmark("lookup/index_batch16", BM_LookupIndexBatch16, d, d->built.get());
  // The same table mapped from a saved file (page cache, no huge pages), as after a restart.
  benchmark::RegisterBenchmark("lookup/index_single_loaded", BM_LookupIndexSingle, d,
                               d->loaded.get());
  benchmark::RegisterBenchmark("lookup/index_batch16_loaded", BM_LookupIndexBatch16, d,
                               d->loaded.get());
  std::unique_ptr<saring::Snapshot> snapshot = BuildSnapshot(data.list, false);
  std::unique_ptr<saring::Snapshot> with_patterns = BuildSnapshot(data.list, true);
  for (std::string_view q : data.queries) {
    if (snapshot->CheckName(q).blocked() != BaselineMatch(data.baseline, q)) {
      Die("snapshot disagrees with the baseline on " + std::string(q));
    }
  }
  benchmark::RegisterBenchmark("lookup/snapshot_single", BM_SnapshotSingle, d, snapshot.get());
  benchmark::RegisterBenchmark("lookup/snapshot_batch16", BM_SnapshotBatch16, d, snapshot.get());
  benchmark::RegisterBenchmark("lookup/snapshot_patterns_single", BM_SnapshotSingle, d,
                               with_patterns.get());
  benchmark::RegisterBenchmark("lookup/snapshot_patterns_batch16", BM_SnapshotBatch16, d,
                               with_patterns.get());
  benchmark::RegisterBenchmark("build_index", BM_BuildIndex, d)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("load_index", BM_LoadIndex, d)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove(data.index_path);
  return 0;
}
