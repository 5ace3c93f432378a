// RPZ zone files: RFC 1035 master-file syntax carrying Response Policy Zone
// rules; only QNAME triggers become domain rules.
//
// Choices beyond the master-file and RPZ specifications:
// - The policy zone name is the first $ORIGIN, or failing that the owner of an
//   SOA record written as an absolute name (zones exported with "dig axfr").
//   Relative owners are the trigger as written while $ORIGIN is the zone (or
//   not given); under a deeper $ORIGIN such as "com.rpz.example." the part
//   below the zone is appended. Absolute owners must lie under the zone.
//   $ORIGIN must be absolute; after a bad one, relative names are rejected.
// - An omitted owner is the last owner written, resolved where it is used.
// - SOA, NS and DNSSEC records, and every record at the apex, are skipped.
// - CNAME ".", "*." and "rpz-drop." block, as does a CNAME to any other name
//   (a landing page). "rpz-passthru." allows, and so does the older form, a
//   CNAME to the trigger name itself. Local data of the usual types (A, AAAA,
//   TXT, MX, ...) blocks; other types are rejected.
// - A record with nested or unbalanced parentheses, or still open after 64 KiB
//   (a missing ')'), is rejected as a whole and parsing goes on after it.
#include <algorithm>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "feed/line_parser.h"
#include "saring/name.h"

namespace saring::feed {
namespace {

// No record's data may exceed 65535 bytes; a longer one is a missing ')'.
constexpr std::size_t kMaxRecordLength = 65535;

bool IsOneOf(std::string_view word, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words) {
    if (EqualsIgnoreCase(word, w)) return true;
  }
  return false;
}

class RpzParser final : public LineParser {
 public:
  using LineParser::LineParser;

  void Line(std::size_t number, std::string_view text) override {
    if (depth_ == 0) {
      record_.clear();
      record_line_ = number;
      record_lines_ = 0;
      error_ = {};
      owner_omitted_ = !text.empty() && IsSpace(text.front());
    }
    ++record_lines_;
    Append(text);
    if (depth_ > 0) {
      if (record_.size() <= kMaxRecordLength) return;
      SetError("record longer than 65535 bytes (missing ')'?)");
    }
    FinishRecord();
  }

  void TooLong(std::size_t number, std::string_view prefix) override {
    if (depth_ > 0) {
      SetError("record cut by an overlong line");
      FinishRecord();
    }
    LineParser::TooLong(number, prefix);
  }

  void End() override {
    if (depth_ > 0) {
      SetError("unbalanced '(' at end of input");
      FinishRecord();
    }
  }

 private:
  void SetError(std::string_view reason) {
    if (error_.empty()) error_ = reason;
  }

