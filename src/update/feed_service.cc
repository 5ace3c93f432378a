#include "saring/feed_service.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "saring/engine.h"
#include "update/fetch.h"

namespace saring {

namespace fs = std::filesystem;

namespace {

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Run keys sort newest first: the feed name, then the inverted id in hex.
std::string RunKey(const std::string& feed, std::uint64_t id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(~id));
  return feed + "/" + hex;
}

bool GoodVerdict(std::string_view v) {
  return v == "applied" || v == "unchanged" || v == "not-modified";
}

// What the first bytes of a download say it is, if not a list: markup pages
// (an error page, a login portal, a "site blocked" notice) are the usual
// impostor. Adblock lists open with a "[Adblock Plus 2.0]" header, so for
// them a leading '[' is no sign of JSON (JSON junk still fails the junk check).
std::string SniffNotAList(const std::string& path, const std::string& content_type, FeedFormat format) {
  if (content_type.find("text/html") != std::string::npos) return "the server sent an HTML page";
  std::ifstream in(path, std::ios::binary);
  char head[1024];
  in.read(head, sizeof head);
  std::string_view text(head, static_cast<std::size_t>(in.gcount()));
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  if (text[first] == '<') return "the download is markup (HTML/XML), not a list";
  if (text[first] == '{' || (text[first] == '[' && format != FeedFormat::kAdblock)) {
    return "the download is JSON, not a list";
  }
  return "";
}

}  // namespace

struct FeedService::Rep {
  Engine* engine;
  FeedServiceOptions options;
  std::mutex run_mu;  // one run (or removal) at a time
  std::uint64_t last_run_id = 0;

  std::mutex sched_mu;
  std::condition_variable sched_cv;
  bool stopping = false;
  std::atomic<bool> cancel{false};
  std::thread scheduler;

  Store& store() const { return engine->store(); }

  Status Load(const std::string& name, FeedSource* feed) {
    std::string text;
    Status st = store().GetRecord(RecordTable::kFeeds, name, &text);
    if (st.IsNotFound()) return Status::NotFound("no feed '" + name + "'");
    SARING_RETURN_IF_ERROR(st);
    if (!FeedSourceFromJson(text, feed)) return Status::Corruption("feed record '" + name + "' is unreadable");
    return Status::OK();
  }

  // Run records beyond the newest keep_runs are erased with the next write.
  void AddPruning(const std::string& feed, std::vector<RecordWrite>* writes) {
    std::vector<std::pair<std::string, std::string>> old;
    std::string prefix = feed + "/";
    if (!store().ListRecords(RecordTable::kFeedRuns, prefix, "", options.keep_runs + 64, &old).ok()) return;
    for (std::size_t i = options.keep_runs; i < old.size(); ++i) {
      writes->push_back({RecordTable::kFeedRuns, old[i].first, "", true});
    }
  }

  std::string DownloadPath(const std::string& name) const {
    std::string dir = options.work_dir.empty() ? store().dir() : options.work_dir;
    return dir + "/feed-" + name + ".download";
  }

  Status RunLocked(FeedSource feed, const SyncOptions& sync, FeedRun* run);
  void SchedulerLoop();
};

