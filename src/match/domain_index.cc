// HOT PATH: HashSuffixes, HashDomain, DomainIndex::Find and DomainIndex::Prefetch never
// allocate, never lock and never make a system call. Everything else here (Builder, Save,
// Load) runs when a snapshot is built or opened, off the query path.
#include "match/domain_index.h"

#include "core/hash.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

namespace saring::match {
namespace {

// ---- Hashing ---------------------------------------------------------------------------
//
// Suffix hashes chain from the right, one label at a time: for "a.b.c", H_0 = Combine(kSeed,
// L("c")), H_1 = Combine(H_0, L("b")), H_2 = Combine(H_1, L("a")). So the hash of a suffix
// depends only on the suffix's labels, wherever it is looked up from.
using hash::kSecret0;
using hash::kSecret1;
using hash::kSecret2;
using hash::kSecret3;
using hash::Mum;

constexpr std::uint64_t kSeed = 0x1d8e4e27c47d124fULL;

inline std::uint64_t HashLabel(const char* p, std::size_t n) { return hash::HashBytes(p, n, kSecret2); }

// The label's length enters here, apart from its bytes: the overlapping reads above fill all
// 64 bits of a and b, so any bits the length shared with them could cancel out ("n8" and
// "n89" read the same bytes, and xoring in 2 and 3 would make them equal).
inline std::uint64_t Combine(std::uint64_t suffix_hash, std::uint64_t label_hash,
                             std::size_t label_length) {
  return Mum(suffix_hash ^ kSecret3 ^ label_length, label_hash ^ kSecret0);
}

// ---- Table layout ----------------------------------------------------------------------

constexpr int kClassBits = 12;
constexpr std::uint64_t kClassMask = (std::uint64_t{1} << kClassBits) - 1;
constexpr std::uint64_t kFingerprintMask = (std::uint64_t{1} << (64 - kClassBits)) - 1;
constexpr std::size_t kSlots = 8;  // 8 words = one 64-byte cache line
constexpr std::size_t kBucketBytes = kSlots * sizeof(std::uint64_t);

// A slot holding this key (class bits zero). Never 0: 0 marks an empty slot.
inline std::uint64_t KeyOf(std::uint64_t hash) {
  std::uint64_t fp = hash & kFingerprintMask;
  return (fp == 0 ? 1 : fp) << kClassBits;
}

// The high bits pick the bucket, so they stay independent of the fingerprint's low bits.
inline std::size_t BucketOf(std::uint64_t hash, std::size_t nbuckets) {
  return static_cast<std::size_t>((static_cast<unsigned __int128>(hash) * nbuckets) >> 64);
}

// Bit i set when slot i may hold `key`: its top 32 bits (fingerprint bits only) are equal.
// SSE2, which every x86-64 has, compares all eight at once; the caller confirms the rare
// candidate with one full compare. Without SSE2 the full compare is done here.
inline unsigned CandidateMask(const std::uint64_t* bucket, std::uint64_t key) {
#if defined(__SSE2__)
  const auto* v = reinterpret_cast<const __m128i*>(bucket);  // buckets are 64-byte aligned
  __m128 w01 = _mm_castsi128_ps(_mm_load_si128(v));
  __m128 w23 = _mm_castsi128_ps(_mm_load_si128(v + 1));
  __m128 w45 = _mm_castsi128_ps(_mm_load_si128(v + 2));
  __m128 w67 = _mm_castsi128_ps(_mm_load_si128(v + 3));
  // The odd 32-bit lanes are the words' high halves (little-endian).
  __m128i hi0123 = _mm_castps_si128(_mm_shuffle_ps(w01, w23, _MM_SHUFFLE(3, 1, 3, 1)));
  __m128i hi4567 = _mm_castps_si128(_mm_shuffle_ps(w45, w67, _MM_SHUFFLE(3, 1, 3, 1)));
  __m128i k = _mm_set1_epi32(static_cast<int>(key >> 32));
  unsigned lo = static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi0123, k))));
  unsigned hi = static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi4567, k))));
  return lo | (hi << 4);
#else
  unsigned mask = 0;
  for (std::size_t i = 0; i < kSlots; ++i) {
    mask |= static_cast<unsigned>((bucket[i] & ~kClassMask) == key) << i;
  }
  return mask;
#endif
}

// The slot of `bucket` that holds `key`, or -1.
inline int FindInBucket(const std::uint64_t* bucket, std::uint64_t key) {
  for (unsigned m = CandidateMask(bucket, key); m != 0; m &= m - 1) {
    int i = __builtin_ctz(m);
    if ((bucket[i] & ~kClassMask) == key) return i;
  }
  return -1;
}

