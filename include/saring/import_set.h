// ImportSet: the new rule set of one source while it is being imported: millions
// of entries held compactly (one text arena plus 8 bytes of bookkeeping each), so a
// 5M-line national list costs about 150 MB at the peak, not gigabytes.
//
// Single-threaded; filled by a feed parser, consumed by Store::ReplaceSource.
#ifndef SARING_IMPORT_SET_H_
#define SARING_IMPORT_SET_H_

#include <cstddef>
#include <cstdint>
#include <string>
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

  void Add(RuleKind kind, Action action, std::string_view value);
  void Reserve(std::size_t entries, std::size_t text_bytes);

  // Sorts by (kind, value) (the store's key order) and drops duplicates; when
  // one value comes with both actions, allow is kept (allow always wins).
  void SortAndDedupe();
  bool sorted() const { return sorted_; }

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Entry at(std::size_t i) const;
  std::size_t CountKind(RuleKind kind) const;

 private:
  struct Item {
    std::uint32_t offset;
    std::uint8_t length;
    std::uint8_t kind;
    std::uint8_t action;
    std::uint8_t long_length_high;  // regexes may exceed 255 bytes
  };
  std::size_t LengthOf(const Item& item) const {
    return item.length | (std::size_t{item.long_length_high} << 8);
  }

  std::string text_;
  std::vector<Item> items_;
  bool sorted_ = true;
};

}  // namespace saring

#endif  // SARING_IMPORT_SET_H_