Status FeedService::Rep::RunLocked(FeedSource feed, const SyncOptions& sync, FeedRun* run) {
  auto started = std::chrono::steady_clock::now();
  *run = FeedRun{};
  run->feed = feed.name;
  run->id = last_run_id = std::max<std::uint64_t>(static_cast<std::uint64_t>(NowMs()), last_run_id + 1);
  run->trigger = sync.trigger;
  run->by = sync.by;
  run->forced = sync.force;
  run->started_at = Now();
  std::string run_key = RunKey(feed.name, run->id);
  {
    RecordWrite w{RecordTable::kFeedRuns, run_key, FeedRunToJson(*run)};
    SARING_RETURN_IF_ERROR(store().WriteRecords({&w, 1}, "", "", ChangeContext{}));
  }

  update::FetchOptions fetch;
  fetch.url = feed.url;
  if (!sync.force) {
    fetch.etag = feed.etag;
    fetch.last_modified = feed.last_modified;
  }
  fetch.ca_file = options.ca_file;
  fetch.connect_timeout_ms = options.connect_timeout_ms;
  fetch.total_timeout_ms = options.total_timeout_ms;
  fetch.stall_timeout_ms = options.stall_timeout_ms;
  fetch.max_bytes = options.max_bytes;
  fetch.attempts = options.attempts;
  fetch.backoff_ms = options.backoff_ms;
  fetch.cancelled = [this] { return cancel.load(); };
  std::string path = DownloadPath(feed.name);
  update::FetchResult fetched;
  Status st = update::Fetch(fetch, path, &fetched);
  run->http_status = fetched.http_status;
  run->bytes = fetched.bytes;
  run->attempts = fetched.attempts;

  feed.last_run_at = run->started_at;
  ChangeContext ctx;
  ctx.by = sync.by;
  ImportResult imported;
  bool committed = false;
  if (!st.ok()) {
    run->verdict = "failed";
    run->error = st.message();
  } else if (fetched.not_modified) {
    run->verdict = "not-modified";
  } else if (fetched.bytes == 0) {
    run->verdict = "rejected";
    run->error = "the download is empty";
  } else if (std::string why = SniffNotAList(path, fetched.content_type, feed.format); !why.empty()) {
    run->verdict = "rejected";
    run->error = why;
  } else {
    ImportRequest request;
    request.options.source = feed.name;
    request.options.category = feed.category;
    request.options.max_shrink = feed.max_shrink;
    request.options.max_rejected = feed.max_rejected;
    request.options.refuse_empty = true;
    request.options.force = sync.force;
    request.format = feed.format;
    request.action = feed.action;
    // The feed's new state and the run's "applied" commit with the import.
    FeedSource next = feed;
    next.etag = fetched.etag;
    next.last_modified = fetched.last_modified;
    next.last_good_at = Now();
    next.failures = 0;
    next.last_verdict = "applied";
    FeedRun applied = *run;
    applied.verdict = "applied";
    ctx.records = {{RecordTable::kFeeds, feed.name, FeedSourceToJson(next)},
                   {RecordTable::kFeedRuns, run_key, FeedRunToJson(applied)}};
    std::ifstream in(path, std::ios::binary);
    st = in ? engine->Import(request, in, ctx, &imported)
            : Status::IOError("cannot read the download '" + path + "'");
    run->lines = imported.parse.lines;
    run->accepted = imported.parse.entries;
    run->rejected = imported.parse.rejected;
    run->rules_before = imported.store.before;
    run->rules_after = imported.store.after;
    if (st.ok() || imported.store.applied) {
      committed = true;
      feed = next;
      run->added = imported.store.added;
      run->removed = imported.store.removed;
      run->changed = imported.store.changed;
      run->serial = imported.store.serial;
      run->verdict = imported.store.added + imported.store.removed + imported.store.changed ? "applied" : "unchanged";
      if (!st.ok()) run->error = "applied, but the snapshot was not refreshed: " + st.message();
    } else {
      run->verdict = st.IsFailedPrecondition() || st.IsInvalidArgument() ? "rejected" : "failed";
      run->error = st.message();
    }
  }
  std::error_code ec;
  fs::remove(path, ec);

  if (!committed) {
    if (GoodVerdict(run->verdict)) {
      feed.failures = 0;
      feed.last_good_at = Now();
    } else {
      ++feed.failures;
    }
  }
  feed.last_verdict = run->verdict;
  run->ended_at = Now();
  run->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<RecordWrite> writes = {{RecordTable::kFeeds, feed.name, FeedSourceToJson(feed)},
                                     {RecordTable::kFeedRuns, run_key, FeedRunToJson(*run)}};
  AddPruning(feed.name, &writes);
  spdlog::log(GoodVerdict(run->verdict) ? spdlog::level::info : spdlog::level::warn,
      "feed {}: {} in {:.1f} s ({} bytes, http {}, {} accepted, {} rejected lines, +{} -{} ~{}){}{}", feed.name,
      run->verdict, run->seconds, run->bytes, run->http_status, run->accepted, run->rejected, run->added,
      run->removed, run->changed, run->error.empty() ? "" : ": ", run->error);
  return store().WriteRecords(writes, "", "", ChangeContext{});
}

