// The `postprocess:` list: top_k, ctc_decode and text_boxes steps in any
// order, their defaults and paths, and errors naming the step and key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using ::testing::HasSubstr;
using PostprocessSectionTest = JobFileTest;

TEST_F(PostprocessSectionTest, StepsOfEveryKindWithDefaultsAndResolvedPaths) {
  Result<JobSpec> job = Parse(kMinimalJob +
                              "postprocess:\n"
                              "  - text_boxes: {output: maps, into: boxes}\n"
                              "  - ctc_decode: {output: logits, alphabet: m/keys.txt, into: text}\n"
                              "  - top_k: {output: scores, k: 2, into: [ids, vals]}\n"
                              "  - text_boxes: {output: m2, threshold: 0.2, box_threshold: 0.5, "
                              "unclip: 2, into: b2}\n"
                              "  - ctc_decode: {output: l2, alphabet: /abs/k.txt, into: t2, "
                              "blank: 3}\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  ASSERT_EQ(job->model.text_boxes.size(), 2u);
  ASSERT_EQ(job->model.ctc_decode.size(), 2u);
  ASSERT_EQ(job->model.top_k.size(), 1u);
  const TextBoxesSpec& t = job->model.text_boxes[0];
  EXPECT_EQ(t.output, "maps");
  EXPECT_EQ(t.into, "boxes");
  EXPECT_DOUBLE_EQ(t.threshold, 0.3);
  EXPECT_DOUBLE_EQ(t.box_threshold, 0.6);
  EXPECT_DOUBLE_EQ(t.unclip, 1.5);
  EXPECT_DOUBLE_EQ(job->model.text_boxes[1].threshold, 0.2);
  EXPECT_DOUBLE_EQ(job->model.text_boxes[1].box_threshold, 0.5);
  EXPECT_DOUBLE_EQ(job->model.text_boxes[1].unclip, 2);
  const CtcDecodeSpec& c = job->model.ctc_decode[0];
  EXPECT_EQ(c.output, "logits");
  EXPECT_EQ(c.alphabet, dir_ + "/m/keys.txt");
  EXPECT_EQ(c.into, "text");
  EXPECT_EQ(c.where, "postprocess[1].ctc_decode");
  EXPECT_EQ(t.where, "postprocess[0].text_boxes");
  EXPECT_EQ(c.blank, 0);
  EXPECT_EQ(job->model.ctc_decode[1].alphabet, "/abs/k.txt");
  EXPECT_EQ(job->model.ctc_decode[1].blank, 3);
  EXPECT_EQ(job->model.top_k[0].k, 2);
}

TEST_F(PostprocessSectionTest, ModelOutputsMayBeLeftOutWhenAStepWritesColumns) {
  const std::string job = Edit("  outputs:\n    - name: y\n      column: y\n", "");
  EXPECT_THAT(ErrorOf(job), HasSubstr("missing required key 'model.outputs'"));
  Result<JobSpec> parsed = Parse(job + "postprocess:\n  - text_boxes: {output: m, into: b}\n");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_TRUE(parsed->model.outputs.empty());
  EXPECT_THAT(ErrorOf(job + "postprocess: []\n"),
              HasSubstr("missing required key 'model.outputs'"));
}

TEST_F(PostprocessSectionTest, ErrorsNameTheStepAndKey) {
  EXPECT_THAT(ErrorOf(kMinimalJob + "postprocess:\n  - ctc_decode: {output: l, into: t}\n"),
              HasSubstr("postprocess[0].ctc_decode.alphabet"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "postprocess:\n  - top_k: {output: s, k: 1, into: [a, b]}\n"
                                    "  - text_boxes: {output: m, into: b, threshold: 1.5}\n"),
              HasSubstr("postprocess[1].text_boxes.threshold: expected a number >= 0 and <= 1"));
  EXPECT_THAT(
      ErrorOf(kMinimalJob + "postprocess:\n  - text_boxes: {output: m, into: b, unclip: 0}\n"),
      HasSubstr("postprocess[0].text_boxes.unclip: expected a number > 0"));
  EXPECT_THAT(ErrorOf(kMinimalJob +
                      "postprocess:\n  - text_boxes: {output: m, into: b, box_treshold: 1}\n"),
              HasSubstr("did you mean 'postprocess[0].text_boxes.box_threshold'"));
  EXPECT_THAT(
      ErrorOf(kMinimalJob + "postprocess:\n  - ctc_decode: {output: l, alphabet: k, into: t, "
                            "blank: -1}\n"),
      HasSubstr("postprocess[0].ctc_decode.blank"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "postprocess:\n  - ctc_decode: {output: l, alphabet: k, "
                                    "into: t}\n    text_boxes: {output: m, into: b}\n"),
              HasSubstr("a step is one mapping with one key"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "postprocess:\n  - ctc_decod: {}\n"),
              HasSubstr("did you mean 'postprocess[0].ctc_decode'"));
}

}  // namespace
}  // namespace nightshift::spec
