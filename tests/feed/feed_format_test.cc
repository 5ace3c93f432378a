#include "saring/feed_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <vector>

#include "feed/feed_test_util.h"

namespace saring {
namespace {

using Lines = std::vector<std::string>;

// ---------------------------------------------------------------- format names

TEST(FeedFormatTest, NamesRoundTrip) {
  for (FeedFormat f : {FeedFormat::kPlain, FeedFormat::kHosts, FeedFormat::kAdblock,
                       FeedFormat::kRpz, FeedFormat::kPatterns}) {
    FeedFormat parsed = FeedFormat::kPlain;
    ASSERT_TRUE(ParseFeedFormat(ToString(f), &parsed)) << ToString(f);
    EXPECT_EQ(parsed, f);
  }
  EXPECT_EQ(ToString(FeedFormat::kHosts), "hosts");
  EXPECT_EQ(ToString(FeedFormat::kRpz), "rpz");
  FeedFormat f = FeedFormat::kHosts;
  EXPECT_FALSE(ParseFeedFormat("Plain", &f));
  EXPECT_FALSE(ParseFeedFormat("", &f));
  EXPECT_FALSE(ParseFeedFormat("domains", &f));
  EXPECT_EQ(f, FeedFormat::kHosts);
}

// ---------------------------------------------------------------------- plain

TEST(PlainFeedTest, NormalizesTheJunkRealFeedsCarry) {
  Parsed p = Parse(FeedFormat::kPlain,
                   "slot88.com\n"
                   "  GACOR.Net.  \n"
                   "\n"
                   "# full-line comment\n"
                   "maxwin.org # trailing comment\n"
                   "*.togel.id\n"
                   ".judi.co.id\n"
                   "http://casino1.com/\n"
                   "HTTPS://user:pw@Casino2.com:8443\n"
                   "casino3.com/\n"
                   "bücher.de\n"
                   "under_score.example.com\n");
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.entries, (Lines{"1 block slot88.com", "2 block gacor.net", "5 block maxwin.org",
                              "6 block togel.id", "7 block judi.co.id", "8 block casino1.com",
                              "9 block casino2.com", "10 block casino3.com",
                              "11 block xn--bcher-kva.de", "12 block under_score.example.com"}));
  EXPECT_TRUE(p.rejects.empty()) << p.rejects[0];
  EXPECT_EQ(p.stats.lines, 12u);
  EXPECT_EQ(p.stats.skipped, 2u);
  ExpectOneOutcomePerLine(p);
  for (RuleKind kind : p.kinds) EXPECT_EQ(kind, RuleKind::kDomain);
}

TEST(PlainFeedTest, RejectsWhatIsNotADomain) {
  std::string label64(64, 'a');
  std::string name254 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                        std::string(63, 'c') + "." + std::string(62, 'd');
  ASSERT_EQ(name254.size(), 254u);
  Parsed p = Parse(FeedFormat::kPlain,
                   "1.2.3.4\n"
                   "2001:db8::1\n"
                   "[2001:db8::1]\n"
                   "http://1.2.3.4/\n"
                   "http://[::1]:80/\n"
                   "http://slot.com/page.html\n"
                   "https://slot.com/?ref=1\n"
                   "slot.com/promo\n"
                   "ftp://slot.com/\n"
                   "http://slot.com:80x/\n"
                   "slot.com gacor.com\n"
                   "0.0.0.0 slot.com\n"
                   "com\n"
                   "10.0.0.256\n"
                   "bad..name.com\n"
                   "-bad.com\n" +
                       label64 + ".com\n" + name254 + "\n" +
                       "||adblock.com^\n");
  ASSERT_TRUE(p.status.ok());
  EXPECT_TRUE(p.entries.empty()) << p.entries[0];
  EXPECT_EQ(p.rejects,
            (Lines{"1 IP address, not a domain",
                   "2 IP address, not a domain",
                   "3 IP address, not a domain",
                   "4 IP address, not a domain",
                   "5 IP address, not a domain",
                   "6 URL with a path; add it as a url rule",
                   "7 URL with a path; add it as a url rule",
                   "8 URL with a path; add it as a url rule",
                   "9 URL scheme other than http or https",
                   "10 invalid port in URL",
                   "11 several words on one line",
                   "12 looks like a hosts-file line; use the hosts format",
                   "13 single label (a whole top-level domain); add such a rule by hand",
                   "14 numeric top-level label; not a domain",
                   "15 empty label",
                   "16 label starts or ends with '-'",
                   "17 label longer than 63 octets",
                   "18 name longer than 253 octets",
                   "19 character '|' not allowed in a host name"}));
  EXPECT_EQ(p.reject_texts[5], "http://slot.com/page.html");
  ExpectOneOutcomePerLine(p);
}

TEST(PlainFeedTest, LongestValidNameAndLabelPass) {
  std::string label63(63, 'a');
  std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  Parsed p = Parse(FeedFormat::kPlain, label63 + ".com\n" + name253 + ".\n");
  EXPECT_EQ(p.entries, (Lines{"1 block " + label63 + ".com", "2 block " + name253}));
}

TEST(PlainFeedTest, DefaultActionApplies) {
  FeedParseOptions options;
  options.default_action = Action::kAllow;
  Parsed p = Parse(FeedFormat::kPlain, "pemkot.go.id\n", options);
  EXPECT_EQ(p.entries, (Lines{"1 allow pemkot.go.id"}));
}

TEST(PlainFeedTest, CrlfAndMissingFinalNewline) {
  std::string input = "a.com\r\n\r\nb.com\r\n   \r\nc.com";
  Parsed p = Parse(FeedFormat::kPlain, input);
  EXPECT_EQ(p.entries, (Lines{"1 block a.com", "3 block b.com", "5 block c.com"}));
  EXPECT_EQ(p.stats.lines, 5u);
  EXPECT_EQ(p.stats.skipped, 2u);
  EXPECT_EQ(p.stats.bytes, input.size());

  Parsed cr = Parse(FeedFormat::kPlain, "d.com\r");
  EXPECT_EQ(cr.entries, (Lines{"1 block d.com"}));
}

TEST(PlainFeedTest, EmptyInputs) {
  Parsed empty = Parse(FeedFormat::kPlain, "");
  EXPECT_TRUE(empty.status.ok());
  EXPECT_EQ(empty.stats.lines, 0u);
  Parsed newline = Parse(FeedFormat::kPlain, "\n");
  EXPECT_EQ(newline.stats.lines, 1u);
  EXPECT_EQ(newline.stats.skipped, 1u);
}

TEST(PlainFeedTest, Utf8ByteOrderMarkIsIgnored) {
  Parsed p = Parse(FeedFormat::kPlain, "\xEF\xBB\xBFslot88.com\n");
  EXPECT_EQ(p.entries, (Lines{"1 block slot88.com"}));
  EXPECT_EQ(p.stats.bytes, 14u);
}

TEST(PlainFeedTest, IdnNamesAndInvalidUtf8) {
  Parsed p = Parse(FeedFormat::kPlain, "JUDI.한국\nfaß.de\n*.bücher.de\n\xff\xfe.com\n");
  EXPECT_EQ(p.entries, (Lines{"1 block judi.xn--3e0b707e", "2 block xn--fa-hia.de",
                              "3 block xn--bcher-kva.de"}));
  ASSERT_EQ(p.rejects.size(), 1u);
  // The rest of the reason is libidn2's own wording.
  EXPECT_TRUE(p.rejects[0].starts_with("4 invalid international name: ")) << p.rejects[0];
  EXPECT_EQ(p.reject_texts[0], "\xff\xfe.com");
}

// ------------------------------------------------------------ the line reader

TEST(FeedReaderTest, LineLengthLimitIsExact) {
  FeedParseOptions options;
  options.max_line_length = 10;
  Parsed p = Parse(FeedFormat::kPlain,
                   "abcdef.com\n"     // 10 bytes: fine
                   "abcdefg.com\n"    // 11: too long
                   "abcdef.com\r\n"   // 10 + CRLF: fine
                   "  abcdef.com\n",  // white space counts
                   options);
  EXPECT_EQ(p.entries, (Lines{"1 block abcdef.com", "3 block abcdef.com"}));
  EXPECT_EQ(p.rejects, (Lines{"2 line longer than 10 bytes", "4 line longer than 10 bytes"}));
  EXPECT_EQ(p.reject_texts[0], "abcdefg.com");
  ExpectOneOutcomePerLine(p);
}

TEST(FeedReaderTest, HugeLinesAreRejectedAndParsingGoesOn) {
  // One huge line that ends inside the first read chunk, one that spans
  // several chunks, and one at the very end without a newline.
  std::string input = "before.com\n" + std::string(1'000'000, 'x') + "\nmiddle.com\n" +
                      std::string(3'500'000, 'y') + "\nafter.com\n" + std::string(5000, 'z');
  Parsed p = Parse(FeedFormat::kPlain, input);
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.entries, (Lines{"1 block before.com", "3 block middle.com", "5 block after.com"}));
  EXPECT_EQ(p.rejects, (Lines{"2 line longer than 4096 bytes", "4 line longer than 4096 bytes",
                              "6 line longer than 4096 bytes"}));
  EXPECT_EQ(p.reject_texts[0], std::string(200, 'x'));
  EXPECT_EQ(p.reject_texts[1], std::string(200, 'y'));
  EXPECT_EQ(p.reject_texts[2], std::string(200, 'z'));
  EXPECT_EQ(p.stats.bytes, input.size());
  ExpectOneOutcomePerLine(p);
}

