#include "io/row_origins.h"

#include <gtest/gtest.h>

namespace nightshift::io {
namespace {

TEST(RowOriginsTest, GivesBackEveryRowsOriginAcrossRunsFilesAndGaps) {
  std::vector<int64_t> want;
  for (int64_t r = 100; r < 5000; ++r) want.push_back(r);  // one run
  want.push_back(7);                                       // a row list: runs of one
  want.push_back(9);
  want.push_back(9);  // a row repeated (items made of one input row)
  for (int64_t r = 0; r < 300; ++r) want.push_back((int64_t{3} << 40) + r);  // another file
  want.push_back((int64_t{3} << 40) + 300);                                  // goes on the same run
  RowOrigins origins;
  for (int64_t o : want) origins.Add(o);
  ASSERT_EQ(origins.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(origins[i], want[i]) << "row " << i;
}

TEST(RowOriginsTest, EmptyHasNoRows) {
  EXPECT_EQ(RowOrigins().size(), 0u);
}

}  // namespace
}  // namespace nightshift::io
