#include "saring/rule.h"

#include <gtest/gtest.h>

namespace saring {
namespace {

Rule DomainRule(std::string value) {
  Rule r;
  r.value = std::move(value);
  r.source = "city";
  return r;
}

TEST(RuleTest, NormalizesDomainValues) {
  Rule r = DomainRule("Slot88.COM.");
  ASSERT_TRUE(ValidateRule(&r).ok());
  EXPECT_EQ(r.value, "slot88.com");
  EXPECT_EQ(r.category, "gambling");
}

TEST(RuleTest, RejectsBadDomainWithReason) {
  Rule r = DomainRule("bad..com");
  Status st = ValidateRule(&r);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "domain 'bad..com': empty label");
}

TEST(RuleTest, SourceAndCategoryNamesAreStrict) {
  Rule r = DomainRule("a.com");
  r.source = "City";
  EXPECT_FALSE(ValidateRule(&r).ok());
  r.source = "community-x";
  EXPECT_TRUE(ValidateRule(&r).ok());
  r.category = "";
  EXPECT_FALSE(ValidateRule(&r).ok());
  r.category = "doh";
  r.source = "-x";
  EXPECT_FALSE(ValidateRule(&r).ok());
  r.source = std::string(65, 'a');
  EXPECT_FALSE(ValidateRule(&r).ok());
}

TEST(RuleTest, RegexValuesBounded) {
  Rule r = DomainRule("slot[0-9]+");
  r.kind = RuleKind::kPattern;
  EXPECT_TRUE(ValidateRule(&r).ok());
  r.value = "";
  EXPECT_FALSE(ValidateRule(&r).ok());
  r.value = std::string(2000, 'a');
  EXPECT_FALSE(ValidateRule(&r).ok());
  r.value = "a\nb";
  EXPECT_FALSE(ValidateRule(&r).ok());
}

TEST(RuleTest, KindAndActionRoundTrip) {
  for (RuleKind k : {RuleKind::kDomain, RuleKind::kPattern, RuleKind::kUrl}) {
    RuleKind parsed;
    ASSERT_TRUE(ParseRuleKind(ToString(k), &parsed));
    EXPECT_EQ(parsed, k);
  }
  Action a;
  EXPECT_TRUE(ParseAction("allow", &a));
  EXPECT_EQ(a, Action::kAllow);
  EXPECT_FALSE(ParseAction("deny", &a));
}

}  // namespace
}  // namespace saring