// Slots fill front to back and are never cleared, so a bucket has room iff its last slot
// is empty, and no key lives past a bucket with room.
inline bool HasRoom(const std::uint64_t* bucket) { return bucket[kSlots - 1] == 0; }

// Walks longer than this mean the table is hopelessly overfull for its hash spread; the
// Builder refuses the entry rather than let lookups degrade.
constexpr std::size_t kMaxWalkBuckets = 512;
// Keeps at least one empty slot (so every walk ends) and the walks short.
constexpr double kMaxFill = 0.95;

// ---- File format -----------------------------------------------------------------------
//
// [FileHeader, 64 bytes][nbuckets * 64 bytes of table], native byte order (x86-64). The
// header is one cache line so the mapped table stays 64-byte aligned.

constexpr std::uint64_t kFileMagic = 0x3158444944524153ULL;  // "SARDIDX1"
// Covers the layout and the hash function: an index saved by another version won't load.
constexpr std::uint32_t kFileVersion = 1;

struct FileHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t header_bytes;
  std::uint64_t tag;
  std::uint64_t nbuckets;
  std::uint64_t entries;
  std::uint64_t checksum;  // TableChecksum over the table, seeded with the fields above
  std::uint64_t reserved[2];
};
static_assert(sizeof(FileHeader) == kBucketBytes);

inline std::uint64_t Rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t kPrime3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t kPrime4 = 0x85EBCA77C2B2AE63ULL;

inline std::uint64_t XxRound(std::uint64_t acc, std::uint64_t input) {
  return Rotl(acc + input * kPrime2, 31) * kPrime1;
}

inline std::uint64_t XxMerge(std::uint64_t acc, std::uint64_t v) {
  return (acc ^ XxRound(0, v)) * kPrime1 + kPrime4;
}

std::uint64_t HeaderSeed(const FileHeader& h) {
  return Mum(Mum(h.tag ^ kSecret0, h.nbuckets ^ kSecret1) ^ h.entries, kSecret2 ^ h.version);
}

// XXH64's stripe loop over whole words (the table is a multiple of 32 bytes). Also counts
// the used slots, which Load checks against the header.
std::uint64_t TableChecksum(const std::uint64_t* words, std::size_t nwords, std::uint64_t seed,
                            std::size_t* used) {
  std::uint64_t v1 = seed + kPrime1 + kPrime2;
  std::uint64_t v2 = seed + kPrime2;
  std::uint64_t v3 = seed;
  std::uint64_t v4 = seed - kPrime1;
  std::size_t empty = 0;
  for (std::size_t i = 0; i < nwords; i += 4) {
    v1 = XxRound(v1, words[i]);
    v2 = XxRound(v2, words[i + 1]);
    v3 = XxRound(v3, words[i + 2]);
    v4 = XxRound(v4, words[i + 3]);
    empty += (words[i] == 0) + (words[i + 1] == 0) + (words[i + 2] == 0) + (words[i + 3] == 0);
  }
  *used = nwords - empty;
  std::uint64_t h = Rotl(v1, 1) + Rotl(v2, 7) + Rotl(v3, 12) + Rotl(v4, 18);
  h = XxMerge(XxMerge(XxMerge(XxMerge(h, v1), v2), v3), v4);
  h += nwords * sizeof(std::uint64_t);
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

Status WriteAll(int fd, const void* data, std::size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(ErrnoText("write", path));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status::OK();
}

// After a rename, the new directory entry is durable only once the directory is synced.
Status SyncParentDir(const std::string& path) {
  std::size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoText("open", dir));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Status::IOError(ErrnoText("fsync", dir));
  return Status::OK();
}

}  // namespace

// ---- Suffix hashing --------------------------------------------------------------------

void HashSuffixes(std::string_view name, NameSuffixes* out) {
  out->count = 0;
  // start[] holds offsets as bytes; a longer text is no valid name, and gets no suffixes.
  if (name.size() > 255) return;
  const char* p = name.data();
  std::uint64_t h = kSeed;
  std::size_t end = name.size();
  int count = 0;
  for (std::size_t i = end; i-- > 0;) {
    if (p[i] != '.') continue;
    // Only a run of empty labels gets here: no valid name has that many.
    if (count == NameSuffixes::kMaxSuffixes - 1) return;
    h = Combine(h, HashLabel(p + i + 1, end - i - 1), end - i - 1);
    out->hash[count] = h;
    out->start[count] = static_cast<std::uint8_t>(i + 1);
    ++count;
    end = i;
  }
  h = Combine(h, HashLabel(p, end), end);
  out->hash[count] = h;
  out->start[count] = 0;
  out->count = count + 1;
}

