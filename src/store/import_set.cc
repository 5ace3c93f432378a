#include "saring/import_set.h"

#include <algorithm>
#include <cassert>

namespace saring {

void ImportSet::Reserve(std::size_t entries, std::size_t text_bytes) {
  items_.reserve(entries);
  text_.reserve(text_bytes);
}

void ImportSet::Add(RuleKind kind, Action action, std::string_view value) {
  assert(value.size() < (1u << 16));
  Item item{static_cast<std::uint32_t>(text_.size()), static_cast<std::uint8_t>(value.size()),
            static_cast<std::uint8_t>(kind), static_cast<std::uint8_t>(action),
            static_cast<std::uint8_t>(value.size() >> 8)};
  text_.append(value);
  items_.push_back(item);
  sorted_ = false;
}

ImportSet::Entry ImportSet::at(std::size_t i) const {
  const Item& item = items_[i];
  return {static_cast<RuleKind>(item.kind), static_cast<Action>(item.action),
          std::string_view(text_).substr(item.offset, LengthOf(item))};
}

std::size_t ImportSet::CountKind(RuleKind kind) const {
  return std::count_if(items_.begin(), items_.end(),
                       [kind](const Item& i) { return i.kind == static_cast<std::uint8_t>(kind); });
}

void ImportSet::SortAndDedupe() {
  if (sorted_) return;
  std::string_view text(text_);
  auto value = [&](const Item& i) { return text.substr(i.offset, LengthOf(i)); };
  // Equal (kind, value) sort with allow first, so the kept first copy is allow.
  std::sort(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    int c = value(a).compare(value(b));
    if (c != 0) return c < 0;
    return a.action > b.action;
  });
  auto last = std::unique(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    return a.kind == b.kind && value(a) == value(b);
  });
  items_.erase(last, items_.end());
  sorted_ = true;
}

}  // namespace saring
