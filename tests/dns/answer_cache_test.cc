#include "dns/answer_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <random>
#include <string>
#include <tuple>
#include <vector>

// Every allocation of this binary goes through here, so a test can count what the cache
// allocates, and prove Lookup and Insert allocate nothing. New memory is filled with garbage,
// as reused heap memory would be, so reading what the cache never wrote shows.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocations{0};
std::atomic<std::size_t> g_allocated_bytes{0};

void* Allocate(std::size_t n, std::size_t alignment) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_allocated_bytes.fetch_add(n, std::memory_order_relaxed);
  }
  if (n == 0) n = 1;
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(alignment, (n + alignment - 1) / alignment * alignment);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0xa5, n);
  return p;
}
}  // namespace

// The array forms too: under a sanitizer they do not forward to the plain ones.
void* operator new(std::size_t n) { return Allocate(n, 0); }
void* operator new[](std::size_t n) { return Allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return Allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return Allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace saring::dns {
namespace {

using Hit = AnswerCache::Hit;

constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr std::uint16_t kClassIn = 1;

// Counts allocations while alive.
class AllocationCounter {
 public:
  AllocationCounter() {
    g_allocations = 0;
    g_allocated_bytes = 0;
    g_counting = true;
  }
  ~AllocationCounter() { g_counting = false; }
  std::size_t count() const { return g_allocations; }
  std::size_t bytes() const { return g_allocated_bytes; }
};

void Put16(std::vector<std::uint8_t>* p, std::uint16_t v) {
  p->push_back(static_cast<std::uint8_t>(v >> 8));
  p->push_back(static_cast<std::uint8_t>(v));
}

void Put32(std::vector<std::uint8_t>* p, std::uint32_t v) {
  Put16(p, static_cast<std::uint16_t>(v >> 16));
  Put16(p, static_cast<std::uint16_t>(v));
}

std::uint32_t Get32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// The question section for `name` as written (its letter case kept): name, type, class.
std::vector<std::uint8_t> Question(std::string_view name, std::uint16_t qtype) {
  std::vector<std::uint8_t> q;
  while (!name.empty()) {
    std::size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  q.push_back(0);
  Put16(&q, qtype);
  Put16(&q, kClassIn);
  return q;
}

struct Answer {
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint16_t> ttl_offsets;
};

// A response with ID `id` to `name`/`qtype`: one A record per TTL (owner: a pointer to the
// question), address `address` + record number; `padding` bytes of a TXT record at the end
// make it as large as a test needs.
Answer MakeAnswer(std::string_view name, std::uint16_t qtype, std::vector<std::uint32_t> ttls,
                  std::uint16_t id = 0x1234, std::uint32_t address = 0x0a000001,
                  std::size_t padding = 0) {
  Answer a;
  std::vector<std::uint8_t>& p = a.bytes;
  Put16(&p, id);
  Put16(&p, 0x8180);  // QR RD RA, NOERROR
  Put16(&p, 1);
  Put16(&p, static_cast<std::uint16_t>(ttls.size() + (padding > 0)));
  Put16(&p, 0);
  Put16(&p, 0);
  std::vector<std::uint8_t> q = Question(name, qtype);
  p.insert(p.end(), q.begin(), q.end());
  for (std::size_t i = 0; i < ttls.size(); ++i) {
    Put16(&p, 0xc00c);
    Put16(&p, kTypeA);
    Put16(&p, kClassIn);
    a.ttl_offsets.push_back(static_cast<std::uint16_t>(p.size()));
    Put32(&p, ttls[i]);
    Put16(&p, 4);
    Put32(&p, address + static_cast<std::uint32_t>(i));
  }
  if (padding > 0) {
    Put16(&p, 0xc00c);
    Put16(&p, 16);  // TXT
    Put16(&p, kClassIn);
    a.ttl_offsets.push_back(static_cast<std::uint16_t>(p.size()));
    Put32(&p, ttls.empty() ? 300 : ttls[0]);
    Put16(&p, static_cast<std::uint16_t>(padding));
    for (std::size_t i = 0; i < padding; i += 256) {
      std::size_t n = std::min<std::size_t>(255, padding - i - 1);
      p.push_back(static_cast<std::uint8_t>(n));
      p.insert(p.end(), n, 'x');
    }
  }
  return a;
}

// What a reused answer must look like, written out independently of the cache: the new ID
// and question, each TTL cut to `cap`, less `age`, not below `floor`.
std::vector<std::uint8_t> Expected(const Answer& stored, std::uint16_t id,
                                   const std::vector<std::uint8_t>& question, std::uint32_t cap,
                                   std::uint32_t age, std::uint32_t floor) {
  std::vector<std::uint8_t> p = stored.bytes;
  p[0] = static_cast<std::uint8_t>(id >> 8);
  p[1] = static_cast<std::uint8_t>(id);
  std::copy(question.begin(), question.end(), p.begin() + 12);
  for (std::uint16_t off : stored.ttl_offsets) {
    std::uint32_t ttl = std::min(Get32(&p[off]), cap);
    ttl = std::max(ttl > age ? ttl - age : 0, floor);
    p[off] = static_cast<std::uint8_t>(ttl >> 24);
    p[off + 1] = static_cast<std::uint8_t>(ttl >> 16);
    p[off + 2] = static_cast<std::uint8_t>(ttl >> 8);
    p[off + 3] = static_cast<std::uint8_t>(ttl);
  }
  return p;
}

struct Result {
  Hit hit = Hit::kMiss;
  std::vector<std::uint8_t> bytes;
};

Result Get(AnswerCache& cache, const CacheKey& key, std::int64_t now, bool allow_stale = false,
           std::uint16_t id = 0xbeef, std::vector<std::uint8_t> question = {},
           std::size_t out_size = 4096) {
  if (question.empty()) question = Question(key.name, key.qtype);
  std::vector<std::uint8_t> out(out_size);
  std::size_t size = 0;
  Result r;
  r.hit = cache.Lookup(key, now, allow_stale, id, question, out, &size);
  if (r.hit != Hit::kMiss) r.bytes.assign(out.begin(), out.begin() + size);
  return r;
}

void Put(AnswerCache& cache, const CacheKey& key, const Answer& a, std::uint32_t ttl,
         std::int64_t now, bool negative = false) {
  cache.Insert(key, a.bytes, a.ttl_offsets, ttl, negative, now);
}

std::uint32_t FirstTtl(const Result& r, const Answer& a) {
  return Get32(&r.bytes[a.ttl_offsets[0]]);
}

AnswerCache::Options Defaults() { return AnswerCache::Options(); }

TEST(AnswerCacheTest, RoundTripRewritesIdCaseAndTtl) {
  AnswerCache cache(Defaults());
  const CacheKey key{"www.example.com", kTypeA, kClassIn, false};
  const Answer a = MakeAnswer("www.example.com", kTypeA, {300});
  Put(cache, key, a, 300, 1000);

  const std::vector<std::uint8_t> question = Question("WwW.ExAmPlE.cOm", kTypeA);
  Result r = Get(cache, key, 1010, false, 0xbeef, question);
  ASSERT_EQ(r.hit, Hit::kFresh);
  ASSERT_EQ(r.bytes.size(), a.bytes.size());
  EXPECT_EQ(r.bytes[0], 0xbe);
  EXPECT_EQ(r.bytes[1], 0xef);
  EXPECT_TRUE(std::equal(question.begin(), question.end(), r.bytes.begin() + 12));
  EXPECT_EQ(FirstTtl(r, a), 290u);
  EXPECT_EQ(r.bytes, Expected(a, 0xbeef, question, 300, 10, 0));

  // The stored copy is not changed by serving it.
  r = Get(cache, key, 1100, false, 0x0102);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(FirstTtl(r, a), 200u);
  EXPECT_EQ(r.bytes, Expected(a, 0x0102, Question("www.example.com", kTypeA), 300, 100, 0));
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().inserts, 1u);
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST(AnswerCacheTest, UnknownKeyMisses) {
  AnswerCache cache(Defaults());
  EXPECT_EQ(Get(cache, {"nothing.test", kTypeA, kClassIn, false}, 0).hit, Hit::kMiss);
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST(AnswerCacheTest, ExpiresAfterTtl) {
  AnswerCache cache(Defaults());
  const CacheKey key{"a.test", kTypeA, kClassIn, false};
  const Answer a = MakeAnswer("a.test", kTypeA, {300});
  Put(cache, key, a, 300, 1000);
  Result r = Get(cache, key, 1299);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(FirstTtl(r, a), 1u);
  EXPECT_EQ(Get(cache, key, 1300).hit, Hit::kMiss);
  EXPECT_EQ(Get(cache, key, 5000).hit, Hit::kMiss);
}

TEST(AnswerCacheTest, StaleOnlyWhenAllowedAndWithinWindow) {
  AnswerCache::Options o;
  o.stale_window = 3600;
  o.stale_answer_ttl = 30;
  AnswerCache cache(o);
  const CacheKey key{"a.test", kTypeA, kClassIn, false};
  const Answer a = MakeAnswer("a.test", kTypeA, {300, 10, 7200});
  Put(cache, key, a, 10, 1000);

  // While fresh, allow_stale changes nothing.
  Result r = Get(cache, key, 1005, true);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(r.bytes, Expected(a, 0xbeef, Question("a.test", kTypeA), 10, 5, 0));

  EXPECT_EQ(Get(cache, key, 1010, false).hit, Hit::kMiss);
  r = Get(cache, key, 1010, true);
  ASSERT_EQ(r.hit, Hit::kStale);
  for (std::uint16_t off : a.ttl_offsets) EXPECT_EQ(Get32(&r.bytes[off]), 30u);
  EXPECT_EQ(r.bytes[0], 0xbe);

  // A refused stale lookup does not drop the entry.
  EXPECT_EQ(Get(cache, key, 1010 + 3599, false).hit, Hit::kMiss);
  EXPECT_EQ(Get(cache, key, 1010 + 3599, true).hit, Hit::kStale);
  EXPECT_EQ(Get(cache, key, 1010 + 3600, true).hit, Hit::kMiss);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().stale_hits, 2u);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 3u);
}

TEST(AnswerCacheTest, NegativeTtlCapped) {
  AnswerCache::Options o;
  o.max_negative_ttl = 3600;
  o.max_ttl = 86400;
  AnswerCache cache(o);
  const CacheKey neg{"nx.test", kTypeA, kClassIn, false};
  const Answer n = MakeAnswer("nx.test", kTypeA, {7200});  // stands in for the SOA
  Put(cache, neg, n, 7200, 0, true);
  Result r = Get(cache, neg, 0);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(FirstTtl(r, n), 3600u);  // the record itself is cut too
  EXPECT_EQ(FirstTtl(Get(cache, neg, 3599), n), 1u);
  EXPECT_EQ(Get(cache, neg, 3600).hit, Hit::kMiss);

  // The same TTL on a positive answer is kept; a longer one is cut to max_ttl.
  const CacheKey pos{"pos.test", kTypeA, kClassIn, false};
  const Answer p = MakeAnswer("pos.test", kTypeA, {7200});
  Put(cache, pos, p, 7200, 0);
  EXPECT_EQ(Get(cache, pos, 3600).hit, Hit::kFresh);
  EXPECT_EQ(FirstTtl(Get(cache, pos, 7199), p), 1u);
  const CacheKey longer{"long.test", kTypeA, kClassIn, false};
  const Answer l = MakeAnswer("long.test", kTypeA, {1'000'000});
  Put(cache, longer, l, 1'000'000, 0);
  EXPECT_EQ(FirstTtl(Get(cache, longer, 0), l), 86400u);
  EXPECT_EQ(Get(cache, longer, 86400).hit, Hit::kMiss);
}

TEST(AnswerCacheTest, TopBitTtlCountsAsZero) {
  AnswerCache cache(Defaults());
  const CacheKey key{"t.test", kTypeA, kClassIn, false};
  const Answer a = MakeAnswer("t.test", kTypeA, {300, 0x80000001u});
  Put(cache, key, a, 300, 0);
  Result r = Get(cache, key, 5);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(Get32(&r.bytes[a.ttl_offsets[0]]), 295u);
  EXPECT_EQ(Get32(&r.bytes[a.ttl_offsets[1]]), 0u);
}

TEST(AnswerCacheTest, ZeroTtlNotStored) {
  AnswerCache cache(Defaults());
  const CacheKey key{"zero.test", kTypeA, kClassIn, false};
  Put(cache, key, MakeAnswer("zero.test", kTypeA, {0}), 0, 0);
  EXPECT_EQ(Get(cache, key, 0).hit, Hit::kMiss);
  EXPECT_EQ(cache.stats().inserts, 0u);

  // Nor does it displace an earlier answer, still good for its own TTL.
  const Answer a = MakeAnswer("zero.test", kTypeA, {300});
  Put(cache, key, a, 300, 0);
  Put(cache, key, MakeAnswer("zero.test", kTypeA, {0}, 0x1234, 0x7f000001), 0, 10);
  Result r = Get(cache, key, 10);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(r.bytes, Expected(a, 0xbeef, Question("zero.test", kTypeA), 300, 10, 0));
}

TEST(AnswerCacheTest, InsertReplacesSameKey) {
  AnswerCache cache(Defaults());
  const CacheKey key{"r.test", kTypeA, kClassIn, false};
  Put(cache, key, MakeAnswer("r.test", kTypeA, {300}, 1, 0x01020304), 300, 0);
  const Answer b = MakeAnswer("r.test", kTypeA, {60, 60, 60}, 2, 0x05060708);
  Put(cache, key, b, 60, 100);
  Result r = Get(cache, key, 110);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(r.bytes, Expected(b, 0xbeef, Question("r.test", kTypeA), 60, 10, 0));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().inserts, 2u);
  // The new TTL counts, not the old one.
  EXPECT_EQ(Get(cache, key, 160).hit, Hit::kMiss);
}

TEST(AnswerCacheTest, TypeClassAndDoBitAreDistinctKeys) {
  AnswerCache cache(Defaults());
  const std::vector<CacheKey> keys = {
      {"k.test", kTypeA, kClassIn, false},
      {"k.test", kTypeAaaa, kClassIn, false},
      {"k.test", kTypeA, kClassIn, true},
      {"k.test", kTypeA, 3, false},
      {"k.test.", kTypeA, kClassIn, false},
  };
  std::vector<Answer> answers;
  for (std::size_t i = 0; i < 4; ++i) {
    answers.push_back(MakeAnswer("k.test", keys[i].qtype, {300}, 1, 0x0a000000 + 16 * i));
    Put(cache, keys[i], answers[i], 300, 0);
  }
  for (std::size_t i = 0; i < 4; ++i) {
    Result r = Get(cache, keys[i], 1, false, 0xbeef, Question("k.test", keys[i].qtype));
    ASSERT_EQ(r.hit, Hit::kFresh) << i;
    EXPECT_EQ(r.bytes, Expected(answers[i], 0xbeef, Question("k.test", keys[i].qtype), 300, 1, 0))
        << i;
  }
  EXPECT_EQ(Get(cache, keys[4], 1).hit, Hit::kMiss);
  EXPECT_EQ(cache.stats().entries, 4u);
}

TEST(AnswerCacheTest, SmallOutputBufferOrOtherQuestionSizeMisses) {
  AnswerCache cache(Defaults());
  const CacheKey key{"s.test", kTypeA, kClassIn, false};
  const Answer a = MakeAnswer("s.test", kTypeA, {300});
  Put(cache, key, a, 300, 0);
  EXPECT_EQ(Get(cache, key, 0, false, 1, {}, a.bytes.size() - 1).hit, Hit::kMiss);
  EXPECT_EQ(Get(cache, key, 0, false, 1, {}, a.bytes.size()).hit, Hit::kFresh);
  EXPECT_EQ(Get(cache, key, 0, false, 1, Question("s.test.x", kTypeA)).hit, Hit::kMiss);
}

TEST(AnswerCacheTest, MalformedInsertsIgnored) {
  AnswerCache cache(Defaults());
  const CacheKey key{"m.test", kTypeA, kClassIn, false};
  Answer a = MakeAnswer("m.test", kTypeA, {300, 300});
  Answer outside = a;
  outside.ttl_offsets[1] = static_cast<std::uint16_t>(a.bytes.size() - 3);
  Put(cache, key, outside, 300, 0);
  Answer unordered = a;
  std::swap(unordered.ttl_offsets[0], unordered.ttl_offsets[1]);
  Put(cache, key, unordered, 300, 0);
  Answer in_question = a;
  in_question.ttl_offsets[0] = 14;
  Put(cache, key, in_question, 300, 0);
  Answer no_question = a;
  no_question.bytes[5] = 0;
  Put(cache, key, no_question, 300, 0);
  Answer truncated = a;
  truncated.bytes.resize(20);
  truncated.ttl_offsets.clear();
  Put(cache, key, truncated, 300, 0);
  std::vector<std::uint16_t> too_many(65, a.ttl_offsets[0]);
  cache.Insert(key, a.bytes, too_many, 300, false, 0);
  EXPECT_EQ(cache.stats().inserts, 0u);
  Put(cache, key, a, 300, 0);
  EXPECT_EQ(cache.stats().inserts, 1u);
}

TEST(AnswerCacheTest, LargeAnswerNotCached) {
  AnswerCache cache(Defaults());
  const CacheKey big{"big.test", kTypeA, kClassIn, false};
  Answer a = MakeAnswer("big.test", kTypeA, {300}, 1, 1, 4200);
  ASSERT_GT(a.bytes.size(), 4096u);
  Put(cache, big, a, 300, 0);
  EXPECT_EQ(Get(cache, big, 0).hit, Hit::kMiss);
  EXPECT_EQ(cache.stats().inserts, 0u);

  // 4096 bytes exactly is kept, whole.
  a = MakeAnswer("big.test", kTypeA, {300}, 1, 1, 4096 - 12 - 14 - 16 - 12);
  ASSERT_EQ(a.bytes.size(), 4096u);
  Put(cache, big, a, 300, 0);
  Result r = Get(cache, big, 5);
  ASSERT_EQ(r.hit, Hit::kFresh);
  EXPECT_EQ(r.bytes, Expected(a, 0xbeef, Question("big.test", kTypeA), 300, 5, 0));
}

std::string NameFor(std::size_t i) { return "host" + std::to_string(i) + ".example.net"; }

TEST(AnswerCacheTest, HashCollisionsNeverReturnAnotherKey) {
  for (auto hash : {+[](const CacheKey&) -> std::uint64_t { return 42; },
                    +[](const CacheKey& k) -> std::uint64_t { return k.name.size() << 40; }}) {
    AnswerCache::Options o;
    o.max_bytes = 256 << 10;
    o.stale_window = 50;
    o.hash = hash;
    AnswerCache cache(o);
    std::vector<Answer> answers;
    for (std::size_t i = 0; i < 300; ++i) {
      answers.push_back(MakeAnswer(NameFor(i), kTypeA, {300}, 1, static_cast<std::uint32_t>(i)));
      const std::string name = NameFor(i);
      Put(cache, {name, kTypeA, kClassIn, i % 2 == 0}, answers[i], 300, 0);
    }
    for (std::size_t i = 0; i < 300; ++i) {
      const std::string name = NameFor(i);
      Result r = Get(cache, {name, kTypeA, kClassIn, i % 2 == 0}, 1);
      ASSERT_EQ(r.hit, Hit::kFresh) << i;
      EXPECT_EQ(r.bytes, Expected(answers[i], 0xbeef, Question(name, kTypeA), 300, 1, 0)) << i;
      EXPECT_EQ(Get(cache, {name, kTypeA, kClassIn, i % 2 != 0}, 1).hit, Hit::kMiss) << i;
      EXPECT_EQ(Get(cache, {name, kTypeAaaa, kClassIn, i % 2 == 0}, 1).hit, Hit::kMiss) << i;
    }
    EXPECT_EQ(Get(cache, {NameFor(300), kTypeA, kClassIn, false}, 1).hit, Hit::kMiss);

    // Removal from a long run (replacement, then expiry) keeps the rest reachable.
    for (std::size_t i = 0; i < 300; i += 3) {
      const std::string name = NameFor(i);
      Put(cache, {name, kTypeA, kClassIn, i % 2 == 0}, answers[i], 10, 0);
    }
    for (bool allow_stale : {false, true}) {
      for (std::size_t i = 0; i < 300; ++i) {
        const std::string name = NameFor(i);
        Result r = Get(cache, {name, kTypeA, kClassIn, i % 2 == 0}, 100, allow_stale);
        EXPECT_EQ(r.hit, i % 3 == 0 ? Hit::kMiss : Hit::kFresh) << i;
      }
    }
    EXPECT_EQ(cache.stats().entries, 200u);
  }
}

TEST(AnswerCacheTest, MemoryBoundedAndQueryPathNeverAllocates) {
  for (std::size_t max_bytes : {std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{16} << 20,
                                std::size_t{64} << 20}) {
    AnswerCache::Options o;
    o.max_bytes = max_bytes;
    std::unique_ptr<AnswerCache> cache;
    {
      AllocationCounter counter;
      cache = std::make_unique<AnswerCache>(o);
      EXPECT_LE(counter.bytes(), max_bytes);
      EXPECT_GE(counter.bytes(), max_bytes / 10 * 9) << "most of the budget should be usable";
    }
    if (max_bytes > (std::size_t{1} << 20)) continue;

    // Answers of every size, several times what fits.
    std::mt19937_64 rng(7);
    std::vector<Answer> answers;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < 4000; ++i) {
      names.push_back(NameFor(i));
      std::size_t padding = rng() % 4 == 0 ? rng() % 3800 + 1 : 0;
      answers.push_back(MakeAnswer(names[i], kTypeA, {300, 300}, 1, 1, padding));
    }
    std::vector<std::vector<std::uint8_t>> questions;
    for (const std::string& name : names) questions.push_back(Question(name, kTypeA));
    std::vector<std::uint8_t> out(4096);
    std::size_t hits = 0;
    std::size_t most_used = 0;
    AllocationCounter counter;
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < answers.size(); ++i) {
        const CacheKey key{names[i], kTypeA, kClassIn, false};
        cache->Insert(key, answers[i].bytes, answers[i].ttl_offsets, 300, false, round);
        const CacheKey probe{names[i / 2], kTypeA, kClassIn, false};
        std::size_t size;
        hits += cache->Lookup(probe, round, false, 1, questions[i / 2], out, &size) != Hit::kMiss;
        most_used = std::max(most_used, cache->stats().bytes_used);
      }
    }
    EXPECT_EQ(counter.count(), 0u);
    EXPECT_LE(most_used, max_bytes);
    EXPECT_GT(cache->stats().evictions, 0u);
    EXPECT_GT(hits, 0u);
  }
}

