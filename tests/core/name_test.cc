#include "saring/name.h"

#include <gtest/gtest.h>

#include <string>

namespace saring {
namespace {

std::string Norm(std::string_view in) {
  std::string out;
  Status st = NormalizeDomain(in, &out);
  return st.ok() ? out : "ERR: " + st.message();
}

TEST(NameTest, LowercasesAndDropsTrailingDotAndSpaces) {
  EXPECT_EQ(Norm("Slot88.COM"), "slot88.com");
  EXPECT_EQ(Norm("  gacor.net.  \r\n"), "gacor.net");
  EXPECT_EQ(Norm("\tA.B.C"), "a.b.c");
}

TEST(NameTest, ConvertsIdnToPunycode) {
  EXPECT_EQ(Norm("bücher.de"), "xn--bcher-kva.de");
  EXPECT_EQ(Norm("BÜCHER.de."), "xn--bcher-kva.de");
  EXPECT_EQ(Norm("judi.한국"), "judi.xn--3e0b707e");
  // Non-transitional UTS#46: sharp s stays a distinct label.
  EXPECT_EQ(Norm("faß.de"), "xn--fa-hia.de");
}

TEST(NameTest, RejectsInvalidUtf8AndDisallowedCodePoints) {
  EXPECT_TRUE(Norm("\xff\xfe.com").starts_with("ERR"));
  EXPECT_TRUE(Norm("a\xe2\x80\x8b.com").starts_with("ERR") || Norm("a\xe2\x80\x8b.com") == "a.com");
}

TEST(NameTest, EdgeLengths) {
  std::string label63(63, 'a');
  std::string label64(64, 'a');
  EXPECT_EQ(Norm(label63 + ".com"), label63 + ".com");
  EXPECT_EQ(Norm(label64 + ".com"), "ERR: label longer than 63 octets");

  // 253 octets is the longest name: 63+1+63+1+63+1+61 = 253.
  std::string longest = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_EQ(Norm(longest), longest);
  EXPECT_EQ(Norm(longest + "."), longest);  // the trailing dot is not counted
  EXPECT_EQ(Norm(longest + "b"), "ERR: name longer than 253 octets");
}

TEST(NameTest, RejectsJunk) {
  EXPECT_EQ(Norm(""), "ERR: empty name");
  EXPECT_EQ(Norm("   "), "ERR: empty name");
  EXPECT_EQ(Norm("."), "ERR: root name is not a domain");
  EXPECT_EQ(Norm("a..b"), "ERR: empty label");
  EXPECT_EQ(Norm(".a.b"), "ERR: empty label");
  EXPECT_EQ(Norm("-bad.com"), "ERR: label starts or ends with '-'");
  EXPECT_EQ(Norm("bad-.com"), "ERR: label starts or ends with '-'");
  EXPECT_EQ(Norm("http://x.com/"), "ERR: character ':' not allowed in a host name");
  EXPECT_EQ(Norm("a b.com"), "ERR: character ' ' not allowed in a host name");
  EXPECT_EQ(Norm("x.com/path"), "ERR: character '/' not allowed in a host name");
  EXPECT_EQ(Norm(std::string("a\0b.com", 7)), "ERR: byte 0x00 not allowed in a host name");
}

TEST(NameTest, KeepsUnderscoreAndDigits) {
  EXPECT_EQ(Norm("_dmarc.Example.com"), "_dmarc.example.com");
  EXPECT_EQ(Norm("303.4d.id"), "303.4d.id");
}

TEST(NameTest, IsNormalized) {
  EXPECT_TRUE(IsNormalizedDomain("slot88.com"));
  EXPECT_FALSE(IsNormalizedDomain("Slot88.com"));
  EXPECT_FALSE(IsNormalizedDomain("slot88.com."));
  EXPECT_FALSE(IsNormalizedDomain(""));
}

TEST(NameTest, IpAddresses) {
  EXPECT_TRUE(LooksLikeIpAddress("10.1.2.3"));
  EXPECT_TRUE(LooksLikeIpAddress("2001:db8::1"));
  EXPECT_TRUE(LooksLikeIpAddress("[::1]"));
  EXPECT_FALSE(LooksLikeIpAddress("10.1.2.com"));
  EXPECT_FALSE(LooksLikeIpAddress("1.2.3"));
}

TEST(NameTest, SameOrSubdomain) {
  EXPECT_TRUE(IsSameOrSubdomain("x.pages.dev", "x.pages.dev"));
  EXPECT_TRUE(IsSameOrSubdomain("a.x.pages.dev", "x.pages.dev"));
  EXPECT_FALSE(IsSameOrSubdomain("pages.dev", "x.pages.dev"));
  EXPECT_FALSE(IsSameOrSubdomain("ax.pages.dev", "x.pages.dev"));
}

}  // namespace
}  // namespace saring
