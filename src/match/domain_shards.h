// DomainShards: the base domain index of a snapshot, split by the top bits of
// the name hash into a few independent DomainIndex tables.
//
// HOT PATH (Find, Prefetch): no locks, no allocation. The split exists for
// rebuilds: the engine replaces one shard at a time, so a rebuild of a 5M-name
// index needs room for one new shard (a quarter of the table), not a second
// copy of all of it.
#ifndef SARING_MATCH_DOMAIN_SHARDS_H_
#define SARING_MATCH_DOMAIN_SHARDS_H_

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "match/domain_index.h"

namespace saring::match {

inline constexpr int kDomainShardBits = 2;
inline constexpr int kDomainShards = 1 << kDomainShardBits;

// The shard a hash belongs to: its top bits.
inline int ShardOf(std::uint64_t hash) { return static_cast<int>(hash >> (64 - kDomainShardBits)); }

// Inside a shard the top bits are all equal, so the hash is rotated before it
// reaches the shard's table, which picks buckets by the high bits.
inline std::uint64_t InShardHash(std::uint64_t hash) { return std::rotl(hash, kDomainShardBits); }

struct DomainShards {
  std::array<std::shared_ptr<const DomainIndex>, kDomainShards> shard;  // never null

  DomainIndex::ClassId Find(std::uint64_t hash) const {
    return shard[ShardOf(hash)]->Find(InShardHash(hash));
  }
  void Prefetch(std::uint64_t hash) const { shard[ShardOf(hash)]->Prefetch(InShardHash(hash)); }

  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& s : shard) n += s->size();
    return n;
  }
  std::size_t memory_bytes() const {
    std::size_t n = 0;
    for (const auto& s : shard) n += s->memory_bytes();
    return n;
  }
};

}  // namespace saring::match

#endif  // SARING_MATCH_DOMAIN_SHARDS_H_