// Hands out keys, each a distinct name with one A record and a one-chunk entry.
struct Filler {
  AnswerCache& cache;
  std::vector<std::string> names;

  void Add(std::int64_t now) {
    names.push_back(NameFor(names.size()));
    Put(cache, Key(names.size() - 1), MakeAnswer(names.back(), kTypeA, {3000}), 3000, now);
  }
  CacheKey Key(std::size_t i) const { return {names[i], kTypeA, kClassIn, false}; }
  bool Has(std::size_t i, std::int64_t now) { return Get(cache, Key(i), now).hit == Hit::kFresh; }
};

TEST(AnswerCacheTest, FullCacheEvictsOldestUnusedFirst) {
  AnswerCache::Options o;
  o.max_bytes = 1 << 20;
  AnswerCache cache(o);
  Filler f{cache, {}};
  while (cache.stats().evictions == 0) f.Add(0);
  const std::size_t capacity = cache.stats().entries;
  ASSERT_GT(capacity, 1000u);
  EXPECT_FALSE(f.Has(0, 0));

  // Entries 1..100 are next in line; using them saves them.
  for (std::size_t i = 1; i <= 100; ++i) ASSERT_TRUE(f.Has(i, 1)) << i;
  for (std::size_t i = 0; i < capacity / 2; ++i) f.Add(2);
  EXPECT_EQ(cache.stats().evictions, 1 + capacity / 2);
  EXPECT_EQ(cache.stats().entries, capacity);
  for (std::size_t i = 1; i <= 100; ++i) EXPECT_TRUE(f.Has(i, 3)) << i;
  for (std::size_t i = 101; i < 101 + capacity / 2; ++i) EXPECT_FALSE(f.Has(i, 3)) << i;
  for (std::size_t i = 101 + capacity / 2; i < f.names.size(); ++i) EXPECT_TRUE(f.Has(i, 3)) << i;
}

