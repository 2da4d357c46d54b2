#include "exec/output_names.h"

#include <gtest/gtest.h>

namespace nightshift::exec {
namespace {

TEST(OutputNamesTest, DistinctNamesPass) {
  EXPECT_TRUE(CheckOutputNames({{"id", "output.keep"},
                                {"name", "output.keep"},
                                {"p0", "model.outputs[0].columns"},
                                {"emb", "model.outputs[1].column"}})
                  .ok());
}

TEST(OutputNamesTest, KeepAndOutputDifferingInCaseAreRefusedNamingBoth) {
  Status s = CheckOutputNames({{"ID", "output.keep"}, {"id", "model.outputs[0].columns"}});
  EXPECT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_EQ(s.message(),
            "output columns 'ID' (output.keep) and 'id' (model.outputs[0].columns) differ only in "
            "case: column names are case-insensitive in the output, so they must differ in more "
            "than case");
}

TEST(OutputNamesTest, TwoOutputsDifferingInCaseAreRefused) {
  Status s = CheckOutputNames({{"id", "output.keep"},
                               {"Score", "model.outputs[0].columns"},
                               {"score", "model.outputs[1].column"}});
  EXPECT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_NE(s.message().find("'Score' (model.outputs[0].columns) and 'score' "
                             "(model.outputs[1].column) differ only in case"),
            std::string::npos)
      << s.message();
}

TEST(OutputNamesTest, ExactRepeatNamesBothOrigins) {
  Status s = CheckOutputNames({{"id", "output.keep"}, {"id", "model.outputs[0].columns"}});
  EXPECT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_EQ(s.message(),
            "output column 'id' appears twice (output.keep and model.outputs[0].columns): "
            "output.keep and model.outputs must name distinct columns");
}

}  // namespace
}  // namespace nightshift::exec
