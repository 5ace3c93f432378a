// Runs ParseFeed on a string and keeps what the sink saw, in compact text
// form so that expectations read like the feed: "3 block slot88.com".
#ifndef SARING_TESTS_FEED_FEED_TEST_UTIL_H_
#define SARING_TESTS_FEED_FEED_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "saring/feed_format.h"

namespace saring {

struct Parsed {
  Status status;
  FeedParseStats stats;
  std::vector<std::string> entries;       // "<line> <action> <value>"
  std::vector<RuleKind> kinds;            // per entry
  std::vector<std::string> rejects;       // "<line> <reason>"
  std::vector<std::string> reject_texts;  // per reject
};

class RecordingSink : public FeedSink {
 public:
  explicit RecordingSink(Parsed* out) : out_(out) {}
  void OnEntry(const FeedEntry& e) override {
    out_->entries.push_back(std::to_string(e.line) + " " + std::string(ToString(e.action)) + " " +
                            std::string(e.value));
    out_->kinds.push_back(e.kind);
  }
  void OnReject(const FeedReject& r) override {
    out_->rejects.push_back(std::to_string(r.line) + " " + std::string(r.reason));
    out_->reject_texts.emplace_back(r.text);
  }

 private:
  Parsed* out_;
};

inline Parsed ParseStream(FeedFormat format, std::istream& in, const FeedParseOptions& options) {
  Parsed p;
  RecordingSink sink(&p);
  p.status = ParseFeed(format, in, options, &sink, &p.stats);
  return p;
}

inline Parsed Parse(FeedFormat format, std::string_view input,
                    const FeedParseOptions& options = {}) {
  std::istringstream in{std::string(input)};
  return ParseStream(format, in, options);
}

// The accounting rule for every format but hosts: one outcome per line.
inline void ExpectOneOutcomePerLine(const Parsed& p) {
  EXPECT_EQ(p.stats.entries, p.entries.size());
  EXPECT_EQ(p.stats.rejected, p.rejects.size());
  EXPECT_EQ(p.stats.lines, p.stats.entries + p.stats.rejected + p.stats.skipped)
      << "entries " << p.stats.entries << ", rejected " << p.stats.rejected << ", skipped "
      << p.stats.skipped;
}

}  // namespace saring

#endif  // SARING_TESTS_FEED_FEED_TEST_UTIL_H_
