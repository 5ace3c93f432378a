#include "saring/engine.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <istream>
#include <map>
#include <mutex>
#include <thread>

#include "engine/index_builder.h"
#include "match/snapshot_parts.h"
#include "saring/import_set.h"
#include "saring/name.h"

namespace saring {
namespace {

using match::DomainIndex;

// The saved base index: one file per shard, each tagged with the store serial.
std::string ShardFileName(int k) { return "domains-" + std::to_string(k) + ".idx"; }

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool Expired(const Rule& r, std::int64_t now) { return r.expires_at != 0 && r.expires_at <= now; }

int RegexSlot(RuleKind kind) { return kind == RuleKind::kUrl ? 1 : 0; }

std::string RegexKey(std::string_view source, std::string_view value) {
  std::string key(source);
  key.push_back('\0');
  key.append(value);
  return key;
}

ClassId ClassIdOf(const std::vector<RuleClass>& classes, const Rule& r) {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const RuleClass& c = classes[i];
    if (c.source == r.source && c.category == r.category && c.action == r.action) {
      return static_cast<ClassId>(i);
    }
  }
  return DomainIndex::kTombstone;  // unreachable for a stored rule
}

// Collects a feed into an ImportSet, keeping the first rejected lines.
class ImportSink : public FeedSink {
 public:
  ImportSink(ImportSet* set, ImportResult* result) : set_(set), result_(result) {}

  void OnEntry(const FeedEntry& e) override {
    if (e.kind != RuleKind::kDomain) {
      Status st = match::PatternSet::Validate(e.value);
      if (!st.ok()) {
        Reject(e.line, st.message(), e.value);
        return;
      }
    }
    Status st = set_->Add(e.kind, e.action, e.value);
    if (st.IsInvalidArgument()) Reject(e.line, st.message(), e.value);
    else if (!st.ok() && error_.ok()) error_ = st;
  }
  void OnReject(const FeedReject& r) override { Reject(r.line, r.reason, r.text); }

  std::size_t rejected() const { return rejected_; }
  // Why the set stopped taking entries (it could not spill), if it did.
  const Status& error() const { return error_; }

 private:
  void Reject(std::size_t line, std::string_view reason, std::string_view text) {
    ++rejected_;
    if (result_->rejected.size() < ImportResult::kMaxListedRejects) {
      result_->rejected.push_back({line, std::string(reason), std::string(text.substr(0, 200))});
    }
  }

  ImportSet* set_;
  ImportResult* result_;
  std::size_t rejected_ = 0;
  Status error_;
};

}  // namespace

struct Engine::Rep {
  struct DeltaEntry {
    DomainIndex::ClassId class_id;  // kTombstone: no rule any more
    std::uint64_t serial;           // store serial of the change
  };

  EngineOptions options;
  std::unique_ptr<Store> store;
  SnapshotPublisher publisher;

  // Serializes changes, and guards the pieces the next snapshot is made of.
  std::mutex mu;
  match::DomainShards base;
  std::uint64_t base_serial = 0;
  std::map<std::string, DeltaEntry> delta;
  std::shared_ptr<const DomainIndex> delta_index;
  engine::RegexRules regex[2];  // [0] host patterns, [1] URL rules
  std::shared_ptr<const match::PatternSet> regex_set[2];
  std::shared_ptr<const std::vector<CompiledRegexRule>> regex_list[2];

  std::mutex rebuild_mu;  // one index rebuild at a time

  // Background rebuilds (saringd).
  std::mutex bg_mu;
  std::condition_variable bg_cv;
  bool bg_requested = false;
  bool bg_stopping = false;
  std::thread bg_thread;

  ~Rep() {
    if (bg_thread.joinable()) {
      {
        std::lock_guard lock(bg_mu);
        bg_stopping = true;
      }
      bg_cv.notify_all();
      bg_thread.join();
    }
  }