TEST(FeedReaderTest, RejectTextIsCutOnACharacterBoundary) {
  // "x" then two-byte characters: byte 200 is the second half of one. The
  // line is rejected as invalid or as too long, within one read chunk or
  // across two.
  std::string line = "x";
  for (int i = 0; i < 300; ++i) line += "\xC3\xA4";
  for (bool across_chunks : {false, true}) {
    for (std::size_t max : {std::size_t{4096}, std::size_t{100}}) {
      FeedParseOptions options;
      options.max_line_length = max;
      std::string filler(across_chunks ? (1 << 20) - 50 : 0, '\n');
      Parsed p = Parse(FeedFormat::kPlain, filler + line + "\n", options);
      ASSERT_EQ(p.reject_texts.size(), 1u);
      EXPECT_EQ(p.reject_texts[0], line.substr(0, 199))
          << "max " << max << ", across chunks " << across_chunks;
    }
  }
}

TEST(FeedReaderTest, LinesAcrossChunkBoundariesAreWhole) {
  // Lines of a length prime to the 1 MiB chunk so that boundaries fall
  // everywhere inside them, in both line-ending styles.
  std::string input;
  std::size_t n = 0;
  while (input.size() < 3 * (1 << 20)) {
    input += "host" + std::to_string(n) + ".example.com" + (n % 2 ? "\r\n" : "\n");
    ++n;
  }
  Parsed p = Parse(FeedFormat::kPlain, input);
  ASSERT_EQ(p.entries.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(p.entries[i],
              std::to_string(i + 1) + " block host" + std::to_string(i) + ".example.com");
  }
  EXPECT_TRUE(p.rejects.empty());
}

