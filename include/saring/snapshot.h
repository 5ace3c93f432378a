// Snapshot: the compiled, immutable rule set that DNS and proxy workers consult
// for every query; SnapshotPublisher / SnapshotReader: how a new snapshot
// reaches them without a lock on their path.
//
// HOT PATH (Check*): no locks, no heap allocation. A Snapshot is never changed
// after it is published; any number of threads may call its const methods at
// once. It is built by the Engine from the Store: a large base index of domain
// rules, a small delta layered over it for recent changes, and the Hyperscan
// databases of pattern and URL rules.
#ifndef SARING_SNAPSHOT_H_
#define SARING_SNAPSHOT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>

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

// Holds the current snapshot. Writers (the engine) call Publish; readers take
// a SnapshotReader each. Publish is rare; reading is one atomic load.
class SnapshotPublisher {
 public:
  void Publish(std::shared_ptr<const Snapshot> snapshot);
  // The current snapshot (may be null before the first Publish). Takes a
  // mutex: not for the per-query path, use a SnapshotReader there.
  std::shared_ptr<const Snapshot> Current() const;
  // Bumped by every Publish.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::uint64_t> version_{0};
};

// One per worker thread: keeps that thread's reference to the current
// snapshot and refreshes it only when the publisher's version moves, so the
// per-query cost is one atomic load and no lock. Not thread-safe itself.
class SnapshotReader {
 public:
  explicit SnapshotReader(const SnapshotPublisher* publisher) : publisher_(publisher) {}

  // The current snapshot, or null if none has been published yet (a worker
  // then answers nothing rather than failing open).
  const Snapshot* Get() {
    std::uint64_t v = publisher_->version();
    if (v != version_) {
      cached_ = publisher_->Current();
      version_ = v;
    }
    return cached_.get();
  }

 private:
  const SnapshotPublisher* publisher_;
  std::uint64_t version_ = 0;
  std::shared_ptr<const Snapshot> cached_;
};

}  // namespace saring

#endif  // SARING_SNAPSHOT_H_
