// `preprocess: - image:` steps and `input.allow_outside`: values, defaults and
// errors naming the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ImageSectionTest = JobFileTest;

TEST_F(ImageSectionTest, ReadsEveryKeyAndDefaults) {
  Result<JobSpec> job =
      Parse(Edit("  key: id\n", "  key: id\n  allow_outside: true\n") +
            "preprocess:\n"
            "  - image: {column: path, into: pixels, size: [224, 200], resize: "
            "letterbox, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, "
            "0.225], layout: nhwc, color: bgr, max_pixels: 1000, reducing_gap: 0}\n"
            "  - image: {column: img, into: small, size: [32, 32]}\n"
            "  - tokenize: {column: body, tokenizer: t.json, into: tok}\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_TRUE(job->input.allow_outside);
  ASSERT_EQ(job->input.images.size(), 2u);
  const ImageSpec& a = job->input.images[0];
  EXPECT_EQ(a.column, "path");
  EXPECT_EQ(a.into, "pixels");
  EXPECT_EQ(a.height, 224);
  EXPECT_EQ(a.width, 200);
  EXPECT_EQ(a.resize, "letterbox");
  EXPECT_THAT(a.mean, ElementsAre(0.485, 0.456, 0.406));
  EXPECT_THAT(a.std, ElementsAre(0.229, 0.224, 0.225));
  EXPECT_EQ(a.layout, "nhwc");
  EXPECT_EQ(a.color, "bgr");
  EXPECT_EQ(a.max_pixels, 1000);
  EXPECT_EQ(a.reducing_gap, 0);
  const ImageSpec& b = job->input.images[1];
  EXPECT_EQ(b.resize, "stretch");
  EXPECT_EQ(b.layout, "nchw");
  EXPECT_EQ(b.color, "rgb");
  EXPECT_TRUE(b.mean.empty());
  EXPECT_EQ(b.max_pixels, 50'000'000);
  EXPECT_EQ(b.reducing_gap, 2);
  EXPECT_EQ(job->input.tokenize.size(), 1u);
}

TEST_F(ImageSectionTest, AllowOutsideIsFalseByDefault) {
  Result<JobSpec> job = Parse(kMinimalJob);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_FALSE(job->input.allow_outside);
}

TEST_F(ImageSectionTest, ErrorsNameTheKey) {
  auto step = [](const std::string& body) {
    return kMinimalJob + "preprocess:\n  - image: {" + body + "}\n";
  };
  EXPECT_THAT(ErrorOf(step("column: p, into: x")), HasSubstr("preprocess[0].image.size"));
  EXPECT_THAT(ErrorOf(step("into: x, size: [2, 2]")), HasSubstr("preprocess[0].image.column"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2]")), HasSubstr("[height, width]"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [0, 2]")),
              HasSubstr("preprocess[0].image.size[0]"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], resize: crop")),
              HasSubstr("preprocess[0].image.resize"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], mean: [0.5]")),
              HasSubstr("expected a list of 3 numbers"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], color: gray, std: [0.5, 1, 1]")),
              HasSubstr("expected a list of 1 numbers"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], std: [1, 0, 1]")),
              HasSubstr("preprocess[0].image.std[1]: must not be 0"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], mean: [1, a, 1]")),
              HasSubstr("expected a number, got 'a'"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], reducing_gap: -1")),
              HasSubstr("preprocess[0].image.reducing_gap"));
  EXPECT_THAT(ErrorOf(step("column: p, into: x, size: [2, 2], colour: rgb")),
              HasSubstr("did you mean 'preprocess[0].image.color'"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess:\n  - image: {column: p, into: x, size: [2, 2]}\n"
                                    "  - tokenize: {column: b, tokenizer: t.json, into: x}\n"),
              HasSubstr("'x' is already the `into` of an earlier step"));
}

}  // namespace
}  // namespace nightshift::spec
