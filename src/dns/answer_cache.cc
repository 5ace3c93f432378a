// HOT PATH: no allocation, no locks (one cache per worker thread). Lookup and Insert only touch
// the arrays the constructor made.
//
// Layout. The constructor splits Options::max_bytes, once, into:
//   chunks   128-byte blocks: a 4-byte link and 124 bytes of data. An entry's bytes (its name,
//            its TTL offsets, then the answer) run through a chain of them, so any free chunks
//            serve any size: no size classes to tune and no fragmentation. A typical answer
//            and its name fit one chunk; a 4 KiB DNSSEC answer about 34.
//   entries  one 32-byte record (key fields, times, sizes) per chunk, used when that chunk is
//            the first of an entry: an entry is named by its first chunk, so the index slot
//            gives both addresses and a hit waits for two memory loads, not three.
//   index    open addressing with linear probing over 64-bit slots (32-bit hash tag, first
//            chunk + 1; 0 is empty), at most 3/4 full even when every entry is one chunk.
//            Removal shifts the rest of the run back, so there are no tombstones and probes
//            stay short under churn. A tag match is confirmed by comparing the whole key, so
//            hash collisions only cost time.
//   referenced  one byte per chunk, for CLOCK.
// Chunks past a high-water mark have never been used; they are handed out before the free list
// grows, so the untouched part of the arrays costs address space, not RSS.
//
// Eviction is CLOCK (second chance): a hit sets its entry's referenced byte; the hand clears
// set bytes as it passes and evicts the first entry whose byte is clear. A hit thus costs one
// byte store where LRU would relink three records, and a sweep reads a byte array, at most
// one pass of it. New entries start unreferenced, so names asked once go before names asked
// again. An entry past its stale window is dropped as soon as a lookup finds it.
#include "dns/answer_cache.h"

#include "core/hash.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "dns/wire.h"

namespace saring::dns {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kMaxOffsets = 64;  // as ResponseInfo::ttl_offsets
constexpr std::size_t kMaxName = 255;
// Answers larger than the most saring sends over UDP come by TCP, rarely, and would take the
// room of dozens of ordinary ones: not cached.
constexpr std::size_t kMaxAnswer = kMaxUdpPayload;

struct alignas(64) Chunk {
  std::uint32_t next;
  std::uint8_t data[124];
};
static_assert(sizeof(Chunk) == 128);
constexpr std::size_t kChunkData = sizeof(Chunk::data);

// The entry whose first chunk has the same number.
struct alignas(32) Entry {
  std::int64_t stored_at;
  std::int64_t expires_at;
  std::uint32_t tag;  // the high half of the key's hash: finds the index slot on eviction
  std::uint16_t answer_size;
  std::uint16_t question_size;  // of the stored answer; a client's must match to reuse it
  std::uint16_t qtype;
  std::uint16_t qclass;
  std::uint8_t name_size;
  std::uint8_t offset_count;
  bool dnssec_ok;
  bool live;  // false for free chunks and for the later chunks of an entry
};
static_assert(sizeof(Entry) == 32);

std::size_t ChunksFor(std::size_t bytes) { return (bytes + kChunkData - 1) / kChunkData; }

// ---- Hashing ---------------------------------------------------------------------------
// The whole name at once (core/hash.h): a cache key is looked up whole, never by suffix.

std::uint64_t HashKey(const CacheKey& key) {
  using hash::kSecret0;
  using hash::kSecret3;
  std::uint64_t seed = hash::Mum(kSecret0 ^ (std::uint64_t{key.qtype} << 32) ^
                                     (std::uint64_t{key.qclass} << 1) ^ std::uint64_t{key.dnssec_ok},
                                 kSecret3 ^ key.name.size());
  return hash::HashBytes(key.name.data(), key.name.size(), seed);
}

// ---- Answer checks ---------------------------------------------------------------------

// The size of the answer's one question (an uncompressed name, type and class), or 0 when it
// has not exactly one. Lookup rewrites that many bytes for the client.
std::size_t QuestionSize(std::span<const std::uint8_t> answer) {
  if (answer.size() < kHeaderSize || answer[4] != 0 || answer[5] != 1) return 0;
  std::size_t p = kHeaderSize;
  while (p < answer.size()) {
    std::uint8_t len = answer[p];
    if (len == 0) {
      std::size_t end = p + 1 + 4;
      return end <= answer.size() && end - kHeaderSize - 4 <= kMaxNameWire ? end - kHeaderSize
                                                                            : 0;
    }
    if (len > 63) return 0;
    p += 1 + len;
  }
  return 0;
}

// TTL fields after the question, in order and apart, inside the answer: Insert caps them in
// one forward pass and ReuseAnswer writes only inside the answer.
bool OffsetsValid(std::span<const std::uint16_t> offsets, std::size_t first, std::size_t size) {
  std::size_t next = first;
  for (std::uint16_t off : offsets) {
    if (off < next || std::size_t{off} + 4 > size) return false;
    next = std::size_t{off} + 4;
  }
  return true;
}

// Cuts a TTL field down to `cap` (the cache's own TTL): a client must not keep a record longer
// than the cache would, and aging subtracts the same seconds from every record. A TTL with the
// top bit set counts as 0 (RFC 2181 8), as ParseResponse and ReuseAnswer read it.
inline void CapTtl(const std::uint8_t* in, std::uint32_t cap, std::uint8_t* out) {
  std::uint32_t ttl = std::uint32_t{in[0]} << 24 | std::uint32_t{in[1]} << 16 |
                      std::uint32_t{in[2]} << 8 | in[3];
  ttl = ttl >> 31 != 0 ? 0 : std::min(ttl, cap);
  out[0] = static_cast<std::uint8_t>(ttl >> 24);
  out[1] = static_cast<std::uint8_t>(ttl >> 16);
  out[2] = static_cast<std::uint8_t>(ttl >> 8);
  out[3] = static_cast<std::uint8_t>(ttl);
}

}  // namespace

