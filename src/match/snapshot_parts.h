// Snapshot::Parts: what a snapshot is made of. Internal: seen by the snapshot
// itself and by the engine's builder, never by workers.
#ifndef SARING_MATCH_SNAPSHOT_PARTS_H_
#define SARING_MATCH_SNAPSHOT_PARTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "match/domain_index.h"
#include "match/domain_shards.h"
#include "match/pattern_set.h"
#include "saring/snapshot.h"
#include "saring/store.h"

namespace saring {

// A regex rule as the snapshot reports it when it matches.
struct CompiledRegexRule {
  std::string value;
  ClassId class_id = 0;
};

struct Snapshot::Parts {
  std::uint64_t serial = 0;
  std::uint64_t base_serial = 0;
  // Indexed by ClassId; the store never renumbers classes, so the base index
  // built earlier stays valid against a newer table.
  std::shared_ptr<const std::vector<RuleClass>> classes;
  match::DomainShards base;
  std::shared_ptr<const match::DomainIndex> delta;  // null when there is none
  // Pattern id = index into the matching rule vector.
  std::shared_ptr<const match::PatternSet> host_patterns;  // null when none
  std::shared_ptr<const std::vector<CompiledRegexRule>> host_rules;
  std::shared_ptr<const match::PatternSet> url_patterns;
  std::shared_ptr<const std::vector<CompiledRegexRule>> url_rules;
};

}  // namespace saring

#endif  // SARING_MATCH_SNAPSHOT_PARTS_H_