std::uint64_t HashDomain(std::string_view name) {
  const char* p = name.data();
  std::uint64_t h = kSeed;
  std::size_t end = name.size();
  for (std::size_t i = end; i-- > 0;) {
    if (p[i] != '.') continue;
    h = Combine(h, HashLabel(p + i + 1, end - i - 1), end - i - 1);
    end = i;
  }
  return Combine(h, HashLabel(p, end), end);
}

// ---- DomainIndex -----------------------------------------------------------------------

// The table lives in a mapping we own: anonymous memory from a Builder, or a private
// read-only map of a saved file (the table then starts one header past `base`).
struct DomainIndex::Rep {
  void* base = nullptr;
  std::size_t length = 0;
  const std::uint64_t* words = nullptr;
  std::size_t nbuckets = 0;
  std::size_t entries = 0;

  Rep() = default;
  Rep(const Rep&) = delete;
  Rep& operator=(const Rep&) = delete;
  ~Rep() {
    if (base != nullptr) munmap(base, length);
  }
};

DomainIndex::DomainIndex(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
DomainIndex::~DomainIndex() = default;

DomainIndex::ClassId DomainIndex::Find(std::uint64_t hash) const {
  const Rep& r = *rep_;
  const std::uint64_t key = KeyOf(hash);
  std::size_t b = BucketOf(hash, r.nbuckets);
  for (;;) {
    const std::uint64_t* bucket = r.words + b * kSlots;
    if (int i = FindInBucket(bucket, key); i >= 0) {
      return static_cast<ClassId>(bucket[i] & kClassMask);
    }
    if (HasRoom(bucket)) return kNotFound;
    if (++b == r.nbuckets) b = 0;
  }
}

void DomainIndex::Prefetch(std::uint64_t hash) const {
  __builtin_prefetch(rep_->words + BucketOf(hash, rep_->nbuckets) * kSlots);
}

std::size_t DomainIndex::size() const { return rep_->entries; }

std::size_t DomainIndex::memory_bytes() const { return rep_->nbuckets * kBucketBytes; }

Status DomainIndex::Save(const std::string& path, std::uint64_t tag) const {
  FileHeader h{};
  h.magic = kFileMagic;
  h.version = kFileVersion;
  h.header_bytes = sizeof(FileHeader);
  h.tag = tag;
  h.nbuckets = rep_->nbuckets;
  h.entries = rep_->entries;
  std::size_t used;
  h.checksum = TableChecksum(rep_->words, rep_->nbuckets * kSlots, HeaderSeed(h), &used);

  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(ErrnoText("create", tmp));
  Status st = WriteAll(fd, &h, sizeof(h), tmp);
  if (st.ok()) st = WriteAll(fd, rep_->words, memory_bytes(), tmp);
  if (st.ok() && fsync(fd) != 0) st = Status::IOError(ErrnoText("fsync", tmp));
  if (close(fd) != 0 && st.ok()) st = Status::IOError(ErrnoText("close", tmp));
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::IOError(ErrnoText("rename to " + path + ":", tmp));
  }
  if (!st.ok()) {
    unlink(tmp.c_str());
    return st;
  }
  return SyncParentDir(path);
}