  std::string ShardPath(int k) const { return store->dir() + "/" + ShardFileName(k); }

  void PublishLocked() {
    auto parts = std::make_shared<Snapshot::Parts>();
    parts->serial = store->serial();
    parts->base_serial = base_serial;
    parts->classes = std::make_shared<const std::vector<RuleClass>>(store->Classes());
    parts->base = base;
    parts->delta = delta_index;
    parts->host_patterns = regex_set[0];
    parts->host_rules = regex_list[0];
    parts->url_patterns = regex_set[1];
    parts->url_rules = regex_list[1];
    publisher.Publish(std::make_shared<const Snapshot>(std::move(parts)));
    published_at_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count(),
                          std::memory_order_relaxed);
  }
  std::atomic<std::int64_t> published_at_ms{0};
  std::atomic<std::uint64_t> rebuilds{0};
  std::atomic<double> last_rebuild_s{0}, total_rebuild_s{0};

  void RebuildDeltaIndexLocked() {
    if (delta.empty()) {
      delta_index.reset();
      return;
    }
    DomainIndex::Builder builder(delta.size(), 0.5);
    for (const auto& [value, entry] : delta) builder.Add(match::HashDomain(value), entry.class_id);
    delta_index = builder.Finish();
  }

  // Re-derives the effective class of each changed domain from the store (the
  // same choice the full build makes) and records it in the delta.
  Status ApplyDomainChangesLocked(const std::vector<std::string>& values) {
    if (values.empty()) return Status::OK();
    std::vector<RuleClass> classes = store->Classes();
    std::uint64_t serial = store->serial();
    std::int64_t now = Now();
    for (const std::string& value : values) {
      std::vector<Rule> rules;
      SARING_RETURN_IF_ERROR(store->FindRules(RuleKind::kDomain, value, &rules));
      DomainIndex::ClassId effective = DomainIndex::kTombstone;
      for (const Rule& r : rules) {
        if (Expired(r, now)) continue;
        ClassId id = ClassIdOf(classes, r);
        if (effective == DomainIndex::kTombstone || engine::PreferClass(classes, id, effective)) {
          effective = id;
        }
      }
      delta[value] = {effective, serial};
    }
    RebuildDeltaIndexLocked();
    return Status::OK();
  }

  Status ApplyRegexChangesLocked(RuleKind kind,
                                 const std::vector<std::pair<std::string, std::string>>& changed) {
    if (changed.empty()) return Status::OK();
    std::vector<RuleClass> classes = store->Classes();
    std::int64_t now = Now();
    int slot = RegexSlot(kind);
    for (const auto& [source, value] : changed) {
      Rule rule;
      Status st = store->GetRule({source, kind, value}, &rule);
      if (st.ok() && !Expired(rule, now)) {
        regex[slot][RegexKey(source, value)] = ClassIdOf(classes, rule);
      } else if (st.ok() || st.IsNotFound()) {
        regex[slot].erase(RegexKey(source, value));
      } else {
        return st;
      }
    }
    return CompileRegexesLocked(kind);
  }

  Status CompileRegexesLocked(RuleKind kind) {
    int slot = RegexSlot(kind);
    std::vector<std::string> skipped;
    return engine::CompileRegexRules(store.get(), kind, regex[slot], &regex_set[slot],
                                     &regex_list[slot], &skipped);
  }

  Status ReloadRegexesLocked() {
    for (RuleKind kind : {RuleKind::kPattern, RuleKind::kUrl}) {
      SARING_RETURN_IF_ERROR(engine::LoadRegexRules(*store, kind, Now(), &regex[RegexSlot(kind)]));
      SARING_RETURN_IF_ERROR(CompileRegexesLocked(kind));
    }
    return Status::OK();
  }

  // Applies the rule keys a committed change touched, then publishes.
  Status ApplyChangesLocked(const std::vector<RuleKey>& keys) {
    std::vector<std::string> domains;
    std::vector<std::pair<std::string, std::string>> regexes[2];
    for (const RuleKey& k : keys) {
      if (k.kind == RuleKind::kDomain) domains.push_back(k.value);
      else regexes[RegexSlot(k.kind)].emplace_back(k.source, k.value);
    }
    SARING_RETURN_IF_ERROR(ApplyDomainChangesLocked(domains));
    SARING_RETURN_IF_ERROR(ApplyRegexChangesLocked(RuleKind::kPattern, regexes[0]));
    SARING_RETURN_IF_ERROR(ApplyRegexChangesLocked(RuleKind::kUrl, regexes[1]));
    PublishLocked();
    return Status::OK();
  }

  // Builds the domain index from one consistent view of the store and swaps
  // it in shard by shard, so memory grows by one shard, not a whole index.
  // Changes keep flowing meanwhile: the delta holds every change until the
  // last shard is in, then drops what the new index already has.
  Status RebuildIndex() {
    std::lock_guard rebuild_lock(rebuild_mu);
    auto started = std::chrono::steady_clock::now();
    struct Timed {
      Rep* rep;
      std::chrono::steady_clock::time_point started;
      ~Timed() {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        rep->rebuilds.fetch_add(1, std::memory_order_relaxed);
        rep->last_rebuild_s.store(s, std::memory_order_relaxed);
        rep->total_rebuild_s.store(rep->total_rebuild_s.load() + s, std::memory_order_relaxed);
      }
    } timed{this, started};
    engine::DomainSpill spill;
    SARING_RETURN_IF_ERROR(spill.Write(*store, Now(), store->dir() + "/rebuild.spill"));
    std::vector<RuleClass> classes = store->Classes();
    for (int k = 0; k < match::kDomainShards; ++k) {
      std::unique_ptr<DomainIndex> built;
      SARING_RETURN_IF_ERROR(spill.BuildShard(k, classes, &built));
      std::shared_ptr<const DomainIndex> shard(std::move(built));
      {
        std::lock_guard lock(mu);
        base.shard[k] = shard;
        if (k == match::kDomainShards - 1) {
          base_serial = spill.serial();
          std::erase_if(delta, [&](const auto& kv) { return kv.second.serial <= base_serial; });
          RebuildDeltaIndexLocked();
        }
        PublishLocked();
      }
      if (options.cache_index_file) shard->Save(ShardPath(k), spill.serial()).ok();  // best effort
    }
    return Status::OK();
  }

  // After a change: fold the delta into a new index once it has grown.
  Status MaybeRebuild() {
    std::size_t delta_size;
    {
      std::lock_guard lock(mu);
      delta_size = delta.size();
    }
    if (delta_size <= options.max_delta_entries) return Status::OK();
    if (!options.background_rebuild) return RebuildIndex();
    RequestRebuild();
    return Status::OK();
  }

  void RequestRebuild() {
    {
      std::lock_guard lock(bg_mu);
      bg_requested = true;
    }
    bg_cv.notify_all();
  }

  void BackgroundLoop() {
    // A rebuild is maintenance: query workers must win the CPU from it.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    std::unique_lock lock(bg_mu);
    for (;;) {
      bg_cv.wait(lock, [this] { return bg_requested || bg_stopping; });
      if (bg_stopping) return;
      bg_requested = false;
      lock.unlock();
      RebuildIndex().ok();  // on failure the old index and delta stay in force
      lock.lock();
    }
  }

  Status LoadInitialIndex() {
    match::DomainShards loaded;
    bool usable = options.cache_index_file;
    for (int k = 0; usable && k < match::kDomainShards; ++k) {
      std::unique_ptr<DomainIndex> shard;
      std::uint64_t tag = 0;
      // Current if no rule changed after the view it was built from.
      usable = DomainIndex::Load(ShardPath(k), &shard, &tag).ok() &&
               tag >= store->rules_serial() && tag <= store->serial();
      loaded.shard[k] = std::move(shard);
    }
    if (!usable) return RebuildIndex();
    std::lock_guard lock(mu);
    base = std::move(loaded);
    base_serial = store->serial();
    return Status::OK();
  }
};