void FeedService::Rep::SchedulerLoop() {
  // Downloads and imports are maintenance: DNS workers come first.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  std::mt19937_64 rng(std::random_device{}());
  std::unique_lock lock(sched_mu);
  while (!stopping) {
    std::vector<std::pair<std::string, std::string>> stored;
    std::int64_t now = Now();
    std::int64_t next_wake = now + 60;  // feeds added meanwhile wake us earlier
    std::string due;
    if (store().ListRecords(RecordTable::kFeeds, "", "", 100000, &stored).ok()) {
      for (const auto& [name, text] : stored) {
        FeedSource f;
        if (!FeedSourceFromJson(text, &f) || !f.enabled) continue;
        std::int64_t wait = f.every_s;
        if (f.failures > 0) {
          // Failed runs come back sooner, backing off: 5 min, 10, 20... up to the interval.
          std::int64_t backoff = static_cast<std::int64_t>(options.retry_after_failure_s)
                                 << std::min(f.failures - 1, 20);
          wait = std::min(wait, backoff);
        }
        std::int64_t at = f.last_run_at == 0 ? now : f.last_run_at + wait;
        if (at <= now && due.empty()) due = name;
        next_wake = std::min(next_wake, at);
      }
    }
    if (!due.empty()) {
      lock.unlock();
      FeedRun run;
      FeedSource feed;
      Status st;
      {
        std::lock_guard run_lock(run_mu);
        st = Load(due, &feed);
        if (st.ok()) st = RunLocked(feed, {false, "schedule", "scheduler"}, &run);
      }
      lock.lock();
      if (!st.ok()) {
        // The run could not even be recorded (the store failed): do not spin on it.
        spdlog::error("feed {}: {}", due, st.ToString());
        sched_cv.wait_for(lock, std::chrono::seconds(30), [this] { return stopping; });
      }
      continue;
    }
    std::uniform_int_distribution<int> jitter(0, 999);
    sched_cv.wait_until(lock, std::chrono::system_clock::from_time_t(std::max(next_wake, now + 1)) +
                                  std::chrono::milliseconds(jitter(rng)));
  }
}

FeedService::FeedService(Engine* engine, FeedServiceOptions options) : rep_(std::make_unique<Rep>()) {
  rep_->engine = engine;
  rep_->options = std::move(options);
}

FeedService::~FeedService() { Stop(); }

Status FeedService::Add(FeedSource feed, const ChangeContext& ctx) {
  SARING_RETURN_IF_ERROR(ValidateFeedSource(feed));
  std::lock_guard lock(rep_->run_mu);
  FeedSource existing;
  if (rep_->Load(feed.name, &existing).ok()) {
    return Status::AlreadyExists("feed '" + feed.name + "' exists (remove it first to change it)");
  }
  feed.created_at = ctx.now ? ctx.now : Now();
  feed.created_by = ctx.by;
  feed.etag.clear();
  feed.last_modified.clear();
  feed.last_run_at = feed.last_good_at = 0;
  feed.failures = 0;
  feed.last_verdict.clear();
  std::string text = FeedSourceToJson(feed);
  RecordWrite w{RecordTable::kFeeds, feed.name, text};
  SARING_RETURN_IF_ERROR(rep_->store().WriteRecords({&w, 1}, "feed.add", text, ctx));
  rep_->sched_cv.notify_all();
  return Status::OK();
}

Status FeedService::Remove(const std::string& name, bool purge, const ChangeContext& ctx) {
  std::lock_guard lock(rep_->run_mu);
  FeedSource feed;
  SARING_RETURN_IF_ERROR(rep_->Load(name, &feed));
  ChangeContext with = ctx;
  with.records.push_back({RecordTable::kFeeds, name, "", true});
  if (purge) {
    // The rules leave with the definition, in one commit (an import of nothing).
    ImportRequest request;
    request.options.source = name;
    request.options.category = feed.category;
    request.options.force = true;
    std::istringstream nothing;
    ImportResult result;
    SARING_RETURN_IF_ERROR(rep_->engine->Import(request, nothing, with, &result));
    with.records.clear();
  }
  return rep_->store().WriteRecords(with.records, "feed.remove", FeedSourceToJson(feed), ctx);
}

