// PatternSet: a set of regexes compiled together into one Hyperscan (or
// Vectorscan) block-mode database, scanned against host names or URLs.
//
// HOT PATH (Scan): no locks, no heap allocation once a thread has scanned this
// set before; each thread keeps its own Hyperscan scratch space.
// Thread safety: a compiled set is immutable; any number of threads may Scan
// it at once.
#ifndef SARING_MATCH_PATTERN_SET_H_
#define SARING_MATCH_PATTERN_SET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring::match {

class PatternSet {
 public:
  struct Pattern {
    std::string expression;  // Hyperscan syntax, matched case-insensitively
    std::uint32_t id = 0;    // the caller's number for it, reported on match
  };

  // Called for each pattern that matches; return true to stop scanning.
  using MatchFn = bool (*)(std::uint32_t id, void* context);

  ~PatternSet();
  PatternSet(const PatternSet&) = delete;
  PatternSet& operator=(const PatternSet&) = delete;

  // Compiles all patterns into one database. On failure the message names the
  // pattern (its id and text) and gives Hyperscan's reason. An empty span gives
  // an empty set whose Scan matches nothing.
  static Status Compile(std::span<const Pattern> patterns, std::unique_ptr<PatternSet>* out);

  // Checks that one expression compiles; the error carries Hyperscan's message.
  static Status Validate(std::string_view expression);

  // A key naming what Compile would produce for `patterns` on this machine:
  // a hash of the expressions, ids and flags, plus the Hyperscan version and
  // the CPU features the database is built for. Equal keys = same database.
  static std::string CacheKey(std::span<const Pattern> patterns);

  // Serialized database bytes (for the store's cache) and back.
  Status Serialize(std::string* out) const;
  static Status Deserialize(std::string_view bytes, std::unique_ptr<PatternSet>* out);

  // Scans `text`, calling `on_match` per matching pattern id (each id at most
  // once per scan).
  Status Scan(std::string_view text, MatchFn on_match, void* context) const;

  std::size_t pattern_count() const;
  std::size_t database_bytes() const;

 private:
  struct Rep;
  explicit PatternSet(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring::match

#endif  // SARING_MATCH_PATTERN_SET_H_
