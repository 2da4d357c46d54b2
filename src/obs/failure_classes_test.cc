#include "obs/failure_classes.h"

#include <gtest/gtest.h>

namespace nightshift::obs {
namespace {

TEST(FailureClassTest, NumbersVaryNamesDoNot) {
  EXPECT_EQ(FailureClass("the batch holding this row failed 3 time(s) (Transient): reset at 17"),
            "the batch holding this row failed # time(s) (Transient): reset at #");
  EXPECT_EQ(FailureClass("null value in column 'f2' at row 1234"),
            "null value in column 'f2' at row #");
  EXPECT_NE(FailureClass("null in column 'f1'"), FailureClass("null in column 'f2'"));
  EXPECT_EQ(FailureClass(std::string(500, 'x')).size(), 200u);
}

TEST(FailureTallyTest, GroupsByClassLargestFirstWithAFewExampleKeys) {
  FailureTally t;
  for (int i = 0; i < 5; ++i) t.Add("bad value at row " + std::to_string(i), std::to_string(i));
  t.Add("model said no", "\"k\"");
  auto g = t.Groups();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].reason, "bad value at row #");
  EXPECT_EQ(g[0].count, 5);
  EXPECT_EQ(g[0].example_keys, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(g[1].count, 1);
}

TEST(FailureTallyTest, ClassesAreBounded) {
  FailureTally t;
  for (size_t i = 0; i < FailureTally::kMaxClasses + 50; ++i)
    t.Add("reason " + std::string(i + 1, 'x'), "1");
  auto g = t.Groups();
  EXPECT_EQ(g.size(), FailureTally::kMaxClasses + 1);  // + "other"
  EXPECT_EQ(g.front().reason, "other");
  EXPECT_EQ(g.front().count, 50);
}

}  // namespace
}  // namespace nightshift::obs
