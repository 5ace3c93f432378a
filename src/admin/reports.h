// Reports: "this site is wrongly blocked" messages that the block page posts
// to the public report endpoint. Editors list them and either release the
// name (an allow rule, committed with the report's new state and linked to it
// in the audit log) or dismiss them. Reports hold no client address.
#ifndef SARING_ADMIN_REPORTS_H_
#define SARING_ADMIN_REPORTS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "saring/status.h"
#include "saring/store.h"

namespace saring {
class Engine;
}

namespace saring::admin {

struct Report {
  std::uint64_t id = 0;
  std::string name;       // the blocked host name, normalized
  std::string url;        // the page, if the reporter gave it (up to 2 KiB)
  std::string message;    // why the reporter thinks it is wrong (up to 1 KiB)
  std::string reference;  // the block page's reference code, if any
  std::string verdict;    // what the snapshot said when filed: "block by city (gambling): slot88.com"
  std::int64_t created_at = 0;
  std::string state = "open";  // open | released | dismissed
  std::string resolved_by, resolution_note;
  std::int64_t resolved_at = 0;
};

std::string ReportToJson(const Report& report);

// Files, lists and resolves reports. Any thread; filing is serialized to
// number reports densely.
class ReportDesk {
 public:
  explicit ReportDesk(Engine* engine) : engine_(engine) {}

  // Validates (name must be a host name; texts bounded), numbers and stores
  // `report` (bookkeeping: no serial, no audit).
  Status File(Report* report);
  // Newest first; `state` "" = any; ids below `before` (0 = from the newest).
  Status List(std::string_view state, std::uint64_t before, std::size_t limit, std::vector<Report>* out) const;
  Status Get(std::uint64_t id, Report* report) const;
  // release: adds an allow rule for the report's name to `source` (with the
  // report's state in the same commit, audit linked "report/ID"); else dismisses.
  Status Resolve(std::uint64_t id, bool release, std::string_view source, std::string_view note,
                 const ChangeContext& ctx, Report* report);

 private:
  Engine* engine_;
  std::mutex file_mu_;
  std::uint64_t last_id_ = 0;  // 0 = not yet read from the store
};

}  // namespace saring::admin

#endif  // SARING_ADMIN_REPORTS_H_