Status FeedService::Get(const std::string& name, FeedSource* feed) const { return rep_->Load(name, feed); }

Status FeedService::List(std::vector<FeedSource>* feeds) const {
  feeds->clear();
  std::vector<std::pair<std::string, std::string>> stored;
  SARING_RETURN_IF_ERROR(rep_->store().ListRecords(RecordTable::kFeeds, "", "", 100000, &stored));
  for (const auto& [name, text] : stored) {
    FeedSource f;
    if (!FeedSourceFromJson(text, &f)) return Status::Corruption("feed record '" + name + "' is unreadable");
    feeds->push_back(std::move(f));
  }
  return Status::OK();
}

Status FeedService::Runs(const std::string& name, std::size_t limit, std::vector<FeedRun>* runs) const {
  runs->clear();
  std::vector<std::pair<std::string, std::string>> stored;
  SARING_RETURN_IF_ERROR(rep_->store().ListRecords(RecordTable::kFeedRuns, name + "/", "", limit, &stored));
  for (const auto& [key, text] : stored) {
    FeedRun r;
    if (!FeedRunFromJson(text, &r)) return Status::Corruption("feed run record '" + key + "' is unreadable");
    runs->push_back(std::move(r));
  }
  return Status::OK();
}

Status FeedService::Sync(const std::string& name, const SyncOptions& options, FeedRun* run) {
  std::lock_guard lock(rep_->run_mu);
  FeedSource feed;
  SARING_RETURN_IF_ERROR(rep_->Load(name, &feed));
  return rep_->RunLocked(std::move(feed), options, run);
}

Status FeedService::RecoverInterrupted() {
  std::lock_guard lock(rep_->run_mu);
  std::vector<std::pair<std::string, std::string>> stored;
  SARING_RETURN_IF_ERROR(rep_->store().ListRecords(RecordTable::kFeedRuns, "", "", 1000000, &stored));
  std::vector<RecordWrite> writes;
  for (const auto& [key, text] : stored) {
    FeedRun r;
    if (!FeedRunFromJson(text, &r) || r.ended_at != 0) continue;
    if (r.verdict == "running") {
      r.verdict = "interrupted";
      r.error = "saringd stopped during the run before anything was applied; the previous set stayed in force";
    } else {
      // The record committed with the import was written before its counts
      // were known: take what the source holds now.
      SourceInfo source;
      if (rep_->store().GetSource(r.feed, &source).ok()) r.rules_after = source.total();
      r.error = "saringd stopped after the import was committed (" + r.verdict +
                "), before the run was closed; its counts are unknown";
    }
    r.ended_at = Now();
    writes.push_back({RecordTable::kFeedRuns, key, FeedRunToJson(r)});
    spdlog::warn("feed {}: run {} {}", r.feed, r.id, r.error);
  }
  // Downloads a crash left behind (each run removes its own when it ends).
  std::error_code ec;
  std::string dir = rep_->options.work_dir.empty() ? rep_->store().dir() : rep_->options.work_dir;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string file = entry.path().filename().string();
    if (file.starts_with("feed-") && (file.ends_with(".download") || file.ends_with(".download.part"))) {
      fs::remove(entry.path(), ec);
    }
  }
  if (writes.empty()) return Status::OK();
  return rep_->store().WriteRecords(writes, "", "", ChangeContext{});
}

void FeedService::StartScheduler() {
  std::lock_guard lock(rep_->sched_mu);
  if (rep_->scheduler.joinable()) return;
  rep_->stopping = false;
  rep_->cancel = false;
  rep_->scheduler = std::thread([this] { rep_->SchedulerLoop(); });
}

void FeedService::Stop() {
  {
    std::lock_guard lock(rep_->sched_mu);
    rep_->stopping = true;
    rep_->cancel = true;
  }
  rep_->sched_cv.notify_all();
  if (rep_->scheduler.joinable()) rep_->scheduler.join();
}

}  // namespace saring
