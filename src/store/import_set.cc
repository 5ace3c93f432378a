#include "saring/import_set.h"

#include <algorithm>
#include <cstring>

namespace saring {

bool ImportSet::Add(RuleKind kind, Action action, std::string_view value) {
  if (value.size() > kMaxValue) return false;
  if (block_used_ + value.size() > kBlockSize) {
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlockSize));
    block_used_ = 0;
  }
  std::memcpy(blocks_.back().get() + block_used_, value.data(), value.size());
  auto position = static_cast<std::uint32_t>(((blocks_.size() - 1) << kBlockBits) | block_used_);
  block_used_ += value.size();
  items_.push_back({static_cast<std::uint16_t>(position >> 16), static_cast<std::uint16_t>(position),
                    static_cast<std::uint16_t>(value.size() | static_cast<unsigned>(kind) << 13 |
                                               static_cast<unsigned>(action) << 15)});
  sorted_ = false;
  return true;
}

ImportSet::Entry ImportSet::at(std::size_t i) const {
  const Item& item = items_[i];
  return {static_cast<RuleKind>(KindOf(item)), static_cast<Action>(ActionOf(item)), ValueOf(item)};
}

std::size_t ImportSet::CountKind(RuleKind kind) const {
  return std::count_if(items_.begin(), items_.end(),
                       [kind](const Item& i) { return KindOf(i) == static_cast<std::uint8_t>(kind); });
}

void ImportSet::SortAndDedupe() {
  if (sorted_) return;
  // Equal (kind, value) sort with allow first, so the kept first copy is allow.
  std::sort(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    if (KindOf(a) != KindOf(b)) return KindOf(a) < KindOf(b);
    int c = ValueOf(a).compare(ValueOf(b));
    if (c != 0) return c < 0;
    return ActionOf(a) > ActionOf(b);
  });
  auto last = std::unique(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    return KindOf(a) == KindOf(b) && ValueOf(a) == ValueOf(b);
  });
  items_.erase(last, items_.end());
  sorted_ = true;
}

}  // namespace saring
