// Verdict: what the published snapshot decided about one name or URL, and
// which rule decided it.
//
// The string views point into the name that was checked (for domain rules, the
// matching suffix of it) or into the Snapshot (pattern text, source and
// category names). They stay valid while the caller holds both.
#ifndef SARING_VERDICT_H_
#define SARING_VERDICT_H_

#include <cstdint>
#include <string_view>

#include "saring/rule.h"

namespace saring {

enum class Decision : unsigned char {
  kPass = 0,  // no rule matched
  kBlock = 1,
  kAllow = 2,  // an allow rule matched (and wins over any block rule)
};

std::string_view ToString(Decision decision);

struct Verdict {
  Decision decision = Decision::kPass;
  RuleKind kind = RuleKind::kDomain;  // kind of the deciding rule
  std::string_view rule;              // its value: the matched domain or the regex
  std::string_view source;
  std::string_view category;
  std::uint16_t class_id = 0;  // the deciding rule's (source, category, action) class; see store.h

  bool blocked() const { return decision == Decision::kBlock; }
};

}  // namespace saring

#endif  // SARING_VERDICT_H_