Status DomainIndex::Load(const std::string& path, std::unique_ptr<DomainIndex>* out,
                         std::uint64_t* tag) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    bool missing = errno == ENOENT;
    std::string msg = ErrnoText("open", path);
    return missing ? Status::NotFound(msg) : Status::IOError(msg);
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    Status st = Status::IOError(ErrnoText("stat", path));
    close(fd);
    return st;
  }
  const auto size = static_cast<std::size_t>(sb.st_size);
  if (size < sizeof(FileHeader)) {
    close(fd);
    return Status::Corruption(path + ": too short for a domain index");
  }
  void* base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  Status map_error = base == MAP_FAILED ? Status::IOError(ErrnoText("mmap", path)) : Status();
  close(fd);
  if (!map_error.ok()) return map_error;

  auto rep = std::make_unique<Rep>();
  rep->base = base;
  rep->length = size;
  FileHeader h;
  std::memcpy(&h, base, sizeof(h));
  auto corrupt = [&path](const char* why) {
    return Status::Corruption(path + ": " + why);
  };
  if (h.magic != kFileMagic) return corrupt("not a domain index (bad magic)");
  if (h.version != kFileVersion) return corrupt("unsupported domain index version");
  if (h.header_bytes != sizeof(FileHeader) || h.reserved[0] != 0 || h.reserved[1] != 0) {
    return corrupt("bad header");
  }
  const std::size_t table_bytes = size - sizeof(FileHeader);
  if (h.nbuckets == 0 || h.nbuckets > table_bytes / kBucketBytes ||
      h.nbuckets * kBucketBytes != table_bytes) {
    return corrupt("file size does not match the header");
  }
  const auto* words =
      reinterpret_cast<const std::uint64_t*>(static_cast<const char*>(base) + sizeof(h));
  std::size_t used;
  if (TableChecksum(words, h.nbuckets * kSlots, HeaderSeed(h), &used) != h.checksum) {
    return corrupt("checksum mismatch");
  }
  if (used != h.entries) return corrupt("entry count does not match the table");
  // Every Find walk ends at a bucket with room; a file without one (its checksum made to
  // fit) would make lookups spin. A sound table has one within its first few buckets.
  std::size_t b = 0;
  while (b < h.nbuckets && !HasRoom(words + b * kSlots)) ++b;
  if (b == h.nbuckets) return corrupt("no bucket has room");

  rep->words = words;
  rep->nbuckets = h.nbuckets;
  rep->entries = h.entries;
  if (tag != nullptr) *tag = h.tag;
  out->reset(new DomainIndex(std::move(rep)));
  return Status::OK();
}

// ---- Builder ---------------------------------------------------------------------------

struct DomainIndex::Builder::Rep {
  std::unique_ptr<DomainIndex::Rep> table;  // writable until Finish hands it over
  std::uint64_t* words = nullptr;
  std::size_t max_entries = 0;
  PreferFn prefer;
};

DomainIndex::Builder::Builder(std::size_t expected_entries, double load_factor,
                              PreferFn prefer)
    : rep_(std::make_unique<Rep>()) {
  // Out-of-range factors would mean an empty-less table or a wasteful one.
  if (!(load_factor >= 0.05)) load_factor = 0.05;
  if (load_factor > kMaxFill) load_factor = kMaxFill;
  auto nbuckets = static_cast<std::size_t>(
      std::ceil(static_cast<double>(expected_entries) / (load_factor * kSlots)));
  if (nbuckets == 0) nbuckets = 1;
  const std::size_t capacity = nbuckets * kSlots;

  auto table = std::make_unique<DomainIndex::Rep>();
  table->length = nbuckets * kBucketBytes;
  // A mapping, like a loaded table: page-aligned, zero-filled, and one munmap frees either.
  // (2 MB pages were tried: no measurable gain, the misses overlap well enough.)
  void* base = mmap(nullptr, table->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  table->base = base;
  table->nbuckets = nbuckets;
  table->words = static_cast<const std::uint64_t*>(table->base);
  rep_->words = static_cast<std::uint64_t*>(table->base);
  rep_->max_entries = std::min(static_cast<std::size_t>(capacity * kMaxFill), capacity - 1);
  rep_->table = std::move(table);
  rep_->prefer = std::move(prefer);
}

DomainIndex::Builder::~Builder() = default;

bool DomainIndex::Builder::Add(std::uint64_t hash, ClassId cls) {
  Rep& r = *rep_;
  if (cls > kTombstone || r.words == nullptr) return false;
  const std::size_t nbuckets = r.table->nbuckets;
  const std::uint64_t key = KeyOf(hash);
  std::size_t b = BucketOf(hash, nbuckets);
  for (std::size_t walked = 0; walked < kMaxWalkBuckets; ++walked) {
    std::uint64_t* bucket = r.words + b * kSlots;
    if (int i = FindInBucket(bucket, key); i >= 0) {
      std::uint64_t& slot = bucket[i];
      auto existing = static_cast<ClassId>(slot & kClassMask);
      if (r.prefer && existing != cls && r.prefer(cls, existing)) slot = key | cls;
      return true;
    }
    if (HasRoom(bucket)) {
      if (r.table->entries >= r.max_entries) return false;
      std::size_t i = 0;
      while (bucket[i] != 0) ++i;
      bucket[i] = key | cls;
      ++r.table->entries;
      return true;
    }
    if (++b == nbuckets) b = 0;
  }
  return false;
}

std::size_t DomainIndex::Builder::size() const {
  return rep_->table ? rep_->table->entries : 0;
}

std::unique_ptr<DomainIndex> DomainIndex::Builder::Finish() {
  if (!rep_->table) return nullptr;
  rep_->words = nullptr;
  return std::unique_ptr<DomainIndex>(new DomainIndex(std::move(rep_->table)));
}

}  // namespace saring::match