Engine::Engine(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Engine::~Engine() = default;

Status Engine::Open(const EngineOptions& options, std::unique_ptr<Engine>* out) {
  auto rep = std::make_unique<Rep>();
  rep->options = options;
  StoreOptions store_options;
  store_options.create_if_missing = options.create_if_missing;
  SARING_RETURN_IF_ERROR(Store::Open(options.db_dir, store_options, &rep->store));
  for (auto& shard : rep->base.shard) shard = DomainIndex::Builder(0).Finish();
  std::unique_ptr<Engine> engine(new Engine(std::move(rep)));
  Rep& r = *engine->rep_;
  {
    std::lock_guard lock(r.mu);
    SARING_RETURN_IF_ERROR(r.ReloadRegexesLocked());
  }
  if (r.store->created() && !options.default_rules_dir.empty()) {
    ChangeContext ctx;
    ctx.by = "defaults";
    Status st = engine->LoadDefaults(options.default_rules_dir, ctx);
    if (!st.ok()) {
      // The store was made by this call and holds only part of the defaults:
      // remove it, so the next attempt starts fresh instead of half-filled.
      engine.reset();
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(options.db_dir, ec)) {
        std::filesystem::remove_all(entry.path(), ec);
      }
      return st.WithContext("loading the default rules");
    }
  }
  SARING_RETURN_IF_ERROR(r.LoadInitialIndex());
  {
    std::lock_guard lock(r.mu);
    r.PublishLocked();
  }
  if (options.background_rebuild) r.bg_thread = std::thread([&r] { r.BackgroundLoop(); });
  *out = std::move(engine);
  return Status::OK();
}