TEST(FeedReaderTest, BinaryInputIsNotText) {
  std::string elf("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0slot.com\n", 25);
  Parsed p = Parse(FeedFormat::kPlain, elf);
  EXPECT_TRUE(p.status.IsInvalidArgument()) << p.status.ToString();
  EXPECT_TRUE(p.entries.empty());
  EXPECT_TRUE(p.rejects.empty());

  // UTF-16 text is full of NULs too; so is a NUL late in the first 4 KiB.
  std::string utf16("\xFF\xFEs\0l\0o\0t\0.\0c\0o\0m\0\n\0", 20);
  EXPECT_TRUE(Parse(FeedFormat::kHosts, utf16).status.IsInvalidArgument());
  std::string late = std::string(4000, '\n') + std::string("a\0b\n", 4);
  EXPECT_TRUE(Parse(FeedFormat::kRpz, late).status.IsInvalidArgument());
}

TEST(FeedReaderTest, NulAfterTheFirst4KiBSpoilsOnlyItsLine) {
  std::string input = std::string(5000, '\n') + std::string("bad\0name.com\nok.com\n", 20);
  Parsed p = Parse(FeedFormat::kPlain, input);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.entries, (Lines{"5002 block ok.com"}));
  EXPECT_EQ(p.rejects, (Lines{"5001 byte 0x00 not allowed in a host name"}));
}

