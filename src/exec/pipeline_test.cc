#include "exec/pipeline.h"

#include <gtest/gtest.h>

namespace nightshift::exec {
namespace {

TEST(ChooseWritersTest, OneWriterUpToSevenCoresThenOnePerFourCoresAtMostFour) {
  EXPECT_EQ(ChooseWriters(0, false, 1), 1);
  EXPECT_EQ(ChooseWriters(0, false, 2), 1);
  EXPECT_EQ(ChooseWriters(0, false, 7), 1);
  EXPECT_EQ(ChooseWriters(0, false, 8), 2);
  EXPECT_EQ(ChooseWriters(0, false, 12), 3);
  EXPECT_EQ(ChooseWriters(0, false, 16), 4);
  EXPECT_EQ(ChooseWriters(0, false, 128), 4);
}

TEST(ChooseWritersTest, AskedForIsTakenAndADatabaseHasOne) {
  EXPECT_EQ(ChooseWriters(3, false, 2), 3);
  EXPECT_EQ(ChooseWriters(1, false, 64), 1);
  EXPECT_EQ(ChooseWriters(0, true, 64), 1);
  EXPECT_EQ(ChooseWriters(1, true, 64), 1);
}

TEST(ChooseReadersTest, TheSameRuleAsWritersWithoutTheDatabaseCase) {
  EXPECT_EQ(ChooseReaders(0, 2), 1);
  EXPECT_EQ(ChooseReaders(0, 8), 2);
  EXPECT_EQ(ChooseReaders(0, 64), 4);
  EXPECT_EQ(ChooseReaders(3, 2), 3);
}

}  // namespace
}  // namespace nightshift::exec
