// ImportSet: the new rule set of one source while it is being imported, read
// back once sorted by (kind, value) without duplicates.
//
// A national list has millions of entries, so the set keeps at most
// `memory_budget` bytes of them in memory: whenever that fills, the entries
// are sorted and written as one sorted run to an unnamed file in `spill_dir`
// (gone when the set is, even after a crash), and reading merges the runs.
// An import therefore costs a few tens of MB whatever the list's size, and an
// admin's push of a few rules never touches the disk.
//
// Single-threaded; filled by a feed parser, consumed by Store::ReplaceSource.
#ifndef SARING_IMPORT_SET_H_
#define SARING_IMPORT_SET_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "saring/rule.h"
#include "saring/status.h"

namespace saring {

class ImportSet {
 public:
  struct Entry {
    RuleKind kind;
    Action action;
    std::string_view value;  // valid until the next Next() or Rewind()
  };

  static constexpr std::size_t kDefaultMemoryBudget = std::size_t{32} << 20;
  static constexpr std::size_t kMaxValue = (1u << 13) - 1;

  // `spill_dir` "" keeps everything in memory whatever the budget.
  explicit ImportSet(std::string spill_dir = "", std::size_t memory_budget = kDefaultMemoryBudget);
  ~ImportSet();
  ImportSet(const ImportSet&) = delete;
  ImportSet& operator=(const ImportSet&) = delete;

  // InvalidArgument (nothing added) for a value over kMaxValue bytes (names
  // are at most 253, regexes 1024); IOError when a run could not be written,
  // after which the set refuses everything.
  Status Add(RuleKind kind, Action action, std::string_view value);

  // Ends adding: sorts what is in memory, drops duplicates (when one value
  // comes with both actions, allow is kept: allow always wins) and counts.
  // Reading starts at the first entry.
  Status Finish();

  // After Finish(): the distinct entries, in total and of one kind.
  std::size_t size() const { return size_; }
  std::size_t CountKind(RuleKind kind) const { return kind_counts_[static_cast<int>(kind)]; }

  // After Finish(): the next entry in (kind, value) order; false at the end
  // or on a read error (then status() says which).
  bool Next(Entry* entry);
  Status Rewind();
  const Status& status() const { return status_; }

  // Sorted runs written so far (tests and logs).
  std::size_t spilled_runs() const { return runs_.size(); }

 private:
  static constexpr int kBlockBits = 22;
  static constexpr std::size_t kBlockSize = std::size_t{1} << kBlockBits;

  // Six bytes an entry (three 16-bit fields keep the struct unpadded).
  struct Item {
    std::uint16_t position_high, position_low;  // block << kBlockBits | offset in the block
    std::uint16_t meta;  // length (13 bits) | kind (2 bits) << 13 | action (1 bit) << 15
  };
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
  std::size_t MemoryUsed() const;  // bytes of text and items held

  void SortAndDedupeMemory();
  Status Spill();

  class RunReader;
  struct RunOrder;

  std::string spill_dir_;
  std::size_t memory_budget_;
  Status status_;
  bool finished_ = false;

  // The part in memory; blocks are reused after a spill.
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t blocks_in_use_ = 0;
  std::size_t block_used_ = kBlockSize;  // the first Add opens a block
  std::deque<Item> items_;

  // The spilled part: sorted runs back to back in one unnamed file.
  int spill_fd_ = -1;
  std::uint64_t spill_end_ = 0;
  struct Run {
    std::uint64_t begin, end;
  };
  std::vector<Run> runs_;

  // Reading: one reader per run (the part in memory is the last), merged.
  std::vector<std::unique_ptr<RunReader>> readers_;
  std::vector<RunReader*> heap_;
  std::string current_;
  std::size_t size_ = 0;
  std::size_t kind_counts_[3] = {0, 0, 0};
};

}  // namespace saring

#endif  // SARING_IMPORT_SET_H_
