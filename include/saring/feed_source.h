// FeedSource and FeedRun: a feed's definition (where a list comes from and
// what it becomes) and the record of one run of it, as plain values. The
// store keeps both (see FeedService); the config file may seed definitions.
#ifndef SARING_FEED_SOURCE_H_
#define SARING_FEED_SOURCE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "saring/feed_format.h"
#include "saring/rule.h"
#include "saring/status.h"

namespace saring {

// One feed: where its list comes from and what it becomes.
struct FeedSource {
  std::string name;  // also the rule source it fills
  std::string url;   // https://, http:// or file://
  FeedFormat format = FeedFormat::kPlain;
  Action action = Action::kBlock;
  std::string category{kDefaultCategory};
  std::int64_t every_s = 6 * 3600;  // refresh interval
  double max_shrink = 0.2;          // refuse a run that loses more of the source
  double max_rejected = 0.5;        // refuse a run whose lines are mostly junk
  bool enabled = true;
  std::int64_t created_at = 0;
  std::string created_by;
  // Download state, kept by the runs.
  std::string etag, last_modified;  // of the last applied download
  std::int64_t last_run_at = 0;     // start of the last run, whatever its verdict
  std::int64_t last_good_at = 0;    // end of the last run that left a good set (applied/unchanged/not-modified)
  int failures = 0;                 // runs failed or rejected in a row
  std::string last_verdict;
};

// What one run of a feed did.
struct FeedRun {
  std::string feed;
  std::uint64_t id = 0;  // start time in milliseconds, unique per feed
  std::string trigger;   // "schedule", "manual", "startup"
  std::string by;
  bool forced = false;
  std::int64_t started_at = 0, ended_at = 0;  // Unix seconds
  // running | applied | unchanged | not-modified | rejected | failed | interrupted
  std::string verdict = "running";
  std::string error;
  long http_status = 0;
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0, accepted = 0, rejected = 0;
  std::uint64_t added = 0, removed = 0, changed = 0;
  std::uint64_t rules_before = 0, rules_after = 0;
  std::uint64_t serial = 0;  // store serial after an applied run
  int attempts = 0;          // download attempts
  double seconds = 0;        // wall time of the run
};

// JSON text forms, for the API, saringctl and the store.
std::string FeedSourceToJson(const FeedSource& feed);
std::string FeedRunToJson(const FeedRun& run);
// Read back what the *ToJson functions wrote; false if it is not that.
bool FeedSourceFromJson(std::string_view json_text, FeedSource* feed);
bool FeedRunFromJson(std::string_view json_text, FeedRun* run);
// Reads a definition as an admin gives it (name, url, format, action,
// category, every, max_shrink, max_rejected, enabled); unknown keys and bad
// values are InvalidArgument.
Status FeedSourceFromRequest(std::string_view json_text, FeedSource* feed);
// "6h", "30m", "1d", "90s" -> seconds (at least 60).
Status ParseInterval(std::string_view text, std::int64_t* seconds);
// Checks name, URL scheme, category, limits.
Status ValidateFeedSource(const FeedSource& feed);

}  // namespace saring

#endif  // SARING_FEED_SOURCE_H_
