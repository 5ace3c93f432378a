// AnswerCache: one worker thread's cache of upstream answers, kept as wire
// bytes and aged in place when served (RFC 1035 TTLs, RFC 2308 negative
// caching, RFC 8767 serve-stale when every upstream is down).
//
// HOT PATH. All memory is allocated when the cache is made (bounded by
// Options::max_bytes); Lookup and Insert never allocate. Not thread-safe:
// each DNS worker owns its own cache, so the query path takes no lock.
#ifndef SARING_DNS_ANSWER_CACHE_H_
#define SARING_DNS_ANSWER_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace saring::dns {

struct CacheKey {
  std::string_view name;  // lower case text form, as Query::name
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  bool dnssec_ok = false;  // DO answers carry signatures: kept apart
};

class AnswerCache {
 public:
  struct Options {
    std::size_t max_bytes = 64u << 20;  // all memory of the cache, entries and index
    std::uint32_t max_ttl = 86400;      // longer TTLs are cut to this
    std::uint32_t max_negative_ttl = 3600;
    std::uint32_t stale_window = 86400;  // how long past expiry an answer may be served stale
    std::uint32_t stale_answer_ttl = 30;  // TTL of a stale answer (RFC 8767 suggests 30 s)
    // The index hash of a key; null is the built-in one. Tests pass a poor one to force
    // collisions, which the cache must survive by comparing whole keys.
    std::uint64_t (*hash)(const CacheKey& key) = nullptr;
  };

  enum class Hit { kMiss, kFresh, kStale };

  explicit AnswerCache(const Options& options);
  ~AnswerCache();
  AnswerCache(const AnswerCache&) = delete;
  AnswerCache& operator=(const AnswerCache&) = delete;

  // Stores a copy of `answer` for `ttl` seconds from `now` (seconds, any
  // monotonic clock). `ttl_offsets` are the positions of its TTL fields (see
  // dns::ResponseInfo). A negative answer (NXDOMAIN/NODATA) is capped by
  // max_negative_ttl, others by max_ttl, and so are its TTL fields. It replaces
  // the key's earlier answer; one that is not stored (TTL 0 after the cap, over
  // 4096 bytes, offsets outside it or out of order, not one question) leaves
  // the earlier answer in place. May evict others to make room.
  void Insert(const CacheKey& key, std::span<const std::uint8_t> answer,
              std::span<const std::uint16_t> ttl_offsets, std::uint32_t ttl, bool negative,
              std::int64_t now);

  // Copies the cached answer for `key` into `out`, rewritten for this client
  // (`id`, its `question` bytes with their letter case, TTLs aged; see
  // dns::ReuseAnswer) and sets `*size`. A fresh answer's TTLs are aged by its
  // time in the cache; a record whose own TTL ran out first shows 0. An
  // expired answer is returned only when `allow_stale` and within the stale
  // window, with every TTL set to stale_answer_ttl; past the window it is
  // dropped. Also a miss: an answer larger than `out`, or whose question is not
  // as long as `question`.
  Hit Lookup(const CacheKey& key, std::int64_t now, bool allow_stale, std::uint16_t id,
             std::span<const std::uint8_t> question, std::span<std::uint8_t> out,
             std::size_t* size);

  struct Stats {
    std::uint64_t hits = 0, stale_hits = 0, misses = 0, inserts = 0;
    std::uint64_t evictions = 0;  // dropped to make room (not those found expired)
    std::size_t entries = 0;
    std::size_t bytes_used = 0;  // of the answer storage, in whole 128-byte chunks
  };
  const Stats& stats() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring::dns

#endif  // SARING_DNS_ANSWER_CACHE_H_
