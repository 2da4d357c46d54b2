#include "nightshift/status.h"

#include <gtest/gtest.h>

namespace nightshift {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Error(Code::kInvalidData, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  NS_ASSIGN_OR_RETURN(int h, Half(x));
  NS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  auto r = Half(x);
  NS_RETURN_IF_ERROR(r.has_value() ? Status::Ok() : r.error());
  return Status::Ok();
}

TEST(StatusTest, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidData);
  EXPECT_EQ(r.error().ToString(), "invalid_data: odd");
}

TEST(StatusTest, ReturnIfErrorWorksInStatusFunctions) {
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), Code::kInvalidData);
}

TEST(StatusTest, WithContextPrefixesTheMessageAndKeepsTheCode) {
  Status s = Status(Code::kNotFound, "no such file").WithContext("input data.csv");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "input data.csv: no such file");
  EXPECT_TRUE(Status(Code::kOutOfMemory, "x").transient());
  EXPECT_FALSE(Status(Code::kModelError, "x").transient());
}

}  // namespace
}  // namespace nightshift
