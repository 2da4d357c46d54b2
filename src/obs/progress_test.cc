#include "obs/progress.h"

#include <gtest/gtest.h>

namespace nightshift::obs {
namespace {

TEST(ProgressTest, FormatsThousandsAndDurations) {
  EXPECT_EQ(Progress::Thousands(0), "0");
  EXPECT_EQ(Progress::Thousands(999), "999");
  EXPECT_EQ(Progress::Thousands(1234567), "1,234,567");
  EXPECT_EQ(Progress::Thousands(-1000), "-1,000");
  EXPECT_EQ(Progress::Duration(12.2), "12s");
  EXPECT_EQ(Progress::Duration(185), "3m05s");
  EXPECT_EQ(Progress::Duration(3720), "1h02m");
}

}  // namespace
}  // namespace nightshift::obs
