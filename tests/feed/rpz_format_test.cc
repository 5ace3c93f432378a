#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "feed/feed_test_util.h"
#include "saring/feed_format.h"

namespace saring {
namespace {

using Lines = std::vector<std::string>;

Parsed ParseRpz(std::string_view zone, const FeedParseOptions& options = {}) {
  Parsed p = Parse(FeedFormat::kRpz, zone, options);
  EXPECT_TRUE(p.status.ok()) << p.status.ToString();
  ExpectOneOutcomePerLine(p);
  return p;
}

TEST(RpzFeedTest, TypicalPolicyZone) {
  FeedParseOptions options;
  options.default_action = Action::kAllow;  // RPZ records say their own action
  Parsed p = ParseRpz(
      "; saring test policy zone\n"                        // 1
      "$TTL 2h\n"                                          // 2
      "$ORIGIN rpz.example.\n"                             // 3
      "@ IN SOA localhost. root.localhost. (\n"            // 4
      "        2025010101 ; serial\n"                      // 5
      "        3600       ; refresh (1 hour)\n"            // 6
      "        600 86400 300 )\n"                          // 7
      "  IN NS localhost.\n"                               // 8
      "\n"                                                 // 9
      "slot88.com CNAME .\n"                               // 10
      "*.slot88.com CNAME .\n"                             // 11
      "gacor.net 300 IN CNAME *.\n"                        // 12
      "maxwin.org IN 300 CNAME rpz-drop.\n"                // 13
      "good.slot88.com CNAME rpz-passthru.\n"              // 14
      "judi.online CNAME landing.pemkot.example.\n"        // 15
      "togel.net A 10.0.0.1\n"                             // 16
      "togel.net AAAA ::1\n"                               // 17
      "togel.net TXT \"blocked; see pemkot\" ; comment\n"  // 18
      "          A 10.0.0.2\n"                             // 19
      "abs.example.com.rpz.example. CNAME .\n"             // 20
      "Big.Casino.BET 3600 CNAME .\n"                      // 21
      "old.passthru.com CNAME old.passthru.com.\n"         // 22
      "ok.example.com.RPZ.example. CNAME RPZ-PASSTHRU.\n"  // 23
      "*.ok.example.com.rpz.example. CNAME rpz-passthru.\n"  // 24
      "bücher.de CNAME .\n"                                // 25
      "@ TXT \"apex data\"\n",                             // 26
      options);
  EXPECT_EQ(p.entries,
            (Lines{"10 block slot88.com", "12 block gacor.net", "13 block maxwin.org",
                   "14 allow good.slot88.com", "15 block judi.online", "16 block togel.net",
                   "20 block abs.example.com", "21 block big.casino.bet",
                   "22 allow old.passthru.com", "23 allow ok.example.com",
                   "25 block xn--bcher-kva.de"}));
  EXPECT_TRUE(p.rejects.empty()) << p.rejects[0];
  EXPECT_EQ(p.stats.lines, 26u);
  // Comment, $TTL, $ORIGIN, SOA (4 lines), NS, blank, 4 duplicates, apex TXT.
  EXPECT_EQ(p.stats.skipped, 15u);
}

TEST(RpzFeedTest, RejectsWhatIsNotAQnameRule) {
  Parsed p = ParseRpz(
      "$ORIGIN rpz.example.\n"
      "outside.example. CNAME .\n"
      "32.1.0.0.127.rpz-ip CNAME .\n"
      "ns.evil.com.rpz-nsdname CNAME .\n"
      "24.0.0.10.10.rpz-nsip CNAME .\n"
      "32.5.0.168.192.rpz-client-ip CNAME rpz-passthru.\n"
      "tcp.com CNAME rpz-tcp-only.\n"
      "$INCLUDE other.zone\n"
      "$GENERATE 1-10 host$ CNAME .\n"
      "two.com CNAME a.com. b.com.\n"
      "mx.com MX\n"
      "dn.com DNAME other.com.\n"
      "notype.com 300 IN\n"
      "*.com CNAME .\n"
      "* CNAME .\n"
      "1.2.3.4 CNAME .\n"
      "bad..com CNAME .\n"
      "x.com CNAME . )\n"
      "q.com TXT \"unterminated\n"
      "((nested.com CNAME .))\n"
      "ok.com CNAME .\n");
  EXPECT_EQ(p.rejects,
            (Lines{"2 name outside the policy zone",
                   "3 RPZ rpz-ip (response IP) triggers not supported",
                   "4 RPZ rpz-nsdname (name server) triggers not supported",
                   "5 RPZ rpz-nsip (name server IP) triggers not supported",
                   "6 RPZ rpz-client-ip (client IP) triggers not supported",
                   "7 rpz-tcp-only not supported",
                   "8 $INCLUDE not supported",
                   "9 directive not supported",
                   "10 CNAME needs one target",
                   "11 record without data",
                   "12 record type not supported in RPZ",
                   "13 record without a type",
                   "14 single label (a whole top-level domain); add such a rule by hand",
                   "15 character '*' not allowed in a host name",
                   "16 IP address, not a domain",
                   "17 empty label",
                   "18 unbalanced ')'",
                   "19 unterminated quoted string",
                   "20 nested parentheses"}));
  EXPECT_EQ(p.reject_texts[0], "outside.example. CNAME .");
  EXPECT_EQ(p.entries, (Lines{"21 block ok.com"}));
}

TEST(RpzFeedTest, ConsecutiveDuplicatesOnlyAreDropped) {
  Parsed p = ParseRpz(
      "a.com CNAME .\n"
      "*.a.com CNAME .\n"
      "a.com CNAME rpz-passthru.\n"
      "b.com A 1.2.3.4\n"
      "a.com CNAME .\n");
  EXPECT_EQ(p.entries,
            (Lines{"1 block a.com", "3 allow a.com", "4 block b.com", "5 block a.com"}));
  EXPECT_EQ(p.stats.skipped, 1u);
}

TEST(RpzFeedTest, ZoneTransferDumpWithAbsoluteNames) {
  // As "dig axfr" prints it: no $ORIGIN, the SOA owner names the zone.
  Parsed p = ParseRpz(
      "rpz.example.\t300\tIN\tSOA\tns.rpz.example. admin.rpz.example. 5 3600 600 86400 300\n"
      "rpz.example.\t300\tIN\tNS\tns.rpz.example.\n"
      "slot88.com.rpz.example. 300 IN CNAME .\n"
      "*.slot88.com.rpz.example. 300 IN CNAME .\n"
      "gacor.net.RPZ.EXAMPLE. 300 IN CNAME rpz-passthru.\n"
      "rpz.example. 300 IN TXT \"apex\"\n"
      "rpz.example.\t300\tIN\tSOA\tns.rpz.example. admin.rpz.example. 5 3600 600 86400 300\n");
  EXPECT_EQ(p.entries, (Lines{"3 block slot88.com", "5 allow gacor.net"}));
  EXPECT_TRUE(p.rejects.empty()) << p.rejects[0];
}

TEST(RpzFeedTest, AbsoluteNameNeedsAKnownZone) {
  Parsed p = ParseRpz(
      "slot88.com.rpz.example. CNAME .\n"
      "relative.com CNAME .\n");
  EXPECT_EQ(p.rejects, (Lines{"1 absolute name, but no $ORIGIN or SOA names the zone"}));
  EXPECT_EQ(p.entries, (Lines{"2 block relative.com"}));
}

TEST(RpzFeedTest, OriginBelowTheZoneAndBadOrigins) {
  Parsed p = ParseRpz(
      "$ORIGIN rpz.example.\n"      // 1
      "a.com CNAME .\n"             // 2
      "$ORIGIN com.rpz.example.\n"  // 3
      "slot88 CNAME .\n"            // 4
      "@ CNAME .\n"                 // 5: "com" alone
      "$ORIGIN other.example.\n"    // 6
      "x CNAME .\n"                 // 7
      "$ORIGIN relative\n"          // 8
      "y CNAME .\n"                 // 9
      "$ORIGIN bad..name.\n"        // 10
      "$ORIGIN rpz.example.\n"      // 11
      "z.net CNAME .\n");           // 12
  EXPECT_EQ(p.entries, (Lines{"2 block a.com", "4 block slot88.com", "12 block z.net"}));
  EXPECT_EQ(p.rejects,
            (Lines{"5 single label (a whole top-level domain); add such a rule by hand",
                   "7 name outside the policy zone", "8 relative $ORIGIN not supported",
                   "9 relative name under a rejected $ORIGIN", "10 empty label"}));
}

TEST(RpzFeedTest, OwnerOmittedBeforeAnyOwner) {
  Parsed p = ParseRpz("\t300 IN A 10.0.0.1\nx.com A 10.0.0.1\n\tTXT \"x\"\n");
  EXPECT_EQ(p.rejects, (Lines{"1 record without an owner name"}));
  EXPECT_EQ(p.entries, (Lines{"2 block x.com"}));
}

TEST(RpzFeedTest, CrlfAndMissingFinalNewline) {
  Parsed p = ParseRpz(
      "$ORIGIN rpz.example.\r\n"
      "@ SOA ns. admin. (\r\n"
      "  1 3600 600 86400 300 )\r\n"
      "a.com CNAME .\r\n"
      "b.com CNAME .");
  EXPECT_EQ(p.entries, (Lines{"4 block a.com", "5 block b.com"}));
}

TEST(RpzFeedTest, TruncatedZone) {
  // The transfer broke off inside the SOA's parentheses.
  Parsed p = ParseRpz(
      "$ORIGIN rpz.example.\n"
      "slot88.com CNAME .\n"
      "@ SOA ns. admin. ( 1 3600\n"
      "   600 86400");
  EXPECT_EQ(p.entries, (Lines{"2 block slot88.com"}));
  EXPECT_EQ(p.rejects, (Lines{"3 unbalanced '(' at end of input"}));
  EXPECT_EQ(p.reject_texts[0], "@ SOA ns. admin.   1 3600    600 86400");
}

TEST(RpzFeedTest, DeepParentheses) {
  std::string deep = "x.com CNAME " + std::string(1000, '(') + " . " + std::string(1000, ')');
  Parsed p = ParseRpz(deep + "\nok.com CNAME .\n" + std::string(1000, '(') + "\n");
  EXPECT_EQ(p.rejects, (Lines{"1 nested parentheses", "3 nested parentheses"}));
  EXPECT_EQ(p.entries, (Lines{"2 block ok.com"}));
}

TEST(RpzFeedTest, MissingCloseParenthesisSwallowsAtMost64KiB) {
  std::string zone = "$ORIGIN rpz.example.\n@ SOA ns. admin. ( 1 3600 600 86400 300\n";
  constexpr int kRecords = 20'000;
  for (int i = 0; i < kRecords; ++i) zone += "d" + std::to_string(i) + ".com CNAME .\n";
  Parsed p = ParseRpz(zone);
  EXPECT_EQ(p.rejects, (Lines{"2 record longer than 65535 bytes (missing ')'?)"}));
  // About 65536 / 16 records are lost inside the broken SOA.
  EXPECT_GT(p.entries.size(), kRecords - 5000u);
  ASSERT_FALSE(p.entries.empty());
  EXPECT_EQ(p.entries.back(), std::to_string(kRecords + 2) + " block d" +
                                  std::to_string(kRecords - 1) + ".com");
}

TEST(RpzFeedTest, OverlongLineInsideARecord) {
  FeedParseOptions options;
  options.max_line_length = 50;
  Parsed p = ParseRpz(
      "@ SOA ns. admin. (\n"
      "  1 3600 " + std::string(60, '9') + "\n"
      "  600 )\n"
      "ok.com CNAME .\n",
      options);
  EXPECT_EQ(p.rejects, (Lines{"1 record cut by an overlong line", "2 line longer than 50 bytes",
                              "3 unbalanced ')'"}));
  EXPECT_EQ(p.entries, (Lines{"4 block ok.com"}));
}

}  // namespace
}  // namespace saring
