#include "admin/json_forms.h"

#include <ctime>

namespace saring::admin {

std::string IsoTime(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "";
  std::time_t tt = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json RuleJson(const Rule& r) {
  nlohmann::json j = {{"kind", ToString(r.kind)}, {"action", ToString(r.action)}, {"value", r.value},
                      {"source", r.source},       {"category", r.category},       {"by", r.added_by},
                      {"added_at", IsoTime(r.added_at)}};
  if (r.expires_at) j["expires_at"] = IsoTime(r.expires_at);
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

}  // namespace saring::admin