TEST(AnswerCacheTest, LargeAnswersEvictEnoughForTheirChunks) {
  AnswerCache::Options o;
  o.max_bytes = 256 << 10;
  AnswerCache cache(o);
  Filler f{cache, {}};
  for (int i = 0; i < 5000; ++i) f.Add(0);
  const std::size_t before = cache.stats().entries;
  std::vector<Answer> big;
  for (std::size_t i = 0; i < 20; ++i) {
    const std::string name = "big" + std::to_string(i) + ".test";
    big.push_back(MakeAnswer(name, kTypeA, {300}, 1, 1, 4000));
    Put(cache, {name, kTypeA, kClassIn, false}, big.back(), 300, 0);
  }
  EXPECT_LT(cache.stats().entries, before);
  EXPECT_LE(cache.stats().bytes_used, o.max_bytes);
  for (std::size_t i = 0; i < 20; ++i) {
    const std::string name = "big" + std::to_string(i) + ".test";
    Result r = Get(cache, {name, kTypeA, kClassIn, false}, 0);
    ASSERT_EQ(r.hit, Hit::kFresh) << i;
    EXPECT_EQ(r.bytes, Expected(big[i], 0xbeef, Question(name, kTypeA), 300, 0, 0));
  }
}

// 1M random inserts and lookups against a std::map with the same TTL rules, in a cache large
// enough never to evict: every answer and every miss must agree.
TEST(AnswerCacheTest, MatchesReferenceModel) {
  AnswerCache::Options o;
  o.max_bytes = 32 << 20;
  o.max_ttl = 400;
  o.max_negative_ttl = 90;
  o.stale_window = 500;
  o.stale_answer_ttl = 30;
  AnswerCache cache(o);

  struct Stored {
    Answer answer;
    std::uint32_t ttl;
    std::int64_t stored_at;
  };
  using Key = std::tuple<std::string, std::uint16_t, bool>;
  std::map<Key, Stored> model;

  std::mt19937_64 rng(20240601);
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) {
    std::string name;
    const int labels = 1 + static_cast<int>(rng() % 4);
    for (int l = 0; l < labels; ++l) {
      if (l > 0) name.push_back('.');
      const int n = 1 + static_cast<int>(rng() % 20);
      for (int k = 0; k < n; ++k) name.push_back(static_cast<char>('a' + rng() % 26));
    }
    names.push_back(name);
  }
  auto mixed_case = [&rng](std::string s) {
    for (char& c : s) {
      if (rng() % 2) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
  };

  std::int64_t now = 1'000'000;
  std::vector<std::uint8_t> out(4096);
  std::size_t lookups = 0, hits = 0, stale = 0;
  for (int op = 0; op < 1'000'000; ++op) {
    if (rng() % 6 == 0) now += 1;
    if (rng() % 5000 == 0) now += 300;
    const std::string& name = names[rng() % names.size()];
    const std::uint16_t qtype = rng() % 2 ? kTypeA : kTypeAaaa;
    const bool dnssec_ok = rng() % 4 == 0;
    const CacheKey key{name, qtype, kClassIn, dnssec_ok};
    const Key mkey{name, qtype, dnssec_ok};

    if (rng() % 10 < 3) {
      std::vector<std::uint32_t> ttls(1 + rng() % 3);
      for (auto& t : ttls) t = rng() % 8 == 0 ? 100000 : static_cast<std::uint32_t>(rng() % 600);
      const std::uint32_t ttl = rng() % 10 == 0 ? static_cast<std::uint32_t>(rng() % 1000)
                                                : *std::min_element(ttls.begin(), ttls.end());
      const bool negative = rng() % 5 == 0;
      Answer a = MakeAnswer(mixed_case(name), qtype, ttls, static_cast<std::uint16_t>(rng()),
                            static_cast<std::uint32_t>(rng()));
      cache.Insert(key, a.bytes, a.ttl_offsets, ttl, negative, now);
      const std::uint32_t capped = std::min(ttl, negative ? o.max_negative_ttl : o.max_ttl);
      if (capped > 0) model[mkey] = Stored{std::move(a), capped, now};
    } else {
      ++lookups;
      const bool allow_stale = rng() % 2 == 0;
      const auto id = static_cast<std::uint16_t>(rng());
      const std::vector<std::uint8_t> question = Question(mixed_case(name), qtype);
      std::size_t size = 0;
      const Hit hit = cache.Lookup(key, now, allow_stale, id, question, out, &size);

      Hit want = Hit::kMiss;
      std::vector<std::uint8_t> bytes;
      auto it = model.find(mkey);
      if (it != model.end()) {
        const Stored& s = it->second;
        const std::int64_t expires = s.stored_at + s.ttl;
        if (now < expires) {
          want = Hit::kFresh;
          bytes = Expected(s.answer, id, question, s.ttl,
                           static_cast<std::uint32_t>(now - s.stored_at), 0);
        } else if (now - expires >= o.stale_window) {
          model.erase(it);
        } else if (allow_stale) {
          want = Hit::kStale;
          bytes = Expected(s.answer, id, question, s.ttl, UINT32_MAX, o.stale_answer_ttl);
        }
      }
      ASSERT_EQ(hit, want) << "op " << op << " name " << name;
      if (hit != Hit::kMiss) {
        ASSERT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + size), bytes)
            << "op " << op;
      }
      hits += hit == Hit::kFresh;
      stale += hit == Hit::kStale;
    }
    ASSERT_EQ(cache.stats().entries, model.size()) << "op " << op;
  }
  EXPECT_EQ(cache.stats().evictions, 0u);
  // The mix exercises every outcome.
  EXPECT_GT(hits, lookups / 10);
  EXPECT_GT(stale, lookups / 50);
  EXPECT_GT(lookups - hits - stale, lookups / 10);
}

}  // namespace
}  // namespace saring::dns
