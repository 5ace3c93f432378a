// Feed parsing: the line reader, the plain, hosts, adblock and patterns formats
// (RPZ is in rpz_parser.cc), and ParseFeed.
//
// Choices made where the formats themselves are vague, as an ISP operator
// would want them:
// - Input: a leading UTF-8 byte order mark is ignored. A line's length is
//   counted without its "\n" or "\r\n". A NUL byte after the first 4 KiB only
//   spoils its own line. `*stats` is reset at the start; a null `stats` is
//   allowed. On an error return the sink has seen only part of the input,
//   which the caller must discard (a feed must never shrink by accident).
// - Accounting: each line has exactly one outcome (an entry, a reject or a
//   skip), so lines == entries + rejected + skipped, except that a hosts line
//   has one outcome per name after the address (entry, reject, or skip for a
//   local name). RPZ counts a record spanning several lines (parentheses) as
//   one outcome on its first line plus one skip per further line.
// - Domains, all formats: a single label ("com", "id") is rejected, since one
//   junk line must not block a whole top-level domain; so is an all-numeric
//   top label (a mangled IP address).
// - plain: '#' starts a comment at the start of a line or after white space.
//   A URL may stand for its host only when it is http(s) with no path beyond
//   "/"; the same holds for a scheme-less "name/". A line of several words is
//   rejected (with a hint when it looks like a hosts line).
// - hosts: any address is accepted in front (0.0.0.0, 127.0.0.1, ::, a real
//   IP); every name after it is an entry with the default action. An address
//   with no names is rejected.
// - adblock: "||name^", "||name^|", "||name/" and "||name" all mean the
//   domain. Lines starting with '#' are comments unless they are cosmetic
//   rules ("##", "#@#", ...), which are rejected.
// - patterns: only the 1024-byte limit and NUL bytes are checked here.
#include "saring/feed_format.h"

#include <algorithm>
#include <cstring>
#include <istream>
#include <limits>
#include <memory>
#include <string>

#include "feed/line_parser.h"
#include "saring/name.h"

namespace saring {
namespace {

using feed::LineParser;
using feed::NextToken;
using feed::Trim;

constexpr std::size_t kReadChunk = 1 << 20;
constexpr std::size_t kTextCheckBytes = 4096;
constexpr std::size_t kMaxPatternLength = 1024;
constexpr std::string_view kUrlPathReason = "URL with a path; add it as a url rule";

// Cuts a '#' comment that starts the line or follows white space.
std::string_view StripComment(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '#' && (i == 0 || feed::IsSpace(s[i - 1]))) return Trim(s.substr(0, i));
  }
  return s;
}

class PlainParser final : public LineParser {
 public:
  using LineParser::LineParser;

  void Line(std::size_t number, std::string_view text) override {
    std::string_view s = StripComment(Trim(text));
    if (s.empty()) return Skip();
    if (std::find_if(s.begin(), s.end(), feed::IsSpace) != s.end()) {
      std::string_view rest = s;
      return Reject(number,
                    LooksLikeIpAddress(NextToken(&rest))
                        ? "looks like a hosts-file line; use the hosts format"
                        : "several words on one line",
                    s);
    }
    std::string_view reason = Host(s);
    if (!reason.empty()) return Reject(number, reason, s);
    Entry(number, RuleKind::kDomain, options_.default_action, name());
  }

 private:
  // Feeds carry the odd URL where a name belongs. One that means "the whole
  // site" gives its host; anything narrower is not a domain rule.
  std::string_view Host(std::string_view token) {
    std::string_view rest = token;
    bool url = false;
    if (std::size_t p = token.find("://"); p != std::string_view::npos) {
      std::string_view scheme = token.substr(0, p);
      if (!feed::EqualsIgnoreCase(scheme, "http") && !feed::EqualsIgnoreCase(scheme, "https")) {
        return "URL scheme other than http or https";
      }
      rest = token.substr(p + 3);
      url = true;
    }
    // Not find_first_of: that costs a memchr per character on this hot path.
    auto end = std::find_if(rest.begin(), rest.end(),
                            [](char c) { return c == '/' || c == '?' || c == '#'; });
    std::string_view host(rest.begin(), end);
    if (end != rest.end() && std::string_view(end, rest.end()) != "/") return kUrlPathReason;
    if (url) {
      if (std::size_t at = host.rfind('@'); at != std::string_view::npos) {
        host.remove_prefix(at + 1);
      }
      // Brackets in a URL hold only an IPv6 literal.
      if (host.starts_with('[')) return feed::kIpAddressReason;
      if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
        if (!feed::AllDigits(host.substr(colon + 1))) return "invalid port in URL";
        host = host.substr(0, colon);
      }
    }
    return Domain(host);
  }
};

class HostsParser final : public LineParser {
 public:
  using LineParser::LineParser;

