#include "dns/top_names.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/hash.h"

namespace saring::dns {

TopTable::TopTable(Key key) : key_(key) {
  index_.fill(kEmpty);
  heap_.fill(kNoChild);
  heap_pos_.fill(0);
}

std::uint64_t TopTable::Hash(std::string_view text, std::uint16_t class_id) const {
  std::uint64_t seed = hash::kSecret0;
  if (key_ == Key::kClassAndText) seed ^= hash::Mum(class_id + 1, hash::kSecret2);
  return hash::HashBytes(text.data(), text.size(), seed);
}

bool TopTable::Matches(const Slot& s, std::uint64_t hash, std::string_view text,
                       std::uint16_t class_id) const {
  return s.hash == hash && s.len == text.size() &&
         (key_ == Key::kText || s.class_id == class_id) &&
         std::memcmp(s.text, text.data(), text.size()) == 0;
}

void TopTable::Add(std::string_view text, std::uint16_t class_id) {
  if (text.size() > kMaxText) text = text.substr(0, kMaxText);
  ++total_;
  std::uint64_t h = Hash(text, class_id);
  std::uint32_t tag = IndexEntry(h, 0) >> 8;
  for (std::size_t p = h & kIndexMask;; p = (p + 1) & kIndexMask) {
    std::uint32_t e = index_[p];
    if (e == kEmpty) break;
    if ((e >> 8) != tag) continue;
    std::uint8_t i = static_cast<std::uint8_t>(e);
    Slot& s = slots_[i];
    if (Matches(s, h, text, class_id)) {
      s.class_id = class_id;  // the same for kClassAndText; the latest for kText
      heap_[heap_pos_[i]] += 1u << 8;
      SiftDown(heap_pos_[i]);
      return;
    }
  }
  std::uint8_t slot;
  std::uint64_t base = 0;
  std::size_t pos;
  if (used_ < kSlots) {
    slot = static_cast<std::uint8_t>(used_);
    pos = used_++;
  } else {
    slot = static_cast<std::uint8_t>(heap_[0]);  // the lowest count: Space-Saving's victim
    base = heap_[0] >> 8;
    pos = 0;
    IndexErase(slots_[slot].hash, slot);
  }
  Slot& s = slots_[slot];
  s.hash = h;
  s.error = base;
  s.class_id = class_id;
  s.len = static_cast<std::uint8_t>(text.size());
  std::memcpy(s.text, text.data(), text.size());
  IndexInsert(h, slot);
  heap_[pos] = (base + 1) << 8 | slot;
  heap_pos_[slot] = static_cast<std::uint8_t>(pos);
  if (base == 0) SiftUp(pos);
  else SiftDown(pos);
}

TopTable::Entry TopTable::entry(std::size_t i) const {
  const Slot& s = slots_[i];
  return {std::string_view(s.text, s.len), s.class_id, count(static_cast<std::uint8_t>(i)), s.error};
}

std::uint64_t TopTable::min_count() const { return used_ < kSlots ? 0 : heap_[0] >> 8; }

void TopTable::IndexInsert(std::uint64_t hash, std::uint8_t slot) {
  std::size_t p = hash & kIndexMask;
  while (index_[p] != kEmpty) p = (p + 1) & kIndexMask;
  index_[p] = IndexEntry(hash, slot);
}

// Linear probing with backward-shift deletion: no tombstones, so probes stay
// short however many keys come and go.
void TopTable::IndexErase(std::uint64_t hash, std::uint8_t slot) {
  std::uint32_t entry = IndexEntry(hash, slot);
  std::size_t i = hash & kIndexMask;
  while (index_[i] != entry) i = (i + 1) & kIndexMask;
  for (std::size_t j = i;;) {
    j = (j + 1) & kIndexMask;
    if (index_[j] == kEmpty) break;
    std::size_t home = (index_[j] >> 8) & kIndexMask;
    // index_[j] may move back to i unless its home lies cyclically in (i, j].
    bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    index_[i] = index_[j];
    i = j;
  }
  index_[i] = kEmpty;
}

void TopTable::SiftUp(std::size_t pos) {
  std::uint64_t v = heap_[pos];
  while (pos > 0) {
    std::size_t parent = (pos - 1) / 2;
    if (heap_[parent] >> 8 <= v >> 8) break;  // by count only: equal counts need no move
    heap_[pos] = heap_[parent];
    heap_pos_[static_cast<std::uint8_t>(heap_[pos])] = static_cast<std::uint8_t>(pos);
    pos = parent;
  }
  heap_[pos] = v;
  heap_pos_[static_cast<std::uint8_t>(v)] = static_cast<std::uint8_t>(pos);
}

void TopTable::SiftDown(std::size_t pos) {
  std::uint64_t v = heap_[pos];
  for (;;) {
    std::size_t c = 2 * pos + 1;
    if (c >= used_) break;
    c += heap_[c + 1] < heap_[c];  // heap_[used_] is kNoChild: never the smaller
    if (heap_[c] >> 8 >= v >> 8) break;
    heap_[pos] = heap_[c];
    heap_pos_[static_cast<std::uint8_t>(heap_[pos])] = static_cast<std::uint8_t>(pos);
    pos = c;
  }
  heap_[pos] = v;
  heap_pos_[static_cast<std::uint8_t>(v)] = static_cast<std::uint8_t>(pos);
}

std::vector<DnsCounters::TopEntry> MergeTop(std::span<const TopTable* const> tables,
                                            std::size_t n) {
  struct Sum {
    std::uint64_t count = 0;
    std::uint64_t class_count = 0;  // count of the entry class_id came from
    std::uint16_t class_id = 0;
  };
  bool with_class = false;
  for (const TopTable* t : tables) {
    if (t) with_class = t->key() == TopTable::Key::kClassAndText;
  }
  // Key: text, then (for kClassAndText) two bytes of class id.
  std::unordered_map<std::string, Sum> sums;
  for (const TopTable* t : tables) {
    if (!t) continue;
    for (std::size_t i = 0; i < t->size(); ++i) {
      TopTable::Entry e = t->entry(i);
      std::string key(e.text);
      if (with_class) {
        key.push_back(static_cast<char>(e.class_id >> 8));
        key.push_back(static_cast<char>(e.class_id));
      }
      Sum& s = sums[key];
      s.count += e.count;
      if (e.count > s.class_count) {  // names: the class of the busiest worker's entry
        s.class_count = e.count;
        s.class_id = e.class_id;
      }
    }
  }
  std::vector<DnsCounters::TopEntry> out;
  out.reserve(sums.size());
  for (auto& [key, s] : sums) {
    DnsCounters::TopEntry e;
    e.value = key;
    if (with_class) e.value.resize(e.value.size() - 2);
    e.class_id = s.class_id;
    e.count = s.count;
    out.push_back(std::move(e));
  }
  auto before = [](const DnsCounters::TopEntry& a, const DnsCounters::TopEntry& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.value != b.value) return a.value < b.value;
    return a.class_id < b.class_id;
  };
  std::size_t keep = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + keep, out.end(), before);
  out.resize(keep);
  return out;
}

}  // namespace saring::dns
