#include "feed/line_parser.h"

#include <string>

#include "saring/name.h"

namespace saring::feed {
namespace {

// Cuts at a UTF-8 character boundary so that the text stays printable (and
// valid in JSON) wherever the admin sees it.
std::string_view CutText(std::string_view text) {
  if (text.size() <= kMaxRejectText) return text;
  std::size_t n = kMaxRejectText;
  while (n > kMaxRejectText - 3 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace

LineParser::LineParser(const FeedParseOptions& options, FeedSink* sink, FeedParseStats* stats)
    : options_(options),
      sink_(sink),
      stats_(stats),
      too_long_reason_("line longer than " + std::to_string(options.max_line_length) +
                       " bytes") {}

void LineParser::TooLong(std::size_t number, std::string_view prefix) {
  Reject(number, too_long_reason_, prefix);
}

void LineParser::Entry(std::size_t line, RuleKind kind, Action action, std::string_view value) {
  ++stats_->entries;
  sink_->OnEntry(FeedEntry{.line = line, .kind = kind, .action = action, .value = value});
}

void LineParser::Reject(std::size_t line, std::string_view reason, std::string_view text) {
  ++stats_->rejected;
  sink_->OnReject(FeedReject{.line = line, .reason = reason, .text = CutText(Trim(text))});
}

std::string_view LineParser::Normalize(std::string_view token, std::string* out) {
  Status st = NormalizeDomain(token, out);
  if (st.ok()) return {};
  status_ = std::move(st);
  return status_.message();
}

std::string_view LineParser::Domain(std::string_view token) {
  if (LooksLikeIpAddress(token)) return kIpAddressReason;
  if (token.starts_with("*.")) {
    token.remove_prefix(2);
  } else if (token.starts_with('.')) {
    token.remove_prefix(1);
  }
  if (std::string_view reason = Normalize(token, &name_); !reason.empty()) return reason;
  std::size_t dot = name_.rfind('.');
  if (dot == std::string::npos) {
    return "single label (a whole top-level domain); add such a rule by hand";
  }
  if (AllDigits(std::string_view(name_).substr(dot + 1))) {
    return "numeric top-level label; not a domain";
  }
  return {};
}

}  // namespace saring::feed
