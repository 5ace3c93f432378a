// Engine: owns the Store and keeps the published Snapshot in step with it.
// Every rule change (imports, admin edits, expiries) goes through the engine,
// which commits it to the store and then publishes a new snapshot: small
// changes as a delta over the big domain index, large ones (and a delta that
// has grown) by rebuilding the index from the store.
//
// Thread safety: any thread may call any method. Changes are serialized
// internally; readers use publisher() and never wait for a change.
#ifndef SARING_ENGINE_H_
#define SARING_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "saring/feed_format.h"
#include "saring/snapshot.h"
#include "saring/status.h"
#include "saring/store.h"

namespace saring {

struct EngineOptions {
  std::string db_dir;              // the RocksDB store folder
  bool create_if_missing = true;   // create (and fill with the defaults) if absent
  std::string default_rules_dir;   // rules/ folder with manifest.toml; "" = none
  // Delta entries above which the domain index is rebuilt from the store.
  std::size_t max_delta_entries = 20000;
  // Rebuild in a background thread (saringd) or in the calling thread (tools).
  bool background_rebuild = false;
  // Keep the compiled base index in a file beside the store so a restart
  // maps it instead of rebuilding it.
  bool cache_index_file = true;
};

// How an import went, beyond the store's counts: what the parser saw.
struct ImportResult {
  ImportReport store;
  FeedParseStats parse;
  struct Rejected {
    std::size_t line;
    std::string reason;
    std::string text;
  };
  std::vector<Rejected> rejected;  // the first kMaxListedRejects
  static constexpr std::size_t kMaxListedRejects = 20;
};

struct ImportRequest {
  ImportOptions options;  // source, category, max_shrink, force
  FeedFormat format = FeedFormat::kPlain;
  Action action = Action::kBlock;  // for formats that do not carry one
};

// What the engine has done, for metrics (relaxed reads: figures, not a cut).
struct EngineStats {
  std::int64_t published_at_ms = 0;  // wall clock of the last snapshot publish
  std::uint64_t rebuilds = 0;        // full domain-index rebuilds
  double last_rebuild_s = 0, total_rebuild_s = 0;
};

class Engine {
 public:
  static Status Open(const EngineOptions& options, std::unique_ptr<Engine>* out);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const SnapshotPublisher& publisher() const;
  // The current snapshot (takes a mutex: tools and the admin API; workers use
  // a SnapshotReader on publisher()).
  std::shared_ptr<const Snapshot> snapshot() const;
  Store& store();

  // Parses `in` in `request.format` and replaces the source's rules with what
  // it holds. Regexes that Hyperscan rejects are reported as rejected lines.
  Status Import(const ImportRequest& request, std::istream& in, const ChangeContext& ctx,
                ImportResult* result);
  // Adds/updates rules; regexes are compiled first and refused with
  // Hyperscan's message if they do not compile. All or nothing.
  Status AddRules(std::vector<Rule> rules, const ChangeContext& ctx, std::size_t* changed = nullptr);
  Status RemoveRules(std::span<const RuleKey> keys, const ChangeContext& ctx);
  Status RemoveExpired(const ChangeContext& ctx, std::vector<RuleKey>* removed);

  // Loads the bundled rule files named in `rules_dir`/manifest.toml.
  Status LoadDefaults(const std::string& rules_dir, const ChangeContext& ctx);

  // Rebuilds the domain index from the store now and waits for it.
  Status Rebuild();
  EngineStats stats() const;

 private:
  struct Rep;
  explicit Engine(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring

#endif  // SARING_ENGINE_H_