// ---- Rep -------------------------------------------------------------------------------

struct AnswerCache::Rep {
  // A position in an entry's chunk chain.
  struct Cursor {
    std::uint32_t chunk;
    std::size_t pos;  // in chunk's data; kChunkData means "step to the next chunk first"
  };

  struct Found {
    std::uint32_t id = kNone;  // the entry's first chunk
    std::size_t slot = 0;
    Cursor after_name{};
  };

  Options options;
  Stats stats;

  std::unique_ptr<Chunk[]> chunks;
  std::unique_ptr<Entry[]> entries;
  std::unique_ptr<std::uint8_t[]> referenced;
  std::uint32_t chunk_count = 0;
  std::uint32_t chunks_touched = 0;  // high-water mark
  std::uint32_t free_chunk = kNone;
  std::size_t free_chunks = 0;  // on the list or never touched
  std::uint32_t hand = 0;

  std::unique_ptr<std::uint64_t[]> slots;
  std::size_t slot_count = 0;

  // The index keeps the hash's high half.
  std::uint32_t Tag(const CacheKey& key) const {
    const std::uint64_t hash = options.hash != nullptr ? options.hash(key) : HashKey(key);
    return static_cast<std::uint32_t>(hash >> 32);
  }

  // Multiply-shift rather than a mask, so the index needs no power-of-two size.
  std::size_t Home(std::uint32_t tag) const {
    return static_cast<std::size_t>((std::uint64_t{tag} * slot_count) >> 32);
  }

  std::size_t Next(std::size_t i) const { return i + 1 == slot_count ? 0 : i + 1; }

  // How far past `from` slot `to` lies, going round.
  std::size_t Distance(std::size_t from, std::size_t to) const {
    return to >= from ? to - from : to + slot_count - from;
  }

  // Calls fn(bytes, n) on the next `n` bytes of a chain, a chunk's worth at a time; stops as
  // soon as fn returns false, and then returns false.
  template <typename Fn>
  bool Walk(Cursor* c, std::size_t n, Fn fn) {
    while (n > 0) {
      if (c->pos == kChunkData) {
        c->chunk = chunks[c->chunk].next;
        c->pos = 0;
      }
      std::size_t k = std::min(n, kChunkData - c->pos);
      if (!fn(chunks[c->chunk].data + c->pos, k)) return false;
      c->pos += k;
      n -= k;
    }
    return true;
  }

  void Write(Cursor* c, const std::uint8_t* src, std::size_t n) {
    Walk(c, n, [&src](std::uint8_t* p, std::size_t k) {
      std::memcpy(p, src, k);
      src += k;
      return true;
    });
  }

  void Read(Cursor* c, std::uint8_t* dst, std::size_t n) {
    Walk(c, n, [&dst](const std::uint8_t* p, std::size_t k) {
      std::memcpy(dst, p, k);
      dst += k;
      return true;
    });
  }

  bool Equal(Cursor* c, const char* src, std::size_t n) {
    return Walk(c, n, [&src](const std::uint8_t* p, std::size_t k) {
      bool same = std::memcmp(p, src, k) == 0;
      src += k;
      return same;
    });
  }

  Found Find(const CacheKey& key, std::uint32_t tag) {
    for (std::size_t i = Home(tag);; i = Next(i)) {
      const std::uint64_t s = slots[i];
      if (s == 0) return {};
      if (static_cast<std::uint32_t>(s >> 32) != tag) continue;
      const auto id = static_cast<std::uint32_t>(s) - 1;
      __builtin_prefetch(&chunks[id]);  // while the entry's own line is fetched
      const Entry& e = entries[id];
      if (e.qtype != key.qtype || e.qclass != key.qclass || e.dnssec_ok != key.dnssec_ok ||
          e.name_size != key.name.size()) {
        continue;
      }
      Cursor c{id, 0};
      if (Equal(&c, key.name.data(), key.name.size())) return {id, i, c};
    }
  }

