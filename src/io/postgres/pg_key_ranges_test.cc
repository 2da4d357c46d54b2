#include "io/postgres/pg_key_ranges.h"

#include <gtest/gtest.h>

namespace nightshift::io::pg {
namespace {

TEST(CutKeyRanges, EveryKeyInExactlyOneRangeOpenAtBothEnds) {
  // 25 rows, shards of 10: boundaries are the keys of rows 10 and 20.
  auto r = CutKeyRanges({"10", "20"}, 25, 10);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].after, "");
  EXPECT_EQ(r[0].upto, "10");
  EXPECT_EQ(r[1].after, "10");
  EXPECT_EQ(r[1].upto, "20");
  EXPECT_EQ(r[2].after, "20");
  EXPECT_EQ(r[2].upto, "");
  EXPECT_EQ(r[0].rows + r[1].rows + r[2].rows, 25);
  EXPECT_EQ(r[2].rows, 5);
}

TEST(CutKeyRanges, ExactMultipleLeavesNoEmptyLastRange) {
  auto r = CutKeyRanges({"10", "20"}, 20, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].after, "10");
  EXPECT_EQ(r[1].upto, "");  // rows inserted above the last key still have a shard
  EXPECT_EQ(r[1].rows, 10);
}

TEST(CutKeyRanges, SmallRestJoinsThePreviousRange) {
  auto r = CutKeyRanges({"\"b\"", "\"d\""}, 21, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].after, "\"b\"");
  EXPECT_EQ(r[1].upto, "");
  EXPECT_EQ(r[1].rows, 11);
}

TEST(CutKeyRanges, FewOrNoRowsIsOneOpenRange) {
  auto few = CutKeyRanges({}, 7, 10);
  ASSERT_EQ(few.size(), 1u);
  EXPECT_EQ(few[0].after, "");
  EXPECT_EQ(few[0].upto, "");
  EXPECT_EQ(few[0].rows, 7);
  auto none = CutKeyRanges({}, 0, 10);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].rows, 0);
}

TEST(CutKeyRanges, BoundariesPastTheRowsAreIgnored) {
  // A boundary list longer than the rows allow never makes a range of
  // negative rows.
  auto r = CutKeyRanges({"10", "20", "30"}, 15, 10);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].rows, 5);
}

TEST(KeyJson, IntegersAreNumbersOthersStringsAndRoundTrip) {
  EXPECT_EQ(KeyJson("42", true), "42");
  EXPECT_EQ(KeyJson("it's \"x\"", false), "\"it's \\\"x\\\"\"");
  EXPECT_EQ(KeyText(KeyJson("it's \"x\"", false)), "it's \"x\"");
  EXPECT_EQ(KeyText("42"), "42");
  EXPECT_EQ(KeyText(KeyJson("ünï", false)), "ünï");
}

TEST(KeyArray, ElementsAreQuotedAndEscaped) {
  EXPECT_EQ(KeyArray({"1", "-20"}), "{\"1\",\"-20\"}");
  EXPECT_EQ(KeyArray({KeyJson("a\"b\\c,{d}", false), "\"ü\""}), "{\"a\\\"b\\\\c,{d}\",\"ü\"}");
  EXPECT_EQ(KeyArray({}), "{}");
}

}  // namespace
}  // namespace nightshift::io::pg