const SnapshotPublisher& Engine::publisher() const { return rep_->publisher; }
std::shared_ptr<const Snapshot> Engine::snapshot() const { return rep_->publisher.Current(); }
Store& Engine::store() { return *rep_->store; }

Status Engine::AddRules(std::vector<Rule> rules, const ChangeContext& ctx, std::size_t* changed) {
  std::vector<RuleKey> keys;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    Rule& rule = rules[i];
    Status st = ValidateRule(&rule);
    if (st.ok() && rule.kind != RuleKind::kDomain) {
      st = match::PatternSet::Validate(rule.value);
      if (!st.ok()) st = Status::InvalidArgument(std::string(ToString(rule.kind)) + " " + st.message());
    }
    if (!st.ok()) return rules.size() == 1 ? st : st.WithContext("rule " + std::to_string(i + 1));
    keys.push_back({rule.source, rule.kind, rule.value});
  }
  {
    std::lock_guard lock(rep_->mu);
    SARING_RETURN_IF_ERROR(rep_->store->AddRules(std::move(rules), ctx, changed));
    SARING_RETURN_IF_ERROR(rep_->ApplyChangesLocked(keys));
  }
  return rep_->MaybeRebuild();
}

Status Engine::RemoveRules(std::span<const RuleKey> keys, const ChangeContext& ctx) {
  std::vector<RuleKey> normalized(keys.begin(), keys.end());
  for (RuleKey& k : normalized) {
    if (k.kind != RuleKind::kDomain) continue;
    std::string value;
    Status st = NormalizeDomain(k.value, &value);
    if (!st.ok()) return st.WithContext("domain '" + k.value + "'");
    k.value = std::move(value);
  }
  {
    std::lock_guard lock(rep_->mu);
    SARING_RETURN_IF_ERROR(rep_->store->RemoveRules(normalized, ctx));
    SARING_RETURN_IF_ERROR(rep_->ApplyChangesLocked(normalized));
  }
  return rep_->MaybeRebuild();
}

