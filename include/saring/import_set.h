// ImportSet: the new rule set of one source while it is being imported:
// millions of entries held compactly (their text in 4 MiB blocks plus 6 bytes
// of bookkeeping each), so a 5M-line national list costs about 120 MB, and
// growing it never copies what it already holds (a doubling buffer would
// briefly hold the list twice).
//
// Single-threaded; filled by a feed parser, consumed by Store::ReplaceSource.
#ifndef SARING_IMPORT_SET_H_
#define SARING_IMPORT_SET_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <vector>

#include "saring/rule.h"

namespace saring {

class ImportSet {
 public:
  struct Entry {
    RuleKind kind;
    Action action;
    std::string_view value;
  };

  // False (and nothing added) for a value over 8191 bytes; rules are far
  // shorter (names 253, regexes 1024).
  bool Add(RuleKind kind, Action action, std::string_view value);

  // Sorts by (kind, value) (the store's key order) and drops duplicates; when
  // one value comes with both actions, allow is kept (allow always wins).
  void SortAndDedupe();

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Entry at(std::size_t i) const;
  std::size_t CountKind(RuleKind kind) const;

 private:
  static constexpr int kBlockBits = 22;
  static constexpr std::size_t kBlockSize = std::size_t{1} << kBlockBits;

  // Six bytes an entry (three 16-bit fields keep the struct unpadded): at 5M
  // entries every byte here is 5 MB of an import's peak.
  struct Item {
    std::uint16_t position_high, position_low;  // block << kBlockBits | offset in the block
    std::uint16_t meta;  // length (13 bits) | kind (2 bits) << 13 | action (1 bit) << 15
  };
  static constexpr std::size_t kMaxValue = (1u << 13) - 1;
  static std::uint32_t PositionOf(const Item& i) {
    return (std::uint32_t{i.position_high} << 16) | i.position_low;
  }
  static std::size_t LengthOf(const Item& i) { return i.meta & kMaxValue; }
  static std::uint8_t KindOf(const Item& i) { return (i.meta >> 13) & 3; }
  static std::uint8_t ActionOf(const Item& i) { return i.meta >> 15; }
  std::string_view ValueOf(const Item& item) const {
    std::uint32_t position = PositionOf(item);
    return {blocks_[position >> kBlockBits].get() + (position & (kBlockSize - 1)), LengthOf(item)};
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t block_used_ = kBlockSize;  // the first Add opens a block
  std::deque<Item> items_;
  bool sorted_ = true;
};

}  // namespace saring

#endif  // SARING_IMPORT_SET_H_
