// Rule: one line of policy ("block slot88.com and its subdomains, from the
// national feed, category gambling"), as stored and as shown to admins.
//
// Plain value type; the store owns the durable copy. Any thread may use its own
// Rule objects.
#ifndef SARING_RULE_H_
#define SARING_RULE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring {

// What a rule's value is matched against.
enum class RuleKind : std::uint8_t {
  kDomain = 0,   // a normalized name: matches it and every subdomain
  kPattern = 1,  // a Hyperscan regex over the normalized host name
  kUrl = 2,      // a Hyperscan regex over the normalized URL (proxy, plain HTTP)
};

// What a matching rule does. Allow always wins over block.
enum class Action : std::uint8_t {
  kBlock = 0,
  kAllow = 1,
};

inline constexpr std::string_view kDefaultCategory = "gambling";

struct Rule {
  RuleKind kind = RuleKind::kDomain;
  Action action = Action::kBlock;
  std::string value;                          // normalized name, or regex text
  std::string source;                         // e.g. "trustpositif", "city"
  std::string category{kDefaultCategory};     // e.g. "gambling", "doh"
  std::string added_by;                       // who made the change
  std::int64_t added_at = 0;                  // Unix seconds, set by the store if 0
  std::int64_t expires_at = 0;                // Unix seconds; 0 = never
  std::string note;                           // free text, optional
};

std::string_view ToString(RuleKind kind);
std::string_view ToString(Action action);
bool ParseRuleKind(std::string_view text, RuleKind* kind);
bool ParseAction(std::string_view text, Action* action);

// Source and category names: 1..64 characters of [a-z0-9._-], starting with a
// letter or digit. They appear in keys, URLs and metric labels, hence strict.
Status ValidateSourceName(std::string_view name);
Status ValidateCategoryName(std::string_view name);

// Checks every field of `rule` and normalizes what has a normal form (domain
// values, via NormalizeDomain). Regex values are only checked for size and
// emptiness here; whether Hyperscan accepts them is checked by the matcher.
Status ValidateRule(Rule* rule);

}  // namespace saring

#endif  // SARING_RULE_H_
