// The `preprocess:` list: tokenize steps, their paths, and errors naming the step.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using ::testing::HasSubstr;
using PreprocessSectionTest = JobFileTest;

TEST_F(PreprocessSectionTest, TokenizeStepsWithResolvedPaths) {
  Result<JobSpec> job = Parse(kMinimalJob +
                              "preprocess:\n"
                              "  - tokenize: {column: body, tokenizer: m/tokenizer.json, "
                              "max_length: 128, into: tok}\n"
                              "  - tokenize: {column: title, tokenizer: /abs/t.json, into: t2}\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  ASSERT_EQ(job->input.tokenize.size(), 2u);
  const TokenizeSpec& t = job->input.tokenize[0];
  EXPECT_EQ(t.column, "body");
  EXPECT_EQ(t.tokenizer, dir_ + "/m/tokenizer.json");
  EXPECT_EQ(t.max_length, 128);
  EXPECT_EQ(t.into, "tok");
  EXPECT_EQ(job->input.tokenize[1].tokenizer, "/abs/t.json");
  EXPECT_EQ(job->input.tokenize[1].max_length, 0);
}

TEST_F(PreprocessSectionTest, ErrorsNameTheStepAndKey) {
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess:\n  - tokenize: {column: b, into: t}\n"),
              HasSubstr("preprocess[0].tokenize.tokenizer"));
  EXPECT_THAT(
      ErrorOf(kMinimalJob + "preprocess:\n  - tokenize: {column: b, tokenizer: t.json, into: t, "
                            "max_lenght: 5}\n"),
      HasSubstr("did you mean 'preprocess[0].tokenize.max_length'"));
  EXPECT_THAT(
      ErrorOf(kMinimalJob + "preprocess:\n  - tokenize: {column: b, tokenizer: t.json, into: t, "
                            "max_length: 0}\n"),
      HasSubstr("preprocess[0].tokenize.max_length"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess:\n"
                                    "  - tokenize: {column: a, tokenizer: t.json, into: t}\n"
                                    "  - tokenize: {column: b, tokenizer: t.json, into: t}\n"),
              HasSubstr("already the `into` of an earlier step"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess: {tokenize: {}}\n"), HasSubstr("preprocess"));
}

}  // namespace
}  // namespace nightshift::spec
