// Feed formats: the text formats rules arrive in (the national list, hosts
// files, adblock lists, RPZ zones, pattern lists), and the streaming parser
// that turns them into normalized rule values.
//
// The parser keeps no state between calls; any thread may run it on its own
// stream and sink. It never stops at a bad line: every line is either an
// entry, a rejection with a reason, or skipped (blank or comment).
#ifndef SARING_FEED_FORMAT_H_
#define SARING_FEED_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

#include "saring/rule.h"
#include "saring/status.h"

namespace saring {

enum class FeedFormat : std::uint8_t {
  kPlain,     // one domain per line (TrustPositif domains_isp, community lists)
  kHosts,     // "0.0.0.0 name [name...]" hosts-file lines
  kAdblock,   // "||name^" (block) and "@@||name^" (allow) lines
  kRpz,       // RPZ zone file: "name CNAME ." (block), "name CNAME rpz-passthru." (allow)
  kPatterns,  // one Hyperscan regex over host names per line
};

std::string_view ToString(FeedFormat format);
bool ParseFeedFormat(std::string_view text, FeedFormat* format);

// One rule a line yields. `value` is normalized (domains) or trimmed (patterns)
// and is valid only during the OnEntry call.
struct FeedEntry {
  std::size_t line = 0;  // 1-based line number in the input
  RuleKind kind = RuleKind::kDomain;
  Action action = Action::kBlock;
  std::string_view value;
};

// A line that yields no rule, and why. Views are valid only during the call.
struct FeedReject {
  std::size_t line = 0;
  std::string_view reason;  // e.g. "IP address, not a domain"
  std::string_view text;    // the offending line, cut to at most 200 bytes
};

// Receives what the parser finds, in input order.
class FeedSink {
 public:
  virtual ~FeedSink() = default;
  virtual void OnEntry(const FeedEntry& entry) = 0;
  virtual void OnReject(const FeedReject& reject) = 0;
};

struct FeedParseOptions {
  // Action for formats that do not say (plain, hosts, patterns). Adblock and
  // RPZ lines carry their own action and ignore this.
  Action default_action = Action::kBlock;
  // Longer lines are rejected without being looked at.
  std::size_t max_line_length = 4096;
};

struct FeedParseStats {
  std::size_t lines = 0;     // lines read
  std::size_t entries = 0;   // OnEntry calls
  std::size_t rejected = 0;  // OnReject calls
  std::size_t skipped = 0;   // blank lines, comments, headers, zone bookkeeping
  std::uint64_t bytes = 0;   // bytes read
};

// Reads `in` to its end and reports every line to `sink`. Returns an error only
// when the stream itself fails (not for bad lines) or the input is not text
// (a NUL byte in the first 4 KiB).
Status ParseFeed(FeedFormat format, std::istream& in, const FeedParseOptions& options,
                 FeedSink* sink, FeedParseStats* stats);

}  // namespace saring

#endif  // SARING_FEED_FORMAT_H_