// Serves `data` and throws once `fail_at` bytes have been read, as a disk or
// network error would; std::istream turns that into badbit.
class FailingBuf : public std::streambuf {
 public:
  FailingBuf(std::string data, std::size_t fail_at) : data_(std::move(data)), fail_at_(fail_at) {}

 protected:
  int_type underflow() override {
    if (pos_ >= fail_at_) throw std::runtime_error("device gone");
    if (pos_ >= data_.size()) return traits_type::eof();
    std::size_t n = std::min({std::size_t{4096}, fail_at_ - pos_, data_.size() - pos_});
    char* p = data_.data() + pos_;
    setg(p, p, p + n);
    pos_ += n;
    return traits_type::to_int_type(*p);
  }

 private:
  std::string data_;
  std::size_t fail_at_;
  std::size_t pos_ = 0;
};

TEST(FeedReaderTest, StreamFailingMidwayIsAnIoError) {
  std::string input;
  for (int i = 0; i < 300'000; ++i) input += "host" + std::to_string(i) + ".example.com\n";
  FailingBuf buf(input, input.size() / 2);
  std::istream in(&buf);
  Parsed p = ParseStream(FeedFormat::kPlain, in, {});
  EXPECT_EQ(p.status.code(), Status::Code::kIOError) << p.status.ToString();
  EXPECT_LT(p.entries.size(), 300'000u);

  // The same data read to its end is fine.
  FailingBuf whole(input, input.size() + 1);
  std::istream in2(&whole);
  Parsed ok = ParseStream(FeedFormat::kPlain, in2, {});
  EXPECT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.entries.size(), 300'000u);
}

TEST(FeedReaderTest, UnopenedFileIsAnIoError) {
  std::ifstream in("/nonexistent/saring/feed.txt");
  Parsed p = ParseStream(FeedFormat::kPlain, in, {});
  EXPECT_EQ(p.status.code(), Status::Code::kIOError) << p.status.ToString();
}

TEST(FeedReaderTest, StatsMayBeNull) {
  std::istringstream in("a.com\n");
  Parsed p;
  RecordingSink sink(&p);
  EXPECT_TRUE(ParseFeed(FeedFormat::kPlain, in, {}, &sink, nullptr).ok());
  EXPECT_EQ(p.entries, (Lines{"1 block a.com"}));
}

TEST(FeedReaderTest, GeneratedListOf200kLines) {
  std::string input;
  std::size_t want_entries = 0, want_rejected = 0, want_skipped = 0;
  std::vector<std::string> want_values;
  constexpr std::size_t kLines = 200'000;
  for (std::size_t i = 0; i < kLines; ++i) {
    if (i % 97 == 0) {
      input += "   \n";
      ++want_skipped;
    } else if (i % 101 == 0) {
      input += "# section " + std::to_string(i) + "\n";
      ++want_skipped;
    } else if (i % 89 == 0) {
      input += "10.1." + std::to_string(i % 256) + ".7\n";
      ++want_rejected;
    } else {
      std::string name = "Slot" + std::to_string(i) + ".Example-" + std::to_string(i % 13) +
                         ".COM";
      input += (i % 3 ? name + ".\r\n" : " " + name + "\n");
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      want_values.push_back(std::to_string(i + 1) + " block " + name);
      ++want_entries;
    }
  }
  Parsed p = Parse(FeedFormat::kPlain, input);
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.stats.lines, kLines);
  EXPECT_EQ(p.stats.entries, want_entries);
  EXPECT_EQ(p.stats.rejected, want_rejected);
  EXPECT_EQ(p.stats.skipped, want_skipped);
  EXPECT_EQ(p.stats.bytes, input.size());
  EXPECT_EQ(p.entries, want_values);
  ExpectOneOutcomePerLine(p);
}

// Timing, not correctness: run with --gtest_also_run_disabled_tests
// --gtest_filter='*Rate*' on a release build.
TEST(FeedReaderTest, DISABLED_PlainParseRateOn5MLines) {
  std::string input;
  input.reserve(120 << 20);
  for (int i = 0; i < 5'000'000; ++i) {
    input += "situs-judi-" + std::to_string(i) + (i % 2 ? ".online\n" : ".com\n");
  }
  struct CountingSink : FeedSink {
    std::size_t n = 0;
    void OnEntry(const FeedEntry& e) override { n += e.value.size(); }
    void OnReject(const FeedReject&) override {}
  } sink;
  std::istringstream in(std::move(input));
  FeedParseStats stats;
  auto start = std::chrono::steady_clock::now();
  Status st = ParseFeed(FeedFormat::kPlain, in, {}, &sink, &stats);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(stats.entries, 5'000'000u);
  std::printf("%zu lines, %.1f MB in %.3f s: %.2f M lines/s, %.0f MB/s\n", stats.lines,
              stats.bytes / 1e6, s, stats.lines / s / 1e6, stats.bytes / s / 1e6);
}

// ---------------------------------------------------------------------- hosts

TEST(HostsFeedTest, EveryNameAfterTheAddressIsAnEntry) {
  Parsed p = Parse(FeedFormat::kHosts,
                   "# StevenBlack-style header\n"
                   "127.0.0.1 localhost\n"
                   "127.0.0.1 localhost.localdomain\n"
                   "::1 localhost ip6-localhost ip6-loopback\n"
                   "ff02::2 ip6-allrouters\n"
                   "255.255.255.255 broadcasthost\n"
                   "0.0.0.0 0.0.0.0\n"
                   "\n"
                   "0.0.0.0 slot88.com\n"
                   "127.0.0.1\tGacor.NET.   # trailing comment\n"
                   "0.0.0.0 a.judi.com b.judi.com\tc.judi.com\r\n"
                   ":: maxwin.org\n"
                   "0 togel.net\n"
                   "10.20.30.40 landing-redirect.com");
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.entries,
            (Lines{"9 block slot88.com", "10 block gacor.net", "11 block a.judi.com",
                   "11 block b.judi.com", "11 block c.judi.com", "12 block maxwin.org",
                   "13 block togel.net", "14 block landing-redirect.com"}));
  EXPECT_TRUE(p.rejects.empty()) << p.rejects[0];
  // Skips: 2 comment/blank lines and 8 local names (3 on line 4).
  EXPECT_EQ(p.stats.skipped, 10u);
  EXPECT_EQ(p.stats.lines, 14u);
  // One outcome per name, so line 4 and 11 count two extra each.
  EXPECT_EQ(p.stats.entries + p.stats.rejected + p.stats.skipped, p.stats.lines + 2 + 2);
}

