// The JSON shapes that saringctl and the admin API share, so a rule or a
// time reads the same in `saringctl ... --json` and over /v1/.
#ifndef SARING_ADMIN_JSON_FORMS_H_
#define SARING_ADMIN_JSON_FORMS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "saring/rule.h"

namespace saring::admin {

// "2026-11-29T15:00:00Z" (UTC); "" for 0 (never / unknown).
std::string IsoTime(std::int64_t unix_seconds);
// kind, action, value, source, category, by, added_at, expires_at?, note?
nlohmann::json RuleJson(const Rule& rule);

}  // namespace saring::admin

#endif  // SARING_ADMIN_JSON_FORMS_H_
