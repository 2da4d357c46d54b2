#include "transform/json_score.h"

#include <gtest/gtest.h>

namespace nightshift::transform {
namespace {

// float32 scores whose shortest decimal has 16 or 17 digits: the integer of
// those digits is above 2^53, rounds once to float64 and again in the
// division, and lands one unit in the last place above the exact value.
TEST(JsonScoreTest, LongDecimalsRoundTwiceAsSerdeJsonDoes) {
  EXPECT_EQ(JsonScore(static_cast<double>(-9.716790199279785f)), -0x1.36eff1fffffffp+3);
  EXPECT_EQ(JsonScore(static_cast<double>(-12.345678329467773f)), -0x1.8b0fcbfffffffp+3);
}

// Shorter decimals are exact integers divided once: correctly rounded.
TEST(JsonScoreTest, ShortDecimalsAndExponentsReadBackExactly) {
  EXPECT_EQ(JsonScore(static_cast<double>(-9.38195514678955f)), -0x1.2c38fap+3);
  EXPECT_EQ(JsonScore(0.0), 0.0);
  EXPECT_EQ(JsonScore(-1.5), -1.5);
  EXPECT_EQ(JsonScore(static_cast<double>(3e-7f)),
            0x1.421f6p-22);  // written as 3.000000106112566e-07
  EXPECT_EQ(JsonScore(-2e10), -2e10);
}

}  // namespace
}  // namespace nightshift::transform
