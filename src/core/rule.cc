#include "saring/rule.h"

#include "saring/name.h"
#include "saring/verdict.h"

namespace saring {
namespace {

Status ValidateToken(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument(std::string(what) + " must be 1 to 64 characters");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.'))) {
      return Status::InvalidArgument(std::string(what) + " '" + std::string(name) +
                                     "' may hold only a-z, 0-9, '.', '_' and '-' "
                                     "and must start with a letter or digit");
    }
  }
  return Status::OK();
}

// Regexes are compiled later (Hyperscan); this only bounds what reaches it.
constexpr std::size_t kMaxRegexLength = 1024;
constexpr std::size_t kMaxNoteLength = 1024;
constexpr std::size_t kMaxByLength = 128;

}  // namespace

std::string_view ToString(RuleKind kind) {
  switch (kind) {
    case RuleKind::kDomain: return "domain";
    case RuleKind::kPattern: return "pattern";
    case RuleKind::kUrl: return "url";
  }
  return "?";
}

std::string_view ToString(Action action) {
  return action == Action::kAllow ? "allow" : "block";
}

std::string_view ToString(Decision decision) {
  switch (decision) {
    case Decision::kPass: return "pass";
    case Decision::kBlock: return "block";
    case Decision::kAllow: return "allow";
  }
  return "?";
}

bool ParseRuleKind(std::string_view text, RuleKind* kind) {
  if (text == "domain") *kind = RuleKind::kDomain;
  else if (text == "pattern") *kind = RuleKind::kPattern;
  else if (text == "url") *kind = RuleKind::kUrl;
  else return false;
  return true;
}

bool ParseAction(std::string_view text, Action* action) {
  if (text == "block") *action = Action::kBlock;
  else if (text == "allow") *action = Action::kAllow;
  else return false;
  return true;
}

Status ValidateSourceName(std::string_view name) { return ValidateToken("source", name); }
Status ValidateCategoryName(std::string_view name) { return ValidateToken("category", name); }

Status ValidateRule(Rule* rule) {
  SARING_RETURN_IF_ERROR(ValidateSourceName(rule->source));
  SARING_RETURN_IF_ERROR(ValidateCategoryName(rule->category));
  if (rule->added_by.size() > kMaxByLength) {
    return Status::InvalidArgument("'by' longer than 128 characters");
  }
  if (rule->note.size() > kMaxNoteLength) {
    return Status::InvalidArgument("note longer than 1024 characters");
  }
  if (rule->expires_at < 0) return Status::InvalidArgument("negative expiry time");
  switch (rule->kind) {
    case RuleKind::kDomain: {
      std::string normalized;
      Status st = NormalizeDomain(rule->value, &normalized);
      if (!st.ok()) return st.WithContext("domain '" + rule->value + "'");
      rule->value = std::move(normalized);
      return Status::OK();
    }
    case RuleKind::kPattern:
    case RuleKind::kUrl:
      if (rule->value.empty()) return Status::InvalidArgument("empty regex");
      if (rule->value.size() > kMaxRegexLength) {
        return Status::InvalidArgument("regex longer than 1024 characters");
      }
      for (char c : rule->value) {
        if (c == '\n' || c == '\r' || c == '\0') {
          return Status::InvalidArgument("regex holds a line break or NUL");
        }
      }
      return Status::OK();
  }
  return Status::InvalidArgument("unknown rule kind");
}

}  // namespace saring
