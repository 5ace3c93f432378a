// Snapshot: the compiled, immutable rule set that DNS and proxy workers consult
// for every query. It reaches them through a Publisher (see publisher.h).
//
// HOT PATH (Check*): no locks, no heap allocation. A Snapshot is never changed
// after it is published; any number of threads may call its const methods at
// once. It is built by the Engine from the Store: a large base index of domain
// rules, a small delta layered over it for recent changes, and the Hyperscan
// databases of pattern and URL rules.
#ifndef SARING_SNAPSHOT_H_
#define SARING_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "saring/publisher.h"
#include "saring/verdict.h"

namespace saring {

class Snapshot {
 public:
  // The pieces a snapshot is made of; defined in src/match/snapshot_parts.h so
  // that only the engine's builder sees the matcher internals.
  struct Parts;

  explicit Snapshot(std::shared_ptr<const Parts> parts);
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Store serial the snapshot reflects.
  std::uint64_t serial() const;

  // The verdict for a normalized host name (see NormalizeDomain): domain rules
  // on the name and every parent, then host patterns; allow wins over block.
  Verdict CheckName(std::string_view name) const;

  // CheckName for many names at once; faster (memory fetches overlap). `out`
  // must have names.size() elements.
  void CheckNames(std::span<const std::string_view> names, std::span<Verdict> out) const;

  // The verdict for a plain-HTTP request: host rules on `host`, URL rules on
  // `url` (normalized: lower-case scheme and host, no default port, dot
  // segments removed). Allow wins over block.
  Verdict CheckUrl(std::string_view host, std::string_view url) const;

  struct Stats {
    std::uint64_t serial = 0;
    std::uint64_t base_serial = 0;  // serial of the big index the delta sits on
    std::size_t base_domains = 0;
    std::size_t delta_domains = 0;
    std::size_t patterns = 0;
    std::size_t urls = 0;
    std::size_t index_bytes = 0;  // base + delta tables
    std::size_t pattern_bytes = 0;
  };
  Stats stats() const;

 private:
  std::shared_ptr<const Parts> parts_;
};

using SnapshotPublisher = Publisher<Snapshot>;
using SnapshotReader = Reader<Snapshot>;

}  // namespace saring

#endif  // SARING_SNAPSHOT_H_