TEST(HostsFeedTest, RejectsMalformedLinesAndNames) {
  Parsed p = Parse(FeedFormat::kHosts,
                   "slot88.com\n"
                   "slot88.com 0.0.0.0\n"
                   "0.0.0.0\n"
                   "0.0.0.0   # only a comment\n"
                   "0.0.0.0 1.2.3.4\n"
                   "0.0.0.0 good.com bad..com localhost router\n"
                   "300.1.1.1 x.com\n");
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.entries, (Lines{"6 block good.com"}));
  EXPECT_EQ(p.rejects,
            (Lines{"1 hosts line does not start with an IP address",
                   "2 hosts line does not start with an IP address",
                   "3 hosts line without a name", "4 hosts line without a name",
                   "5 IP address, not a domain", "6 empty label",
                   "6 single label (a whole top-level domain); add such a rule by hand",
                   "7 hosts line does not start with an IP address"}));
  EXPECT_EQ(p.reject_texts[5], "0.0.0.0 good.com bad..com localhost router");
  EXPECT_EQ(p.stats.skipped, 1u);  // localhost on line 6
  EXPECT_EQ(p.stats.entries + p.stats.rejected + p.stats.skipped, p.stats.lines + 3);
}

// -------------------------------------------------------------------- adblock

TEST(AdblockFeedTest, DomainRulesAndExceptions) {
  FeedParseOptions options;
  options.default_action = Action::kAllow;  // adblock lines say their own action
  Parsed p = Parse(FeedFormat::kAdblock,
                   "[Adblock Plus 2.0]\n"
                   "! Title: judi online\n"
                   "# hosts-style comment\n"
                   "||slot88.com^\n"
                   "@@||good.slot88.com^\n"
                   "||Gacor.NET^$important\n"
                   "@@||ok.net^$important\n"
                   "||*.casino.org^\n"
                   "||maxwin.org\n"
                   "||togel.net^|\n"
                   "||bandar.com/\n"
                   "  ||judi.co.id^  \r\n"
                   "\n",
                   options);
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.entries,
            (Lines{"4 block slot88.com", "5 allow good.slot88.com", "6 block gacor.net",
                   "7 allow ok.net", "8 block casino.org", "9 block maxwin.org",
                   "10 block togel.net", "11 block bandar.com", "12 block judi.co.id"}));
  EXPECT_TRUE(p.rejects.empty()) << p.rejects[0];
  EXPECT_EQ(p.stats.skipped, 4u);
  ExpectOneOutcomePerLine(p);
}