Status Engine::RemoveExpired(const ChangeContext& ctx, std::vector<RuleKey>* removed) {
  {
    std::lock_guard lock(rep_->mu);
    SARING_RETURN_IF_ERROR(rep_->store->RemoveExpired(ctx, removed));
    if (removed->empty()) return Status::OK();
    SARING_RETURN_IF_ERROR(rep_->ApplyChangesLocked(*removed));
  }
  return rep_->MaybeRebuild();
}

Status Engine::Import(const ImportRequest& request, std::istream& in, const ChangeContext& ctx,
                      ImportResult* result) {
  *result = ImportResult{};
  SARING_RETURN_IF_ERROR(ValidateSourceName(request.options.source));
  SARING_RETURN_IF_ERROR(ValidateCategoryName(request.options.category));
  // The parsed set keeps a bounded part in memory and spills sorted runs
  // next to the store (5M names would otherwise hold about 120 MB next to the
  // serving index); it is gone before the index rebuild below.
  auto set = std::make_unique<ImportSet>(rep_->store->dir());
  ImportSink sink(set.get(), result);
  FeedParseOptions parse_options;
  parse_options.default_action = request.action;
  SARING_RETURN_IF_ERROR(ParseFeed(request.format, in, parse_options, &sink, &result->parse));
  SARING_RETURN_IF_ERROR(sink.error());
  result->parse.rejected = sink.rejected();  // regexes Hyperscan refused count too
  if (request.options.refuse_empty && !request.options.force && result->parse.entries == 0) {
    return Status::FailedPrecondition("refused: the input holds no entries (" +
                                      std::to_string(result->parse.lines) + " lines)");
  }
  std::size_t looked_at = result->parse.entries + result->parse.rejected;
  if (looked_at > 0 && !request.options.force &&
      static_cast<double>(result->parse.rejected) >
          request.options.max_rejected * static_cast<double>(looked_at)) {
    return Status::FailedPrecondition(
        "refused: " + std::to_string(result->parse.rejected) + " of " + std::to_string(looked_at) +
        " lines are not valid entries (limit " +
        std::to_string(static_cast<int>(request.options.max_rejected * 100)) + "%): not a list in this format?");
  }

  ImportOptions options = request.options;
  options.format = std::string(ToString(request.format));
  options.max_tracked_changes = rep_->options.max_delta_entries;
  bool full_rebuild;
  {
    std::lock_guard lock(rep_->mu);
    Status st = rep_->store->ReplaceSource(options, set.get(), ctx, &result->store);
    set.reset();
    SARING_RETURN_IF_ERROR(st);
    const ImportReport& report = result->store;
    if (report.added + report.removed + report.changed == 0) return Status::OK();
    full_rebuild = !report.changes_tracked;
    if (full_rebuild) {
      SARING_RETURN_IF_ERROR(rep_->ReloadRegexesLocked());
      rep_->PublishLocked();
    } else {
      std::vector<RuleKey> keys;
      keys.reserve(report.changes.size());
      for (const auto& [kind, value] : report.changes) keys.push_back({options.source, kind, value});
      SARING_RETURN_IF_ERROR(rep_->ApplyChangesLocked(keys));
    }
  }
  // A large import is only visible once the index is rebuilt; tools wait for
  // it, saringd too (the old snapshot keeps serving meanwhile).
  if (full_rebuild) return rep_->RebuildIndex();
  return rep_->MaybeRebuild();
}

Status Engine::Rebuild() { return rep_->RebuildIndex(); }

EngineStats Engine::stats() const {
  EngineStats s;
  s.published_at_ms = rep_->published_at_ms.load(std::memory_order_relaxed);
  s.rebuilds = rep_->rebuilds.load(std::memory_order_relaxed);
  s.last_rebuild_s = rep_->last_rebuild_s.load(std::memory_order_relaxed);
  s.total_rebuild_s = rep_->total_rebuild_s.load(std::memory_order_relaxed);
  return s;
}

}  // namespace saring