  std::size_t SlotOf(std::uint32_t id) const {
    const std::uint64_t want = (std::uint64_t{entries[id].tag} << 32) | (std::uint64_t{id} + 1);
    std::size_t i = Home(entries[id].tag);
    while (slots[i] != want) i = Next(i);
    return i;
  }

  // Backward-shift deletion: each later slot of the run moves into the hole unless its home
  // lies cyclically after the hole, so every remaining key stays reachable from its home.
  void EraseSlot(std::size_t hole) {
    for (std::size_t j = Next(hole); slots[j] != 0; j = Next(j)) {
      const std::size_t home = Home(static_cast<std::uint32_t>(slots[j] >> 32));
      if (Distance(home, j) >= Distance(hole, j)) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole] = 0;
  }

  std::uint32_t TakeChunk() {
    std::uint32_t c = free_chunk;
    if (c == kNone) {
      c = chunks_touched++;
      entries[c].live = false;  // the hand reads it from now on
    } else {
      free_chunk = chunks[c].next;
    }
    return c;
  }

  void Remove(std::uint32_t id, std::size_t slot) {
    Entry& e = entries[id];
    EraseSlot(slot);
    const std::size_t n = ChunksFor(e.name_size + 2 * e.offset_count + e.answer_size);
    std::uint32_t last = id;
    for (std::size_t i = 1; i < n; ++i) last = chunks[last].next;
    chunks[last].next = free_chunk;
    free_chunk = id;
    free_chunks += n;
    e.live = false;
    referenced[id] = 0;
    --stats.entries;
    stats.bytes_used -= n * sizeof(Chunk);
  }

  // Callers make sure some entry is live. Ends within two passes: the first clears every
  // referenced byte it meets.
  void EvictOne() {
    for (;;) {
      if (hand >= chunks_touched) hand = 0;
      const std::uint32_t id = hand++;
      if (referenced[id] != 0) {
        referenced[id] = 0;
        continue;
      }
      if (!entries[id].live) continue;
      Remove(id, SlotOf(id));
      ++stats.evictions;
      return;
    }
  }

  Hit Miss() {
    ++stats.misses;
    return Hit::kMiss;
  }
};

// Every chunk may start an entry, so the index is sized for as many entries as chunks; the
// budget is shared out at that ratio.
AnswerCache::AnswerCache(const Options& options) : rep_(std::make_unique<Rep>()) {
  Rep& r = *rep_;
  r.options = options;
  // The Rep, and the index's spare slot.
  const std::size_t fixed = sizeof(Rep) + sizeof(std::uint64_t);
  const std::size_t budget = options.max_bytes > fixed ? options.max_bytes - fixed : 0;
  // Per chunk: the chunk, its entry, its referenced byte and 4/3 of an index slot.
  const std::size_t per_chunk_x3 =
      3 * (sizeof(Chunk) + sizeof(Entry) + 1) + 4 * sizeof(std::uint64_t);
  // Ids are 32-bit, and kNone is no id; the tag-based home needs fewer than 2^32 slots.
  const std::size_t chunk_count = std::min<std::size_t>(budget / per_chunk_x3 * 3, kNone / 2);
  const std::size_t slot_count = chunk_count + chunk_count / 3 + 1;

  r.chunks = std::make_unique_for_overwrite<Chunk[]>(chunk_count);
  r.entries = std::make_unique_for_overwrite<Entry[]>(chunk_count);
  r.referenced = std::make_unique<std::uint8_t[]>(chunk_count);
  r.chunk_count = static_cast<std::uint32_t>(chunk_count);
  r.free_chunks = chunk_count;
  r.slots = std::make_unique<std::uint64_t[]>(slot_count);
  r.slot_count = slot_count;
}

AnswerCache::~AnswerCache() = default;

