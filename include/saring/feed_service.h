// FeedService: the lists saring downloads on a schedule (the national
// TrustPositif feed, community lists), each filling one rule source.
//
// Feed definitions, their download state (ETag, Last-Modified) and the
// history of their runs live in the store, so admins change them at run time
// and a restart knows what happened. A run downloads to a file beside the
// store, validates it (not empty, not HTML, not mostly junk, not shrinking
// the source beyond its limit) and imports it through the Engine; anything
// that fails leaves the last good set in force. The run record that says
// "applied" is committed together with the import, so after a crash the
// history and the rules agree.
//
// Thread safety: any thread may call any method. Runs are serialized (one at
// a time per process); the scheduler thread and manual syncs share that turn.
#ifndef SARING_FEED_SERVICE_H_
#define SARING_FEED_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "saring/feed_source.h"
#include "saring/status.h"
#include "saring/store.h"

namespace saring {

class Engine;

struct FeedServiceOptions {
  std::string work_dir;      // downloads go here ("" = the store's folder)
  std::string ca_file;       // CA bundle for https feeds ("" = the system's)
  int connect_timeout_ms = 10000;
  int total_timeout_ms = 15 * 60 * 1000;
  int stall_timeout_ms = 60000;
  std::uint64_t max_bytes = 1ull << 30;
  int attempts = 3;
  int backoff_ms = 2000;
  std::size_t keep_runs = 100;   // run records kept per feed
  int retry_after_failure_s = 300;  // first retry of a failed feed; doubles up to its interval
};

struct SyncOptions {
  bool force = false;  // ignore the shrink and junk limits and the ETag
  std::string trigger = "manual";
  std::string by = "system";
};

class FeedService {
 public:
  FeedService(Engine* engine, FeedServiceOptions options);
  ~FeedService();  // stops the scheduler
  FeedService(const FeedService&) = delete;
  FeedService& operator=(const FeedService&) = delete;

  Status Add(FeedSource feed, const ChangeContext& ctx);  // AlreadyExists if the name is taken
  // Removes the definition; with `purge` its rules too (in the same commit).
  Status Remove(const std::string& name, bool purge, const ChangeContext& ctx);
  Status Get(const std::string& name, FeedSource* feed) const;
  Status List(std::vector<FeedSource>* feeds) const;
  // Newest first, at most `limit`.
  Status Runs(const std::string& name, std::size_t limit, std::vector<FeedRun>* runs) const;

  // Runs a feed now, in the calling thread (waiting for a run in progress).
  // OK when the run ended as it should, including a rejected download (then
  // `run->verdict` says why); an error only when the run could not be made.
  Status Sync(const std::string& name, const SyncOptions& options, FeedRun* run);

  // Marks runs a crash left "running" as "interrupted", saying whether their
  // import had been committed. saringd calls this once before scheduling.
  Status RecoverInterrupted();

  // Starts a thread that runs each enabled feed when it is due (its interval
  // after the last run; sooner retries after a failure). Stop() ends it,
  // cancelling a download in progress.
  void StartScheduler();
  void Stop();

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring

#endif  // SARING_FEED_SERVICE_H_