  void Line(std::size_t number, std::string_view text) override {
    std::string_view s = StripComment(Trim(text));
    if (s.empty()) return Skip();
    std::string_view rest = s;
    std::string_view address = NextToken(&rest);
    if (address != "0" && !LooksLikeIpAddress(address)) {
      return Reject(number, "hosts line does not start with an IP address", s);
    }
    std::string_view host = NextToken(&rest);
    if (host.empty()) return Reject(number, "hosts line without a name", s);
    for (; !host.empty(); host = NextToken(&rest)) {
      if (IsLocalName(host)) {
        Skip();
        continue;
      }
      std::string_view reason = Domain(host);
      if (reason.empty()) {
        Entry(number, RuleKind::kDomain, options_.default_action, name());
      } else {
        Reject(number, reason, s);
      }
    }
  }

 private:
  // Names every stock hosts file maps to itself; they are not blocklist entries.
  static bool IsLocalName(std::string_view host) {
    static constexpr std::string_view kLocalNames[] = {
        "localhost",      "localhost.localdomain", "local",          "broadcasthost",
        "ip6-localhost",  "ip6-loopback",          "ip6-localnet",   "ip6-mcastprefix",
        "ip6-allnodes",   "ip6-allrouters",        "ip6-allhosts",   "0.0.0.0",
    };
    if (host.ends_with('.')) host.remove_suffix(1);
    for (std::string_view local : kLocalNames) {
      if (feed::EqualsIgnoreCase(host, local)) return true;
    }
    return false;
  }
};

class AdblockParser final : public LineParser {
 public:
  using LineParser::LineParser;

  void Line(std::size_t number, std::string_view text) override {
    std::string_view s = Trim(text);
    if (s.empty() || s.front() == '!') return Skip();
    if (s.front() == '[' && s.back() == ']') return Skip();  // "[Adblock Plus 2.0]"
    for (std::string_view marker : {"##", "#@#", "#?#", "#$#", "#%#"}) {
      if (s.find(marker) != std::string_view::npos) {
        return Reject(number, "cosmetic (element hiding) rules not supported", s);
      }
    }
    if (s.front() == '#') return Skip();

    std::string_view rule = s;
    Action action = Action::kBlock;
    if (rule.starts_with("@@")) {
      action = Action::kAllow;
      rule.remove_prefix(2);
    }
    if (rule.size() >= 2 && rule.front() == '/' && rule.back() == '/') {
      return Reject(number, "regex rules not supported; use the patterns format", s);
    }
    if (!rule.starts_with("||")) {
      return Reject(number, "only ||name^ rules are supported", s);
    }
    rule.remove_prefix(2);
    if (std::size_t dollar = rule.find('$'); dollar != std::string_view::npos) {
      if (!OnlyImportant(rule.substr(dollar + 1))) {
        return Reject(number, "adblock options not supported", s);
      }
      rule = rule.substr(0, dollar);
    }
    std::size_t end = rule.find_first_of("^/");
    std::string_view host = rule.substr(0, end);
    if (end != std::string_view::npos) {
      std::string_view tail = rule.substr(end);
      if (tail != "^" && tail != "^|" && tail != "/") {
        return Reject(number, "adblock rule with a path; add it as a url rule", s);
      }
    }
    if (host.find('*', host.starts_with("*.") ? 2 : 0) != std::string_view::npos) {
      return Reject(number, "wildcard rules not supported; use the patterns format", s);
    }
    std::string_view reason = Domain(host);
    if (!reason.empty()) return Reject(number, reason, s);
    Entry(number, RuleKind::kDomain, action, name());
  }

 private:
  // "$important" only raises priority; every other option narrows or changes
  // what the rule matches, so taking the bare domain would over-block.
  static bool OnlyImportant(std::string_view options) {
    while (true) {
      std::size_t comma = options.find(',');
      if (Trim(options.substr(0, comma)) != "important") return false;
      if (comma == std::string_view::npos) return true;
      options.remove_prefix(comma + 1);
    }
  }
};

class PatternsParser final : public LineParser {
 public:
  using LineParser::LineParser;

  void Line(std::size_t number, std::string_view text) override {
    std::string_view s = Trim(text);
    if (s.empty() || s.front() == '#') return Skip();
    if (s.size() > kMaxPatternLength) return Reject(number, "pattern longer than 1024 bytes", s);
    if (s.find('\0') != std::string_view::npos) return Reject(number, "NUL byte in pattern", s);
    Entry(number, RuleKind::kPattern, options_.default_action, s);
  }
};

std::unique_ptr<LineParser> NewParser(FeedFormat format, const FeedParseOptions& options,
                                      FeedSink* sink, FeedParseStats* stats) {
  switch (format) {
    case FeedFormat::kPlain: return std::make_unique<PlainParser>(options, sink, stats);
    case FeedFormat::kHosts: return std::make_unique<HostsParser>(options, sink, stats);
    case FeedFormat::kAdblock: return std::make_unique<AdblockParser>(options, sink, stats);
    case FeedFormat::kRpz: return feed::NewRpzParser(options, sink, stats);
    case FeedFormat::kPatterns: return std::make_unique<PatternsParser>(options, sink, stats);
  }
  return nullptr;
}

