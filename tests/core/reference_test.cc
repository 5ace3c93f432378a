#include "saring/reference.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace saring {
namespace {

TEST(ReferenceTest, Format) {
  std::string code = EncodeReference(1234, 5, RuleKind::kDomain);
  EXPECT_EQ(code, "SRG-0050-16J0");  // the example in reference.h
  EXPECT_EQ(EncodeReference(2000000, 0x0FFE, RuleKind::kUrl), "SRG-BZY1-X140-9");
  EXPECT_EQ(code.size(), 13u) << code;  // SRG-XXXX-XXXX
  EXPECT_EQ(code.substr(0, 4), "SRG-");
  EXPECT_EQ(code[8], '-');
  for (char c : code.substr(4)) {
    EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) << code;
    EXPECT_TRUE(c != 'I' && c != 'L' && c != 'O' && c != 'U') << code;
  }
  // Larger serials take more digits.
  EXPECT_EQ(EncodeReference((1u << 20) - 1, 0, RuleKind::kDomain).size(), 13u);
  EXPECT_EQ(EncodeReference(1u << 20, 0, RuleKind::kDomain).size(), 15u);  // SRG-XXXX-XXXX-X
  EXPECT_EQ(EncodeReference(UINT64_MAX, 0x0FFE, RuleKind::kUrl).size(), 4u + 17u + 4u);
}

void ExpectRoundTrip(std::uint64_t serial, std::uint16_t class_id, RuleKind kind) {
  std::string code = EncodeReference(serial, class_id, kind);
  std::uint64_t s = 0;
  std::uint16_t c = 0;
  RuleKind k = RuleKind::kDomain;
  ASSERT_TRUE(DecodeReference(code, &s, &c, &k)) << code;
  EXPECT_EQ(s, serial) << code;
  EXPECT_EQ(c, class_id) << code;
  EXPECT_EQ(k, kind) << code;
}

TEST(ReferenceTest, RoundTrip) {
  const RuleKind kinds[] = {RuleKind::kDomain, RuleKind::kPattern, RuleKind::kUrl};
  const std::uint64_t serials[] = {0, 1, 31, 32, 1023, 1024, (1u << 20) - 1, 1u << 20, 123456789,
                                   (1ull << 32), (1ull << 60) + 7, (1ull << 63), UINT64_MAX - 1, UINT64_MAX};
  const std::uint16_t classes[] = {0, 1, 31, 32, 0x0800, 0x0FFE, 0x0FFF};
  for (RuleKind k : kinds)
    for (std::uint64_t s : serials)
      for (std::uint16_t c : classes) ExpectRoundTrip(s, c, k);
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    int bits = static_cast<int>(rng() % 65);
    std::uint64_t s = bits == 64 ? rng() : rng() & ((1ull << bits) - 1);
    ExpectRoundTrip(s, static_cast<std::uint16_t>(rng() % 0x0FFF), kinds[rng() % 3]);
  }
}

TEST(ReferenceTest, LenientInput) {
  std::string code = EncodeReference(987654, 0x0ABC, RuleKind::kPattern);
  std::string lower, bare, body, spaced;
  for (char c : code) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c != '-') bare += c;
    spaced += c == '-' ? ' ' : c;
  }
  body = bare.substr(3);
  for (const std::string& input : {code, lower, bare, body, spaced, "  " + lower + " ", body.substr(0, 5) + "-" + body.substr(5)}) {
    std::uint64_t s = 0;
    std::uint16_t c = 0;
    RuleKind k = RuleKind::kDomain;
    ASSERT_TRUE(DecodeReference(input, &s, &c, &k)) << input;
    EXPECT_EQ(s, 987654u);
    EXPECT_EQ(c, 0x0ABC);
    EXPECT_EQ(k, RuleKind::kPattern);
  }
  // Crockford aliases: O for 0, I and L for 1.
  std::string zero_one = EncodeReference(0, 1, RuleKind::kDomain);  // many 0s
  std::string aliased;
  for (char c : zero_one.substr(4)) aliased += c == '0' ? 'o' : c == '1' ? 'l' : c;
  std::uint64_t s = 9;
  std::uint16_t c = 9;
  RuleKind k = RuleKind::kUrl;
  ASSERT_TRUE(DecodeReference(aliased, &s, &c, &k)) << zero_one << " " << aliased;
  EXPECT_EQ(s, 0u);
  EXPECT_EQ(c, 1);
  EXPECT_EQ(k, RuleKind::kDomain);
}