  // Adds a line to record_ without its comment, parentheses turned to spaces.
  void Append(std::string_view text) {
    if (!record_.empty()) record_.push_back(' ');
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '\\' && i + 1 < text.size()) {
        record_.append(text.substr(i, 2));
        ++i;
        continue;
      }
      if (c == '"') {
        quoted = !quoted;
      } else if (!quoted) {
        if (c == ';') break;
        if (c == '(') {
          if (++depth_ > 1) SetError("nested parentheses");
          c = ' ';
        } else if (c == ')') {
          if (depth_ == 0) {
            SetError("unbalanced ')'");
          } else {
            --depth_;
          }
          c = ' ';
        }
      }
      record_.push_back(c);
    }
    if (quoted) SetError("unterminated quoted string");
  }

  void FinishRecord() {
    depth_ = 0;
    Skip(record_lines_ - 1);
    if (!error_.empty()) return Reject(record_line_, error_, record_);
    Tokenize();
    if (tokens_.empty()) return Skip();
    Record();
  }

  void Tokenize() {
    tokens_.clear();
    std::string_view s = record_;
    std::size_t i = 0;
    while (true) {
      while (i < s.size() && IsSpace(s[i])) ++i;
      if (i == s.size()) return;
      std::size_t start = i;
      bool quoted = false;
      for (; i < s.size() && (quoted || !IsSpace(s[i])); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '"') {
          quoted = !quoted;
        }
      }
      i = std::min(i, s.size());
      tokens_.push_back(s.substr(start, i - start));
    }
  }

  void Record() {
    if (!owner_omitted_ && tokens_[0].starts_with('$')) return Directive();
    std::size_t i = 0;
    if (!owner_omitted_) {
      last_owner_.assign(tokens_[0]);
      i = 1;
    } else if (last_owner_.empty()) {
      return Reject(record_line_, "record without an owner name", record_);
    }
    std::string_view owner = last_owner_;
    // TTL and class are both optional and may come in either order.
    bool ttl = false, klass = false;
    for (; i < tokens_.size(); ++i) {
      if (!ttl && tokens_[i][0] >= '0' && tokens_[i][0] <= '9') {
        ttl = true;
      } else if (!klass && EqualsIgnoreCase(tokens_[i], "IN")) {
        klass = true;
      } else {
        break;
      }
    }
    if (i == tokens_.size()) return Reject(record_line_, "record without a type", record_);
    std::string_view type = tokens_[i];
    std::span<const std::string_view> rdata(tokens_.begin() + i + 1, tokens_.end());

    if (IsOneOf(type, {"SOA", "NS", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "ZONEMD"})) {
      if (zone_.empty() && EqualsIgnoreCase(type, "SOA") && owner.ends_with('.')) {
        Normalize(owner, &zone_);
        UpdateOrigin();
      }
      return Skip();
    }
    std::string_view reason = Resolve(owner);
    if (!reason.empty()) return Reject(record_line_, reason, record_);
    if (trigger_.empty()) return Skip();  // the apex
    reason = SpecialTrigger();
    if (!reason.empty()) return Reject(record_line_, reason, record_);

    Action action = Action::kBlock;
    if (EqualsIgnoreCase(type, "CNAME")) {
      if (rdata.size() != 1) return Reject(record_line_, "CNAME needs one target", record_);
      std::string_view target = rdata[0];
      if (EqualsIgnoreCase(target, "rpz-tcp-only.")) {
        return Reject(record_line_, "rpz-tcp-only not supported", record_);
      }
      // Before "rpz-passthru." existed, a CNAME to the trigger itself meant the same.
      bool to_itself = target.ends_with('.') &&
                       EqualsIgnoreCase(target.substr(0, target.size() - 1), trigger_);
      if (to_itself || EqualsIgnoreCase(target, "rpz-passthru.")) action = Action::kAllow;
    } else if (IsOneOf(type, {"A", "AAAA", "TXT", "MX", "PTR", "SRV", "NAPTR", "CAA", "HTTPS",
                              "SVCB"})) {
      if (rdata.empty()) return Reject(record_line_, "record without data", record_);
    } else {
      return Reject(record_line_, "record type not supported in RPZ", record_);
    }

    reason = Domain(trigger_);
    if (!reason.empty()) return Reject(record_line_, reason, record_);
    // "name" and "*.name" (and several local-data records of one owner) make
    // one rule; the store drops duplicates that are further apart.
    if (have_last_ && action == last_action_ && name() == last_entry_) return Skip();
    last_entry_ = name();
    last_action_ = action;
    have_last_ = true;
    Entry(record_line_, RuleKind::kDomain, action, name());
  }

  void Directive() {
    std::string_view directive = tokens_[0];
    if (EqualsIgnoreCase(directive, "$TTL")) return Skip();
    if (EqualsIgnoreCase(directive, "$INCLUDE")) {
      return Reject(record_line_, "$INCLUDE not supported", record_);
    }
    if (!EqualsIgnoreCase(directive, "$ORIGIN")) {
      return Reject(record_line_, "directive not supported", record_);
    }
    if (tokens_.size() != 2) return Reject(record_line_, "$ORIGIN needs one name", record_);
    std::string_view origin = tokens_[1];
    std::string_view reason = origin.ends_with('.') ? Normalize(origin, &origin_)
                                                    : "relative $ORIGIN not supported";
    if (!reason.empty()) {
      origin_.clear();
      origin_error_ = "relative name under a rejected $ORIGIN";
      return Reject(record_line_, reason, record_);
    }
    if (zone_.empty()) zone_ = origin_;
    UpdateOrigin();
    Skip();
  }

  void UpdateOrigin() {
    origin_below_zone_.clear();
    origin_error_ = {};
    if (origin_.empty() || origin_ == zone_) return;
    if (IsSameOrSubdomain(origin_, zone_)) {
      origin_below_zone_.assign(origin_, 0, origin_.size() - zone_.size() - 1);
    } else {
      origin_error_ = "name outside the policy zone";
    }
  }

  // Puts the trigger named by `owner` into trigger_, empty for the apex.
  // Returns why it has none.
  std::string_view Resolve(std::string_view owner) {
    trigger_.clear();
    if (owner.ends_with('.')) {
      owner.remove_suffix(1);
      if (zone_.empty()) return "absolute name, but no $ORIGIN or SOA names the zone";
      if (EqualsIgnoreCase(owner, zone_)) return {};
      std::size_t cut = owner.size() - zone_.size();
      if (owner.size() <= zone_.size() || owner[cut - 1] != '.' ||
          !EqualsIgnoreCase(owner.substr(cut), zone_)) {
        return "name outside the policy zone";
      }
      trigger_.assign(owner.substr(0, cut - 1));
      return {};
    }
    if (!origin_error_.empty()) return origin_error_;
    if (owner != "@") trigger_.assign(owner);
    if (!origin_below_zone_.empty()) {
      if (!trigger_.empty()) trigger_.push_back('.');
      trigger_.append(origin_below_zone_);
    }
    return {};
  }

  // Triggers on answer IPs, name servers and clients are not names to block.
  std::string_view SpecialTrigger() const {
    static constexpr struct {
      std::string_view label;
      std::string_view reason;
    } kSpecial[] = {
        {"rpz-ip", "RPZ rpz-ip (response IP) triggers not supported"},
        {"rpz-nsdname", "RPZ rpz-nsdname (name server) triggers not supported"},
        {"rpz-nsip", "RPZ rpz-nsip (name server IP) triggers not supported"},
        {"rpz-client-ip", "RPZ rpz-client-ip (client IP) triggers not supported"},
    };
    std::string_view last = trigger_;
    if (std::size_t dot = last.rfind('.'); dot != std::string_view::npos) {
      last.remove_prefix(dot + 1);
    }
    for (const auto& special : kSpecial) {
      if (EqualsIgnoreCase(last, special.label)) return special.reason;
    }
    return {};
  }

  // The record being read: its text so far, first line, line count, open
  // parentheses, and the first thing found wrong with it.
  std::string record_;
  std::size_t record_line_ = 0;
  std::size_t record_lines_ = 0;
  std::size_t depth_ = 0;
  std::string_view error_;
  bool owner_omitted_ = false;
  std::vector<std::string_view> tokens_;  // views into record_

  std::string last_owner_;
  std::string zone_;               // the policy zone name; empty until known
  std::string origin_;             // $ORIGIN; empty until given
  std::string origin_below_zone_;  // "com" for $ORIGIN com.<zone>.
  std::string_view origin_error_;  // why relative names cannot be resolved
  std::string trigger_;

  std::string last_entry_;
  Action last_action_ = Action::kBlock;
  bool have_last_ = false;
};

}  // namespace

std::unique_ptr<LineParser> NewRpzParser(const FeedParseOptions& options, FeedSink* sink,
                                         FeedParseStats* stats) {
  return std::make_unique<RpzParser>(options, sink, stats);
}

}  // namespace saring::feed
