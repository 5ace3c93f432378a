// DomainIndex: the compact, immutable hash index that holds the domain rules of
// a snapshot (millions of them), probed label by label from the right.
//
// HOT PATH. Lookups never lock and never allocate. The index keeps no text:
// each entry is one 64-bit word, a 52-bit fingerprint of the domain's hash plus
// a 12-bit class id (the store's (source, category, action) triple). Words live
// in 64-byte buckets of eight; the bucket comes from the hash's high bits and a
// full bucket overflows into the next one. At the default load (0.7) that is
// about 11.4 bytes per domain.
//
// Thread safety: a built index is immutable; any number of threads may call
// its const methods at once. The Builder is single-threaded.
#ifndef SARING_MATCH_DOMAIN_INDEX_H_
#define SARING_MATCH_DOMAIN_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring::match {

// The hash of every suffix of a normalized name, from the top-level label
// (suffix 0) to the whole name (suffix count-1). The hash of a suffix depends
// only on the suffix text, so "b.c" hashes the same alone or inside "a.b.c".
struct NameSuffixes {
  static constexpr int kMaxSuffixes = 128;  // a 253-octet name has at most 127 labels
  int count = 0;
  std::uint64_t hash[kMaxSuffixes];
  std::uint8_t start[kMaxSuffixes];  // offset in the name where suffix i begins
};

// Fills `out` for `name` (normalized; no allocation). One multiply-mix per label.
void HashSuffixes(std::string_view name, NameSuffixes* out);

// The hash of the whole name: equal to the last suffix hash HashSuffixes gives.
std::uint64_t HashDomain(std::string_view name);

class DomainIndex {
 public:
  using ClassId = std::uint16_t;
  static constexpr ClassId kMaxClass = 0x0FFE;   // usable ids: 0..kMaxClass
  static constexpr ClassId kTombstone = 0x0FFF;  // delta layers: "removed from the base"
  static constexpr ClassId kNotFound = 0xFFFF;   // Find's answer when absent

  ~DomainIndex();
  DomainIndex(const DomainIndex&) = delete;
  DomainIndex& operator=(const DomainIndex&) = delete;

  // The class stored for `hash`, or kNotFound.
  ClassId Find(std::uint64_t hash) const;
  // Hints the CPU to fetch the bucket `hash` maps to (batched lookups).
  void Prefetch(std::uint64_t hash) const;

  std::size_t size() const;          // entries
  std::size_t memory_bytes() const;  // bytes of the table itself
  bool empty() const { return size() == 0; }

  // Writes the index to `path` atomically (temporary file + rename), with
  // `tag` (the store serial it was built from) in its header.
  Status Save(const std::string& path, std::uint64_t tag) const;
  // Maps a saved index (mmap, populated). Corruption if the file is damaged.
  static Status Load(const std::string& path, std::unique_ptr<DomainIndex>* out,
                     std::uint64_t* tag);

  // Builds an index. Add every entry, then Finish.
  class Builder {
   public:
    // Decides which of two classes a duplicate hash keeps: true = `incoming`.
    using PreferFn = std::function<bool(ClassId incoming, ClassId existing)>;

    // `expected_entries` sizes the table (at `load_factor`); more entries than
    // that may make Add fail with "full", and the caller builds again, larger.
    explicit Builder(std::size_t expected_entries, double load_factor = 0.7,
                     PreferFn prefer = nullptr);
    ~Builder();
    Builder(const Builder&) = delete;
    Builder& operator=(const Builder&) = delete;

    // False when the table has no room left for this entry (or `cls` > kTombstone).
    bool Add(std::uint64_t hash, ClassId cls);
    std::size_t size() const;
    // Once only: the builder is spent afterwards (Add fails, Finish gives nullptr).
    std::unique_ptr<DomainIndex> Finish();

   private:
    struct Rep;
    std::unique_ptr<Rep> rep_;
  };

 private:
  struct Rep;
  explicit DomainIndex(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring::match

#endif  // SARING_MATCH_DOMAIN_INDEX_H_
