// TopTable (Space-Saving heavy hitters of blocked names and rules) and MergeTop.
#include "dns/top_names.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

// Counts every allocation of this process, to check Add makes none.
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// (noinline: GCC otherwise sees free() meet operator new and warns.)
[[gnu::noinline]] void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return operator new(n); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace saring::dns {
namespace {

using Key = TopTable::Key;

std::map<std::string, TopTable::Entry> Entries(const TopTable& t) {
  std::map<std::string, TopTable::Entry> out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    TopTable::Entry e = t.entry(i);
    std::string key(e.text);
    if (t.key() == Key::kClassAndText) key += "#" + std::to_string(e.class_id);
    EXPECT_TRUE(out.emplace(key, e).second) << "twice in the table: " << key;
  }
  return out;
}

std::string Name(std::size_t i) { return "host" + std::to_string(i) + ".example.com"; }

TEST(TopTableTest, EmptyTable) {
  TopTable t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.total(), 0u);
  EXPECT_EQ(t.min_count(), 0u);
}

TEST(TopTableTest, ExactWhileFewerDistinctNamesThanSlots) {
  TopTable t;
  constexpr std::size_t kNames = TopTable::kSlots;  // exactly full, never a replacement
  for (std::size_t round = 0; round < kNames; ++round) {
    for (std::size_t i = round; i < kNames; ++i) t.Add(Name(i), 7);  // name i: i + 1 times
  }
  ASSERT_EQ(t.size(), kNames);
  auto entries = Entries(t);
  ASSERT_EQ(entries.size(), kNames);
  for (std::size_t i = 0; i < kNames; ++i) {
    const TopTable::Entry& e = entries.at(Name(i));
    EXPECT_EQ(e.count, i + 1) << Name(i);
    EXPECT_EQ(e.error, 0u);
    EXPECT_EQ(e.class_id, 7);
  }
  EXPECT_EQ(t.total(), kNames * (kNames + 1) / 2);
  EXPECT_EQ(t.min_count(), 1u);
}

TEST(TopTableTest, HeavyHitterStaysAmongManyRareNames) {
  TopTable t;
  const std::string heavy = "ads.tracker.example";
  std::uint64_t heavy_true = 0;
  constexpr std::size_t kRare = 200000;  // each seen once
  for (std::size_t i = 0; i < kRare; ++i) {
    if (i % 20 == 0) {  // 5% of the stream
      t.Add(heavy, 3);
      ++heavy_true;
    }
    t.Add(Name(i), 3);
  }
  EXPECT_EQ(t.size(), TopTable::kSlots);
  auto entries = Entries(t);
  ASSERT_TRUE(entries.count(heavy));
  const TopTable::Entry& e = entries.at(heavy);
  EXPECT_GE(e.count, heavy_true);
  EXPECT_LE(e.count - e.error, heavy_true);
  EXPECT_LE(e.error, t.min_count());
  // It has been in the table since the start: exact.
  EXPECT_EQ(e.count, heavy_true);
  EXPECT_EQ(e.error, 0u);
  // The sum of counts is the stream length (Space-Saving keeps it).
  std::uint64_t sum = 0;
  for (const auto& [k, v] : entries) sum += v.count;
  EXPECT_EQ(sum, t.total());
  EXPECT_EQ(t.total(), kRare + heavy_true);
}

// Against exact counts on a skewed stream: every entry brackets its true
// count, every key above total/kSlots is present, no key is held twice (the
// index survives many replacements).
TEST(TopTableTest, BoundsHoldOnZipfStream) {
  for (Key key : {Key::kText, Key::kClassAndText}) {
    TopTable t(key);
    std::mt19937_64 rng(42);
    std::vector<double> weights;
    for (int i = 1; i <= 5000; ++i) weights.push_back(1.0 / i);
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    std::map<std::string, std::uint64_t> truth;
    constexpr int kStream = 300000;
    for (int n = 0; n < kStream; ++n) {
      int i = pick(rng);
      std::uint16_t cls = static_cast<std::uint16_t>(i % 3);
      std::string name = Name(i);
      t.Add(name, cls);
      ++truth[key == Key::kClassAndText ? name + "#" + std::to_string(cls) : name];
    }
    auto entries = Entries(t);
    EXPECT_EQ(entries.size(), TopTable::kSlots);
    for (const auto& [k, e] : entries) {
      std::uint64_t real = truth.count(k) ? truth.at(k) : 0;
      EXPECT_GE(e.count, real) << k;
      EXPECT_LE(e.count - e.error, real) << k;
      EXPECT_LE(e.error, t.min_count()) << k;
    }
    for (const auto& [k, real] : truth) {
      if (real > t.total() / TopTable::kSlots) {
        EXPECT_TRUE(entries.count(k)) << k << " " << real;
      }
    }
  }
}