TEST(AdblockFeedTest, RejectsRulesThatAreNotWholeDomains) {
  Parsed p = Parse(FeedFormat::kAdblock,
                   "||bet.com^$third-party\n"
                   "||bet.com^$domain=a.com\n"
                   "||bet.com^$important,third-party\n"
                   "||bet.com^$\n"
                   "example.com##.ad-banner\n"
                   "example.com#@#.ad-banner\n"
                   "##.judi\n"
                   "||bet.com/promo\n"
                   "||bet.com^promo\n"
                   "||ca*sino.org^\n"
                   "||casino.*^\n"
                   "casino\n"
                   "|http://bet.com|\n"
                   "/judi[0-9]+\\.com/\n"
                   "||1.2.3.4^\n"
                   "||COM^\n"
                   "||bad..name^\n"
                   "@@bet.com\n");
  ASSERT_TRUE(p.status.ok());
  EXPECT_TRUE(p.entries.empty()) << p.entries[0];
  EXPECT_EQ(p.rejects,
            (Lines{"1 adblock options not supported", "2 adblock options not supported",
                   "3 adblock options not supported", "4 adblock options not supported",
                   "5 cosmetic (element hiding) rules not supported",
                   "6 cosmetic (element hiding) rules not supported",
                   "7 cosmetic (element hiding) rules not supported",
                   "8 adblock rule with a path; add it as a url rule",
                   "9 adblock rule with a path; add it as a url rule",
                   "10 wildcard rules not supported; use the patterns format",
                   "11 wildcard rules not supported; use the patterns format",
                   "12 only ||name^ rules are supported", "13 only ||name^ rules are supported",
                   "14 regex rules not supported; use the patterns format",
                   "15 IP address, not a domain",
                   "16 single label (a whole top-level domain); add such a rule by hand",
                   "17 empty label", "18 only ||name^ rules are supported"}));
  ExpectOneOutcomePerLine(p);
}

// ------------------------------------------------------------------- patterns

TEST(PatternsFeedTest, OneRegexPerLine) {
  Parsed p = Parse(FeedFormat::kPatterns,
                   "# gambling host patterns\n"
                   "^slot[0-9]+\\.\n"
                   "   (judi|togel).*\\.xyz$   \r\n"
                   "[#]gacor # not a comment here\n"
                   "   # indented comment\n"
                   "\n"
                   "^a b$");
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.entries, (Lines{"2 block ^slot[0-9]+\\.", "3 block (judi|togel).*\\.xyz$",
                              "4 block [#]gacor # not a comment here", "7 block ^a b$"}));
  for (RuleKind kind : p.kinds) EXPECT_EQ(kind, RuleKind::kPattern);
  ExpectOneOutcomePerLine(p);

  FeedParseOptions options;
  options.default_action = Action::kAllow;
  EXPECT_EQ(Parse(FeedFormat::kPatterns, "^ok\\.", options).entries, (Lines{"1 allow ^ok\\."}));
}

TEST(PatternsFeedTest, RejectsOverlongPatternsAndNul) {
  std::string input = std::string(5000, '\n') + std::string(1024, 'a') + "\n" +
                      std::string(1025, 'b') + "\n" + std::string("ju\0di\n", 6) +
                      "\xff\xfe invalid utf-8 is the matcher's business\n";
  Parsed p = Parse(FeedFormat::kPatterns, input);
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.entries, (Lines{"5001 block " + std::string(1024, 'a'),
                              "5004 block \xff\xfe invalid utf-8 is the matcher's business"}));
  EXPECT_EQ(p.rejects, (Lines{"5002 pattern longer than 1024 bytes", "5003 NUL byte in pattern"}));
  EXPECT_EQ(p.reject_texts[0], std::string(200, 'b'));
  ExpectOneOutcomePerLine(p);
}

}  // namespace
}  // namespace saring
