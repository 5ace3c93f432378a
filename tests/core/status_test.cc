#include "saring/status.h"

#include <gtest/gtest.h>

namespace saring {
namespace {

TEST(StatusTest, OkByDefault) {
  Status st;
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(st.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status st = Status::InvalidArgument("bad label");
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.ToString(), "invalid argument: bad label");
  EXPECT_EQ(st.WithContext("line 3").message(), "line 3: bad label");
}

Status FailsEarly(bool fail, int* reached) {
  SARING_RETURN_IF_ERROR(fail ? Status::IOError("disk") : Status::OK());
  *reached = 1;
  return Status::OK();
}

TEST(StatusTest, ReturnIfErrorStopsOnError) {
  int reached = 0;
  EXPECT_EQ(FailsEarly(true, &reached).code(), Status::Code::kIOError);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(FailsEarly(false, &reached).ok());
  EXPECT_EQ(reached, 1);
}

}  // namespace
}  // namespace saring