void AnswerCache::Insert(const CacheKey& key, std::span<const std::uint8_t> answer,
                         std::span<const std::uint16_t> ttl_offsets, std::uint32_t ttl,
                         bool negative, std::int64_t now) {
  Rep& r = *rep_;
  // An answer that cannot be stored leaves any earlier one for the key in place: it is still
  // good for its own TTL, and stale-serving may need it.
  ttl = std::min(ttl, negative ? r.options.max_negative_ttl : r.options.max_ttl);
  if (ttl == 0 || key.name.size() > kMaxName || answer.size() > kMaxAnswer ||
      ttl_offsets.size() > kMaxOffsets) {
    return;
  }
  const std::size_t question_size = QuestionSize(answer);
  if (question_size == 0 ||
      !OffsetsValid(ttl_offsets, kHeaderSize + question_size, answer.size())) {
    return;
  }
  const std::size_t offset_bytes = ttl_offsets.size() * sizeof(std::uint16_t);
  const std::size_t need = ChunksFor(key.name.size() + offset_bytes + answer.size());
  if (need > r.chunk_count) return;

  const std::uint32_t tag = r.Tag(key);
  if (Rep::Found f = r.Find(key, tag); f.id != kNone) {
    r.Remove(f.id, f.slot);
  }
  while (r.free_chunks < need) r.EvictOne();

  // Linked in the order taken: fresh chunks then run forward in memory, and a freed chain,
  // pushed whole onto the free list, comes back in its own order.
  const std::uint32_t id = r.TakeChunk();
  for (std::uint32_t last = id, i = 1; i < need; ++i) {
    const std::uint32_t c = r.TakeChunk();
    r.chunks[last].next = c;
    last = c;
  }
  r.free_chunks -= need;

  Rep::Cursor c{id, 0};
  r.Write(&c, reinterpret_cast<const std::uint8_t*>(key.name.data()), key.name.size());
  r.Write(&c, reinterpret_cast<const std::uint8_t*>(ttl_offsets.data()), offset_bytes);
  std::size_t done = 0;
  for (std::uint16_t off : ttl_offsets) {
    r.Write(&c, answer.data() + done, off - done);
    std::uint8_t capped[4];
    CapTtl(answer.data() + off, ttl, capped);
    r.Write(&c, capped, 4);
    done = std::size_t{off} + 4;
  }
  r.Write(&c, answer.data() + done, answer.size() - done);

  Entry& e = r.entries[id];
  e.stored_at = now;
  e.expires_at = now + ttl;
  e.tag = tag;
  e.answer_size = static_cast<std::uint16_t>(answer.size());
  e.question_size = static_cast<std::uint16_t>(question_size);
  e.qtype = key.qtype;
  e.qclass = key.qclass;
  e.name_size = static_cast<std::uint8_t>(key.name.size());
  e.offset_count = static_cast<std::uint8_t>(ttl_offsets.size());
  e.dnssec_ok = key.dnssec_ok;
  e.live = true;

  std::size_t i = r.Home(tag);
  while (r.slots[i] != 0) i = r.Next(i);
  r.slots[i] = (std::uint64_t{tag} << 32) | (std::uint64_t{id} + 1);

  ++r.stats.inserts;
  ++r.stats.entries;
  r.stats.bytes_used += need * sizeof(Chunk);
}

AnswerCache::Hit AnswerCache::Lookup(const CacheKey& key, std::int64_t now, bool allow_stale,
                                     std::uint16_t id, std::span<const std::uint8_t> question,
                                     std::span<std::uint8_t> out, std::size_t* size) {
  Rep& r = *rep_;
  if (key.name.size() > kMaxName) return r.Miss();
  Rep::Found f = r.Find(key, r.Tag(key));
  if (f.id == kNone) return r.Miss();
  const Entry& e = r.entries[f.id];

  Hit hit = Hit::kFresh;
  if (now >= e.expires_at) {
    if (now - e.expires_at >= std::int64_t{r.options.stale_window}) {
      r.Remove(f.id, f.slot);
      return r.Miss();
    }
    if (!allow_stale) return r.Miss();
    hit = Hit::kStale;
  }
  if (out.size() < e.answer_size || question.size() != e.question_size) return r.Miss();

  std::array<std::uint16_t, kMaxOffsets> offsets;
  r.Read(&f.after_name, reinterpret_cast<std::uint8_t*>(offsets.data()),
         e.offset_count * sizeof(std::uint16_t));
  r.Read(&f.after_name, out.data(), e.answer_size);

  // Fresh: every TTL aged by the time in the cache, floor 0. The cache TTL is the least TTL
  // of the answer records, so while fresh those keep at least 1; a shorter authority or
  // additional record honestly reaches 0 (use once, do not keep) rather than being stretched.
  // Stale: every TTL becomes stale_answer_ttl (RFC 8767 4): an age no TTL survives, and that
  // floor.
  std::uint32_t age = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t floor = r.options.stale_answer_ttl;
  if (hit == Hit::kFresh) {
    age = static_cast<std::uint32_t>(std::max<std::int64_t>(now - e.stored_at, 0));
    floor = 0;
  }
  ReuseAnswer(out.first(e.answer_size), id, question, {offsets.data(), e.offset_count}, age,
              floor);

  r.referenced[f.id] = 1;
  *size = e.answer_size;
  ++(hit == Hit::kFresh ? r.stats.hits : r.stats.stale_hits);
  return hit;
}

const AnswerCache::Stats& AnswerCache::stats() const { return rep_->stats; }

}  // namespace saring::dns
