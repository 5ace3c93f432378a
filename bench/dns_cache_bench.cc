// dns_cache_bench: lookups/s of one worker's AnswerCache, warm with 100k entries: hits (the
// answer copied out and rewritten for the client), misses, and inserts into a full cache,
// each evicting. Keys are taken in a shuffled order so the cache's memory is touched as a
// busy resolver's would be, not in insertion order.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/answer_cache.h"

namespace saring::bench {
namespace {

using dns::AnswerCache;
using dns::CacheKey;

constexpr std::size_t kEntries = 100'000;
constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kClassIn = 1;
constexpr std::int64_t kNow = 1'000'000;

void Put16(std::vector<std::uint8_t>* p, std::uint16_t v) {
  p->push_back(static_cast<std::uint8_t>(v >> 8));
  p->push_back(static_cast<std::uint8_t>(v));
}

struct Query {
  std::string name;
  std::vector<std::uint8_t> question;
};

struct Answer {
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint16_t> ttl_offsets;
};

std::vector<std::uint8_t> Question(const std::string& name) {
  std::vector<std::uint8_t> q;
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = std::min(name.find('.', start), name.size());
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
             name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  Put16(&q, kTypeA);
  Put16(&q, kClassIn);
  return q;
}

// A typical answer: `records` A records for the question's name (~70 bytes for two).
Answer MakeAnswer(const Query& q, int records) {
  Answer a;
  auto& p = a.bytes;
  for (int v : {0x1234, 0x8180, 1, records, 0, 0}) Put16(&p, static_cast<std::uint16_t>(v));
  p.insert(p.end(), q.question.begin(), q.question.end());
  for (int i = 0; i < records; ++i) {
    for (int v : {0xc00c, int{kTypeA}, int{kClassIn}}) Put16(&p, static_cast<std::uint16_t>(v));
    a.ttl_offsets.push_back(static_cast<std::uint16_t>(p.size()));
    for (int v : {0, 3600, 4, 0x0a00, i}) Put16(&p, static_cast<std::uint16_t>(v));
  }
  return a;
}

std::vector<Query> MakeQueries(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Query> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::string& name = out[i].name;
    for (int k = 4 + static_cast<int>(rng() % 8); k > 0; --k) {
      name.push_back(static_cast<char>('a' + rng() % 26));
    }
    name += std::to_string(i) + (rng() % 2 ? ".example.com" : ".co.id");
    out[i].question = Question(name);
  }
  return out;
}

// Indexes 0..n-1, shuffled.
std::vector<std::size_t> Order(std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  return order;
}

// The lookups' keys and questions packed in the order they are asked, so the harness reads
// its own memory sequentially and the misses measured are the cache's.
struct Probes {
  struct Probe {
    std::uint32_t name_at, question_at;
    std::uint16_t name_size, question_size;
  };
  std::string bytes;
  std::vector<Probe> list;

  Probes(const std::vector<Query>& queries, const std::vector<std::size_t>& order) {
    for (std::size_t k : order) {
      const Query& q = queries[k];
      list.push_back({static_cast<std::uint32_t>(bytes.size()),
                      static_cast<std::uint32_t>(bytes.size() + q.name.size()),
                      static_cast<std::uint16_t>(q.name.size()),
                      static_cast<std::uint16_t>(q.question.size())});
      bytes += q.name;
      bytes.append(q.question.begin(), q.question.end());
    }
  }
  std::string_view Name(const Probe& p) const { return {bytes.data() + p.name_at, p.name_size}; }
  std::span<const std::uint8_t> Question(const Probe& p) const {
    return {reinterpret_cast<const std::uint8_t*>(bytes.data()) + p.question_at, p.question_size};
  }
};

// A cache with the default options and kEntries answers of `records` A records each.
struct Warm {
  std::vector<Query> present = MakeQueries(kEntries, 1);
  std::vector<std::size_t> order = Order(kEntries);
  Probes hits{present, order};
  Probes misses{MakeQueries(kEntries, 2), order};
  AnswerCache cache{AnswerCache::Options()};

  explicit Warm(int records) {
    for (const Query& q : present) {
      Answer a = MakeAnswer(q, records);
      cache.Insert({q.name, kTypeA, kClassIn, false}, a.bytes, a.ttl_offsets, 3600, false, kNow);
    }
    if (cache.stats().entries != kEntries || cache.stats().evictions != 0) {
      std::fprintf(stderr, "dns_cache_bench: the warm cache lost entries\n");
      std::abort();
    }
  }
};

Warm& WarmCache(int records) {
  static Warm two(2);
  static Warm sixteen(16);
  return records == 2 ? two : sixteen;
}

void Lookups(benchmark::State& state, const Probes& probes, Warm& w, AnswerCache::Hit want) {
  std::vector<std::uint8_t> out(4096);
  std::size_t i = 0;
  std::size_t wrong = 0;
  for (auto _ : state) {
    const Probes::Probe& p = probes.list[i];
    if (++i == probes.list.size()) i = 0;
    std::size_t size = 0;
    auto hit = w.cache.Lookup({probes.Name(p), kTypeA, kClassIn, false}, kNow + 60, false, 0xbeef,
                              probes.Question(p), out, &size);
    wrong += hit != want;
    benchmark::DoNotOptimize(out.data());
  }
  if (wrong != 0) state.SkipWithError("unexpected hit or miss");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_LookupHit(benchmark::State& state) {
  Warm& w = WarmCache(static_cast<int>(state.range(0)));
  state.counters["answer_bytes"] =
      static_cast<double>(MakeAnswer(w.present[0], static_cast<int>(state.range(0))).bytes.size());
  Lookups(state, w.hits, w, AnswerCache::Hit::kFresh);
}
BENCHMARK(BM_LookupHit)->Arg(2)->Arg(16);

void BM_LookupMiss(benchmark::State& state) {
  Warm& w = WarmCache(2);
  Lookups(state, w.misses, w, AnswerCache::Hit::kMiss);
}
BENCHMARK(BM_LookupMiss);

// Steady state of a cache too small for its traffic: every insert evicts.
void BM_InsertEvicting(benchmark::State& state) {
  const std::vector<Query> queries = MakeQueries(kEntries, 3);
  std::vector<Answer> answers;
  for (const Query& q : queries) answers.push_back(MakeAnswer(q, 2));
  const std::vector<std::size_t> order = Order(kEntries);
  AnswerCache::Options options;
  options.max_bytes = 2 << 20;
  AnswerCache cache(options);
  for (std::size_t k : order) {
    cache.Insert({queries[k].name, kTypeA, kClassIn, false}, answers[k].bytes,
                 answers[k].ttl_offsets, 3600, false, kNow);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t k = order[i];
    if (++i == kEntries) i = 0;
    cache.Insert({queries[k].name, kTypeA, kClassIn, false}, answers[k].bytes,
                 answers[k].ttl_offsets, 3600, false, kNow);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["entries"] = static_cast<double>(cache.stats().entries);
}
BENCHMARK(BM_InsertEvicting);

}  // namespace
}  // namespace saring::bench

BENCHMARK_MAIN();