TEST(TopTableTest, LongNames) {
  TopTable t;
  // 253 characters, the longest name; several differing only in the last one.
  std::string base;
  while (base.size() < 252) base += "abcdefghi.";
  base.resize(252);
  for (char c : std::string("abcdefgh")) {
    for (int k = 0; k < (c - 'a' + 1); ++k) t.Add(base + c, 1);
  }
  auto entries = Entries(t);
  ASSERT_EQ(entries.size(), 8u);
  for (char c : std::string("abcdefgh")) {
    std::string name = base + c;
    ASSERT_EQ(name.size(), 253u);
    ASSERT_TRUE(entries.count(name));
    EXPECT_EQ(entries.at(name).count, static_cast<std::uint64_t>(c - 'a' + 1));
  }
  // Longer texts (a long regex) are cut to kMaxText and counted as that.
  std::string regex(400, 'x');
  t.Add(regex, 2);
  t.Add(regex.substr(0, TopTable::kMaxText), 2);
  entries = Entries(t);
  std::string cut(TopTable::kMaxText, 'x');
  ASSERT_TRUE(entries.count(cut));
  EXPECT_EQ(entries.at(cut).count, 2u);
  EXPECT_EQ(entries.at(cut).text.size(), TopTable::kMaxText);
}

TEST(TopTableTest, KeyByTextOrByClassAndText) {
  TopTable names(Key::kText);
  names.Add("x.example", 1);
  names.Add("x.example", 2);
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names.entry(0).count, 2u);
  EXPECT_EQ(names.entry(0).class_id, 2);  // the latest

  TopTable rules(Key::kClassAndText);
  rules.Add("example", 1);
  rules.Add("example", 2);
  rules.Add("example", 2);
  auto entries = Entries(rules);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries.at("example#1").count, 1u);
  EXPECT_EQ(entries.at("example#2").count, 2u);
}

TEST(TopTableTest, FixedSizeAndNoAllocation) {
  // All of it is in the object (128 slots of up to 255 bytes, index and heap).
  static_assert(sizeof(TopTable) < 40 * 1024);
  static_assert(std::is_trivially_copyable_v<TopTable>);
  auto t = std::make_unique<TopTable>(Key::kClassAndText);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < 10000; ++i) names.push_back(Name(i) + std::string(i % 200, 'z'));
  std::uint64_t before = g_allocations.load();
  for (int round = 0; round < 20; ++round) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      t->Add(names[(i * 7919 + round) % names.size()], static_cast<std::uint16_t>(i % 5));
      if (i % 3 == 0) t->Add(names[0], 0);
    }
  }
  std::uint64_t after = g_allocations.load();
  EXPECT_EQ(after - before, 0u);
  static int* volatile probe;  // escapes, so the allocation cannot be elided
  probe = new int(1);
  delete probe;  // the counter does count
  EXPECT_GT(g_allocations.load(), after);
  EXPECT_EQ(t->size(), TopTable::kSlots);
  // A copy (what a worker publishes) is the same table.
  auto copy = std::make_unique<TopTable>(*t);
  EXPECT_EQ(Entries(*copy).size(), Entries(*t).size());
  EXPECT_EQ(Entries(*copy).at(names[0] + "#0").count, Entries(*t).at(names[0] + "#0").count);
}

TEST(MergeTopTest, SumsSortsAndCuts) {
  TopTable a(Key::kText), b(Key::kText);
  for (int i = 0; i < 5; ++i) a.Add("five.example", 1);
  for (int i = 0; i < 3; ++i) a.Add("three.example", 1);
  for (int i = 0; i < 4; ++i) b.Add("three.example", 2);  // 7 in all
  b.Add("one.example", 1);
  b.Add("also-one.example", 1);
  std::vector<const TopTable*> tables{&a, &b};
  auto top = MergeTop(tables, 20);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].value, "three.example");
  EXPECT_EQ(top[0].count, 7u);
  EXPECT_EQ(top[0].class_id, 2);  // from the entry with the larger count
  EXPECT_EQ(top[1].value, "five.example");
  EXPECT_EQ(top[1].count, 5u);
  EXPECT_EQ(top[2].value, "also-one.example");  // ties: by value
  EXPECT_EQ(top[3].value, "one.example");

  auto two = MergeTop(tables, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].value, "five.example");

  EXPECT_TRUE(MergeTop({}, 20).empty());
}

TEST(MergeTopTest, RulesKeepClassesApart) {
  TopTable a(Key::kClassAndText), b(Key::kClassAndText);
  a.Add("tracker.example", 1);
  a.Add("tracker.example", 1);
  b.Add("tracker.example", 1);
  b.Add("tracker.example", 4);
  b.Add("^ads[0-9]+\\.", 9);
  std::vector<const TopTable*> tables{&a, &b};
  auto top = MergeTop(tables, 20);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].value, "tracker.example");
  EXPECT_EQ(top[0].class_id, 1);
  EXPECT_EQ(top[0].count, 3u);
  EXPECT_EQ(top[1].value, "^ads[0-9]+\\.");
  EXPECT_EQ(top[1].class_id, 9);
  EXPECT_EQ(top[2].value, "tracker.example");
  EXPECT_EQ(top[2].class_id, 4);
}

}  // namespace
}  // namespace saring::dns