// Splits the stream into lines for `parser`. Lines are handed out as views
// into the read buffer; only a line that crosses a chunk boundary is copied,
// and of a line over the limit only the first bytes are kept.
class LineReader {
 public:
  LineReader(std::size_t max_line_length, LineParser* parser, FeedParseStats* stats)
      : max_(max_line_length),
        // One byte over the limit may still be the '\r' of "\r\n".
        carry_limit_(max_line_length + (max_line_length < kNoLimit ? 1 : 0)),
        parser_(parser),
        stats_(stats) {}

  Status Read(std::istream& in) {
    auto buffer = std::make_unique_for_overwrite<char[]>(kReadChunk);
    bool first = true;
    while (true) {
      in.read(buffer.get(), kReadChunk);
      std::size_t n = static_cast<std::size_t>(in.gcount());
      stats_->bytes += n;
      if (in.bad() || (in.fail() && !in.eof())) {
        return Status::IOError("read failed after " + std::to_string(stats_->bytes) + " bytes");
      }
      std::string_view chunk(buffer.get(), n);
      if (first) {
        first = false;
        if (chunk.substr(0, kTextCheckBytes).find('\0') != std::string_view::npos) {
          return Status::InvalidArgument(
              "input is not text (NUL byte in the first 4 KiB; binary or UTF-16?)");
        }
        if (chunk.starts_with("\xEF\xBB\xBF")) chunk.remove_prefix(3);
      }
      Split(chunk);
      if (in.eof()) break;
    }
    if (pending_) EndLine({});
    parser_->End();
    return Status::OK();
  }

 private:
  void Split(std::string_view chunk) {
    while (true) {
      const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
      if (nl == nullptr) break;
      std::size_t len = static_cast<const char*>(nl) - chunk.data();
      EndLine(chunk.substr(0, len));
      chunk.remove_prefix(len + 1);
    }
    if (!chunk.empty()) {
      Carry(chunk);
      pending_ = true;
    }
  }

  void Carry(std::string_view part) {
    if (too_long_) return;
    if (carry_.size() + part.size() <= carry_limit_) {
      carry_.append(part);
      return;
    }
    too_long_ = true;
    // One byte more than the reject text, so that it can be cut on a UTF-8 boundary.
    constexpr std::size_t kKeep = feed::kMaxRejectText + 1;
    if (carry_.size() < kKeep) carry_.append(part.substr(0, kKeep - carry_.size()));
    carry_.resize(std::min(carry_.size(), kKeep));
  }

  // `tail` is the part of the line in the current chunk.
  void EndLine(std::string_view tail) {
    std::string_view line = tail;
    if (pending_) {
      Carry(tail);
      line = carry_;
    }
    if (line.ends_with('\r')) line.remove_suffix(1);
    ++stats_->lines;
    if (too_long_ || line.size() > max_) {
      parser_->TooLong(stats_->lines, line);
    } else {
      parser_->Line(stats_->lines, line);
    }
    carry_.clear();
    pending_ = false;
    too_long_ = false;
  }

  static constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

  const std::size_t max_;
  const std::size_t carry_limit_;
  LineParser* parser_;
  FeedParseStats* stats_;
  std::string carry_;      // the start of a line that crossed a chunk boundary
  bool pending_ = false;   // carry_ holds a line not yet ended
  bool too_long_ = false;  // that line is over the limit; carry_ keeps its start
};

}  // namespace

std::string_view ToString(FeedFormat format) {
  switch (format) {
    case FeedFormat::kPlain: return "plain";
    case FeedFormat::kHosts: return "hosts";
    case FeedFormat::kAdblock: return "adblock";
    case FeedFormat::kRpz: return "rpz";
    case FeedFormat::kPatterns: return "patterns";
  }
  return "?";
}

bool ParseFeedFormat(std::string_view text, FeedFormat* format) {
  for (FeedFormat f : {FeedFormat::kPlain, FeedFormat::kHosts, FeedFormat::kAdblock,
                       FeedFormat::kRpz, FeedFormat::kPatterns}) {
    if (text == ToString(f)) {
      *format = f;
      return true;
    }
  }
  return false;
}

Status ParseFeed(FeedFormat format, std::istream& in, const FeedParseOptions& options,
                 FeedSink* sink, FeedParseStats* stats) {
  FeedParseStats local;
  if (stats == nullptr) stats = &local;
  *stats = {};
  std::unique_ptr<LineParser> parser = NewParser(format, options, sink, stats);
  if (parser == nullptr) return Status::InvalidArgument("unknown feed format");
  return LineReader(options.max_line_length, parser.get(), stats).Read(in);
}

}  // namespace saring
