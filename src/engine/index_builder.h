// The engine's builders: turn what the store holds into snapshot parts.
// Internal to src/engine. Run on the engine's change path or its rebuild
// thread, never on a worker's query path.
#ifndef SARING_ENGINE_INDEX_BUILDER_H_
#define SARING_ENGINE_INDEX_BUILDER_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "match/domain_index.h"
#include "match/domain_shards.h"
#include "match/pattern_set.h"
#include "match/snapshot_parts.h"
#include "saring/status.h"
#include "saring/store.h"

namespace saring::engine {

// True if `incoming` should replace `existing` for the same domain: allow wins;
// otherwise the first one seen (source name order) stays.
bool PreferClass(const std::vector<RuleClass>& classes, ClassId incoming, ClassId existing);

// The domain rules of one consistent store view, written to a file as
// (hash, class) records, so the index shards can then be built one at a time
// without holding the rules (or a whole second index) in memory.
class DomainSpill {
 public:
  DomainSpill() = default;
  ~DomainSpill();  // removes the file
  DomainSpill(const DomainSpill&) = delete;
  DomainSpill& operator=(const DomainSpill&) = delete;

  // Writes every unexpired domain rule of `store` to `path`.
  Status Write(const Store& store, std::int64_t now, const std::string& path);
  // The store serial of the view that was written.
  std::uint64_t serial() const { return serial_; }
  // Builds shard `k` (see match/domain_shards.h) from the file.
  Status BuildShard(int k, const std::vector<RuleClass>& classes,
                    std::unique_ptr<match::DomainIndex>* out) const;

 private:
  std::string path_;
  std::uint64_t serial_ = 0;
  std::array<std::size_t, match::kDomainShards> counts_{};
};

// Regex rules of one kind (pattern or url), keyed by source '\0' value so the
// compiled order (and with it the cache key) is stable.
using RegexRules = std::map<std::string, ClassId>;

// Reads every unexpired rule of `kind` (pattern or url) from the store.
Status LoadRegexRules(const Store& store, RuleKind kind, std::int64_t now, RegexRules* out);

// Compiles `rules` into a pattern set, reusing a database the store has cached
// for exactly this set on this machine. A rule Hyperscan refuses (stored by an
// older version, say) is left out rather than taking the others down with it;
// `skipped` gets their values.
Status CompileRegexRules(Store* store, RuleKind kind, const RegexRules& rules,
                         std::shared_ptr<const match::PatternSet>* set,
                         std::shared_ptr<const std::vector<CompiledRegexRule>>* compiled,
                         std::vector<std::string>* skipped);

}  // namespace saring::engine

#endif  // SARING_ENGINE_INDEX_BUILDER_H_
