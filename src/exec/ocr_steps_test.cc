#include "exec/ocr_steps.h"

#include <gtest/gtest.h>

#include <cstring>

namespace nightshift::exec {
namespace {

// Two rows: a [2, 1, 16, 24] map (row 0: one box; row 1: none) and a
// [2, 3, 4] class-probability output (blank, "x", "y", space).
RowBatch Batch() {
  RowBatch b;
  b.num_rows = 2;
  Tensor map = Tensor::Allocate(DType::kFloat32, {2, 1, 16, 24});
  std::memset(map.data(), 0, 2 * 16 * 24 * sizeof(float));
  for (int y = 4; y < 10; ++y)
    for (int x = 3; x < 20; ++x) map.data_as<float>()[y * 24 + x] = 0.9f;
  b.outputs.push_back(std::move(map));
  Tensor probs = Tensor::Allocate(DType::kFloat32, {2, 3, 4});
  const float p[2][3][4] = {{{0.1f, 0.8f, 0.05f, 0.05f}, {0.1f, 0.1f, 0.1f, 0.7f}, {0, 0, 1, 0}},
                            {{1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}}};
  std::memcpy(probs.data(), p, sizeof(p));
  b.outputs.push_back(std::move(probs));
  b.outputs.push_back(Tensor::Allocate(DType::kInt64, {9, 9}));  // a recycled batch's leftovers
  return b;
}

OcrSteps Steps() {
  OcrSteps s;
  s.boxes.push_back({0, 5, {}, "postprocess[0].text_boxes"});
  s.ctc.push_back({1, 2, 0, 4, {"x", "y"}, "postprocess[1].ctc_decode"});
  return s;
}

TEST(OcrStepsTest, WritesTextLengthsScoresAndRaggedBoxes) {
  RowBatch b = Batch();
  ASSERT_TRUE(ApplyOcrSteps(Steps(), &b).ok());
  ASSERT_EQ(b.outputs.size(), 9u);
  // ctc: text bytes [2, 3] ("x y" and ""), lengths, scores.
  EXPECT_EQ(b.outputs[2].shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.outputs[2].data()), 3), "x y");
  EXPECT_EQ(b.outputs[3].data_as<int64_t>()[0], 3);
  EXPECT_EQ(b.outputs[3].data_as<int64_t>()[1], 0);
  EXPECT_NEAR(b.outputs[4].data_as<float>()[0], (0.8f + 0.7f + 1.0f) / 3, 1e-6);
  EXPECT_EQ(b.outputs[4].data_as<float>()[1], 0.0f);
  // boxes: [2, 8] corners, 8 and 0 of them; [2, 1] scores, 1 and 0.
  EXPECT_EQ(b.outputs[5].shape(), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(b.outputs[6].data_as<int64_t>()[0], 8);
  EXPECT_EQ(b.outputs[6].data_as<int64_t>()[1], 0);
  EXPECT_NEAR(b.outputs[7].data_as<float>()[0], 0.9f, 1e-6);
  EXPECT_EQ(b.outputs[8].data_as<int64_t>()[0], 1);
  EXPECT_EQ(b.outputs[8].data_as<int64_t>()[1], 0);
  EXPECT_LT(b.outputs[5].data_as<float>()[0], 3.0f);  // grown past the region's left edge
}

TEST(OcrStepsTest, WrongShapesAndClassCountsAreSchemaMismatches) {
  RowBatch b = Batch();
  OcrSteps s = Steps();
  s.ctc[0].alphabet = {"x", "y", "z", "w"};  // 4 symbols for 4 classes: no room for the blank
  Status st = ApplyOcrSteps(s, &b);
  EXPECT_EQ(st.code(), Code::kSchemaMismatch);
  EXPECT_NE(st.message().find("postprocess[1].ctc_decode: the model has 4 classes"),
            std::string::npos);
  OcrSteps boxes_on_probs;
  boxes_on_probs.boxes.push_back({1, 2, {}, "postprocess[0].text_boxes"});
  RowBatch c = Batch();
  c.outputs[1].Reshape({2, 2, 3, 2});  // two channels: not a probability map
  st = ApplyOcrSteps(boxes_on_probs, &c);
  EXPECT_EQ(st.code(), Code::kSchemaMismatch);
  EXPECT_NE(st.message().find("probability map"), std::string::npos);
}

}  // namespace
}  // namespace nightshift::exec