TEST(ReferenceTest, MistypedRejected) {
  constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::mt19937_64 rng(7);
  std::uint64_t s;
  std::uint16_t c;
  RuleKind k;
  int swaps = 0, drops = 0, drops_accepted = 0;
  for (int round = 0; round < 300; ++round) {
    int bits = static_cast<int>(rng() % 40);
    std::string code = EncodeReference(rng() & ((1ull << bits) - 1), static_cast<std::uint16_t>(rng() % 0x0FFF),
                                       static_cast<RuleKind>(rng() % 3));
    std::vector<std::size_t> pos;  // positions of digits (after "SRG-")
    for (std::size_t i = 4; i < code.size(); ++i)
      if (code[i] != '-') pos.push_back(i);
    // Every single-character substitution.
    for (std::size_t p : pos) {
      for (char sub : kAlphabet) {
        if (sub == code[p]) continue;
        std::string typo = code;
        typo[p] = sub;
        EXPECT_FALSE(DecodeReference(typo, &s, &c, &k)) << code << " -> " << typo;
      }
    }
    // Every swap of two different digits, adjacent or not.
    for (std::size_t a = 0; a < pos.size(); ++a) {
      for (std::size_t b = a + 1; b < pos.size(); ++b) {
        if (code[pos[a]] == code[pos[b]]) continue;
        std::string typo = code;
        std::swap(typo[pos[a]], typo[pos[b]]);
        EXPECT_FALSE(DecodeReference(typo, &s, &c, &k)) << code << " -> " << typo;
        ++swaps;
      }
    }
    // A dropped digit: always caught in the usual 8-digit code (too short);
    // in longer codes only by the check digit, so 1 time in 32 it slips by.
    for (std::size_t p : pos) {
      std::string dropped = code;
      dropped.erase(p, 1);
      bool accepted = DecodeReference(dropped, &s, &c, &k);
      if (pos.size() == 8) {
        EXPECT_FALSE(accepted) << code << " -> " << dropped;
      }
      ++drops;
      drops_accepted += accepted;
    }
  }
  EXPECT_GT(swaps, 1000);
  EXPECT_LT(drops_accepted * 16, drops) << drops_accepted << " of " << drops;
  // A wrong prefix, junk, and lengths out of range.
  std::string code = EncodeReference(42, 7, RuleKind::kDomain);
  EXPECT_TRUE(DecodeReference(code, &s, &c, &k));
  for (std::string_view bad : {"", "SRG", "SRG-", "SRG-0000", "SRX" , "hello", "SRG-0000-000U", "SRG-0000-00*0"}) {
    EXPECT_FALSE(DecodeReference(bad, &s, &c, &k)) << bad;
  }
  std::string wrong_prefix = code;
  wrong_prefix[2] = 'H';
  EXPECT_FALSE(DecodeReference(wrong_prefix, &s, &c, &k)) << wrong_prefix;
  EXPECT_FALSE(DecodeReference(code + "0", &s, &c, &k));
  EXPECT_FALSE(DecodeReference(code + std::string(20, '0'), &s, &c, &k));
  // Outputs stay untouched on failure.
  s = 5;
  c = 6;
  k = RuleKind::kUrl;
  EXPECT_FALSE(DecodeReference("SRG-ZZZZ-ZZZZ", &s, &c, &k));
  EXPECT_EQ(s, 5u);
  EXPECT_EQ(c, 6);
  EXPECT_EQ(k, RuleKind::kUrl);
}

}  // namespace
}  // namespace saring
