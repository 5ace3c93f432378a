// TopTable: one worker's heavy hitters among blocked names (or deciding
// rules), by Space-Saving (Metwally, Agrawal, El Abbadi 2005) over a fixed
// number of slots. Internal to src/dns.
//
// HOT PATH (every blocked answer). All memory is inside the object: Add never
// allocates, locks or makes a system call; it costs one hash, a probe of a small
// open-addressing index and a sift of a min-heap of slot counts (log2 kSlots
// steps). Not thread-safe: its worker owns it and publishes copies of it (the
// type is trivially copyable) for other threads to read; see WorkerTops.
//
// Figures are approximate: while no more distinct keys were seen than there
// are slots, every count is exact; after that a new key takes the slot with
// the lowest count m and starts at m + 1, so a count overestimates by at most
// its `error` (which is at most the table's minimum count), and any key seen
// more than total/kSlots times is certain to be in the table.
//
// Privacy: keys are names or rule texts only; no client address is kept.
#ifndef SARING_DNS_TOP_NAMES_H_
#define SARING_DNS_TOP_NAMES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "saring/dns_server.h"

namespace saring::dns {

class TopTable {
 public:
  static constexpr std::size_t kSlots = 128;
  static constexpr std::size_t kMaxText = 255;  // longer texts (regexes) are cut to this

  enum class Key : unsigned char {
    kText,          // by text alone (blocked names); class_id is the latest one seen
    kClassAndText,  // by (class id, text) (deciding rules)
  };

  explicit TopTable(Key key = Key::kText);

  // Counts one occurrence of `text` (cut to kMaxText bytes) under `class_id`.
  void Add(std::string_view text, std::uint16_t class_id);

  struct Entry {
    std::string_view text;  // into the table: valid while it is unchanged
    std::uint16_t class_id = 0;
    std::uint64_t count = 0;  // upper bound of the true count
    std::uint64_t error = 0;  // count - error is a lower bound
  };
  std::size_t size() const { return used_; }
  // The i-th used slot (i < size()), in no particular order.
  Entry entry(std::size_t i) const;
  // Every occurrence counted, in or out of the table now.
  std::uint64_t total() const { return total_; }
  // The lowest count in a full table (the most any count may overestimate), else 0.
  std::uint64_t min_count() const;
  Key key() const { return key_; }

 private:
  static constexpr std::size_t kIndexSlots = 4 * kSlots;  // load <= 1/4: probes mostly end at once
  static constexpr std::size_t kIndexMask = kIndexSlots - 1;
  static_assert((kIndexSlots & kIndexMask) == 0, "index size must be a power of two");
  static_assert(kIndexSlots <= (1u << 24), "an index entry's 24 hash bits hold its home");
  static_assert(kSlots < 256, "slots and heap places are bytes; slot 255 could look like kEmpty");

  static constexpr std::uint32_t kEmpty = 0xFFFFFFFF;

  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t error = 0;
    std::uint16_t class_id = 0;
    std::uint8_t len = 0;
    char text[kMaxText] = {};
  };

  std::uint64_t Hash(std::string_view text, std::uint16_t class_id) const;
  bool Matches(const Slot& s, std::uint64_t hash, std::string_view text,
               std::uint16_t class_id) const;
  // An index entry: the hash's low 24 bits (its home position and a tag),
  // then the slot number; probes and deletions need not touch the slots.
  static std::uint32_t IndexEntry(std::uint64_t hash, std::uint8_t slot) {
    return static_cast<std::uint32_t>(hash & 0xFFFFFF) << 8 | slot;
  }
  void IndexInsert(std::uint64_t hash, std::uint8_t slot);
  void IndexErase(std::uint64_t hash, std::uint8_t slot);
  void SiftUp(std::size_t pos);
  void SiftDown(std::size_t pos);
  std::uint64_t count(std::uint8_t slot) const { return heap_[heap_pos_[slot]] >> 8; }

  Key key_;
  std::uint16_t used_ = 0;
  std::uint64_t total_ = 0;
  std::array<std::uint32_t, kIndexSlots> index_;  // IndexEntry, or kEmpty
  // A min-heap by count of count << 8 | slot: sifting compares plain integers
  // in one 1 KiB array. heap_[used_] (and past it) hold kNoChild, so SiftDown
  // picks the smaller child without a branch.
  static constexpr std::uint64_t kNoChild = ~std::uint64_t{0};
  std::array<std::uint64_t, kSlots + 1> heap_;
  std::array<std::uint8_t, kSlots> heap_pos_;  // slot number -> its place in heap_
  std::array<Slot, kSlots> slots_;
};

static_assert(std::is_trivially_copyable_v<TopTable>, "workers publish copies of their tables");

// What a worker publishes for readers about once a second: copies of its two tables.
struct WorkerTops {
  TopTable names{TopTable::Key::kText};
  TopTable rules{TopTable::Key::kClassAndText};
};

// Merges tables of the same Key (one per worker): sums each key's counts, and
// returns the `n` largest, most first (ties by text, then class id). Allocates:
// for readers, not the query path.
std::vector<DnsCounters::TopEntry> MergeTop(std::span<const TopTable* const> tables,
                                            std::size_t n);

}  // namespace saring::dns

#endif  // SARING_DNS_TOP_NAMES_H_
