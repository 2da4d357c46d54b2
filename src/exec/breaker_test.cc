#include "exec/breaker.h"

#include <gtest/gtest.h>

namespace nightshift::exec {
namespace {

const Status kTimeout(Code::kTimeout, "slow");
const Status kReset(Code::kTransient, "connection reset");

TEST(BreakerTest, TripsOnTheThirdConsecutiveFailureOfOneCode) {
  Breaker b;
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  Status s = b.RecordFailure(kTimeout);
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("3 consecutive batches failed (timeout)"), std::string::npos);
  EXPECT_NE(s.message().find("slow"), std::string::npos);
}

TEST(BreakerTest, ASuccessStartsTheCountAgain) {
  Breaker b;
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  b.RecordSuccess();
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
}

TEST(BreakerTest, AnotherCodeStartsTheCountAgain) {
  Breaker b;
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  EXPECT_TRUE(b.RecordFailure(kTimeout).ok());
  EXPECT_TRUE(b.RecordFailure(kReset).ok());
  EXPECT_TRUE(b.RecordFailure(kReset).ok());
  EXPECT_EQ(b.RecordFailure(kReset).code(), Code::kFailed);
}

}  // namespace
}  // namespace nightshift::exec
