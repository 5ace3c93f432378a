// The part every feed format shares: outcome counting for FeedParseStats, the
// one way a token becomes a domain entry, and small text helpers. Each format
// is a LineParser subclass fed one line at a time by ParseFeed.
#ifndef SARING_FEED_LINE_PARSER_H_
#define SARING_FEED_LINE_PARSER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/ascii.h"
#include "saring/feed_format.h"
#include "saring/status.h"

namespace saring::feed {

inline constexpr std::string_view kIpAddressReason = "IP address, not a domain";
// FeedReject::text is cut to this many bytes.
inline constexpr std::size_t kMaxRejectText = 200;

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the first white-space separated token of `*rest`; empty at the end.
inline std::string_view NextToken(std::string_view* rest) {
  std::string_view s = *rest;
  std::size_t begin = 0;
  while (begin < s.size() && IsSpace(s[begin])) ++begin;
  std::size_t end = begin;
  while (end < s.size() && !IsSpace(s[end])) ++end;
  *rest = s.substr(end);
  return s.substr(begin, end - begin);
}

inline bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

using saring::EqualsIgnoreCase;  // core/ascii.h

// Every line ends in exactly one outcome (Entry, Reject or Skip), except that a
// hosts line yields one per name; FeedParseStats counts them.
class LineParser {
 public:
  LineParser(const FeedParseOptions& options, FeedSink* sink, FeedParseStats* stats);
  virtual ~LineParser() = default;
  LineParser(const LineParser&) = delete;
  LineParser& operator=(const LineParser&) = delete;

  // `text` is the line without its "\n" or "\r\n", not trimmed.
  virtual void Line(std::size_t number, std::string_view text) = 0;
  // A line over options.max_line_length; `prefix` is its start, at least
  // kMaxRejectText + 1 bytes of it when the line is that long.
  virtual void TooLong(std::size_t number, std::string_view prefix);
  // Called after the last line of an input that was read to its end.
  virtual void End() {}

 protected:
  void Entry(std::size_t line, RuleKind kind, Action action, std::string_view value);
  void Reject(std::size_t line, std::string_view reason, std::string_view text);
  void Skip(std::size_t count = 1) { stats_->skipped += count; }

  // Normalizes `token` into name(): an IP literal, a single label (a whole
  // TLD) or a numeric top label is refused, and a leading "*." or "." dropped
  // since a domain rule covers subdomains anyway. Returns the reason it is not
  // a domain, or an empty view when it is; the reason lives until the next call.
  std::string_view Domain(std::string_view token);
  // NormalizeDomain into `out`, with the same return convention as Domain.
  std::string_view Normalize(std::string_view token, std::string* out);
  const std::string& name() const { return name_; }

  const FeedParseOptions& options_;

 private:
  FeedSink* sink_;
  FeedParseStats* stats_;
  std::string name_;  // reused so that ASCII names do not allocate
  Status status_;     // holds the text of the last NormalizeDomain failure
  std::string too_long_reason_;
};

std::unique_ptr<LineParser> NewRpzParser(const FeedParseOptions& options, FeedSink* sink,
                                         FeedParseStats* stats);

}  // namespace saring::feed

#endif  // SARING_FEED_LINE_PARSER_H_
