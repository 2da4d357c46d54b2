#include "exec/text_boxes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "exec/box_geometry.h"

namespace nightshift::exec {
namespace {

struct Map {
  int64_t h, w;
  std::vector<float> p;
  Map(int64_t h_, int64_t w_, float fill = 0)
      : h(h_), w(w_), p(static_cast<size_t>(h_ * w_), fill) {}
  float& at(int64_t y, int64_t x) { return p[static_cast<size_t>(y * w + x)]; }
  void Rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, float v) {  // inclusive
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) at(y, x) = v;
  }
  std::vector<TextBox> Boxes(TextBoxParams params = {}) const {
    return FindTextBoxes(p.data(), h, w, params, h, w);
  }
};

// PaddleOCR's arithmetic for an axis-aligned region of pixel centres
// x0..x1, y0..y1: sides (x1-x0) and (y1-y0), grown by area*1.5/perimeter.
std::array<float, 8> Expected(double x0, double y0, double x1, double y1, double unclip = 1.5) {
  const double w = x1 - x0, h = y1 - y0, d = w * h * unclip / (2 * (w + h));
  const float l = std::round(x0 - d), r = std::round(x1 + d);
  const float t = std::round(y0 - d), b = std::round(y1 + d);
  return {l, t, r, t, r, b, l, b};
}

TEST(TextBoxesTest, FrameMapsBoxesBackToTheImagesOwnPixels) {
  Map m(80, 128);
  m.Rect(20, 30, 99, 49, 0.9f);
  // A 256 x 120 page letterboxed into the 128 x 80 input: halved to 128 x 60,
  // 10 rows of padding above it.
  const ImageFrame frame{256, 120, 128, 60, 0, 10, 128, 80};
  auto boxes = FindTextBoxes(m.p.data(), m.h, m.w, {}, m.h, m.w, &frame);
  ASSERT_EQ(boxes.size(), 1u);
  const double d = 79.0 * 19 * 1.5 / (2 * (79 + 19));
  const float l = std::round((20 - d) * 2), r = std::round((99 + d) * 2);
  const float t = std::round((30 - d - 10) * 2), b = std::round((49 + d - 10) * 2);
  EXPECT_EQ(boxes[0].points, (std::array<float, 8>{l, t, r, t, r, b, l, b}));
  // The map at half the input's size: first scaled to the input's pixels.
  Map half(40, 64);
  half.Rect(10, 15, 49, 24, 0.9f);
  auto scaled = FindTextBoxes(half.p.data(), half.h, half.w, {}, half.h, half.w, &frame);
  ASSERT_EQ(scaled.size(), 1u);
  EXPECT_NEAR(scaled[0].points[0], std::round((10 - 39.0 * 9 * 1.5 / 96) * 4), 1.0f);
}

TEST(TextBoxesTest, AxisAlignedRectangleIsFoundAndUnclipped) {
  Map m(80, 128);
  m.Rect(20, 30, 99, 49, 0.9f);  // 80 x 20 pixels
  auto boxes = m.Boxes();
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].points, Expected(20, 30, 99, 49));
  EXPECT_NEAR(boxes[0].score, 0.9f, 1e-6);
}

TEST(TextBoxesTest, BoxesAreScaledBackToTheDestinationAndClipped) {
  Map m(32, 64);
  m.Rect(0, 10, 39, 19, 0.8f);  // touches the left edge: the unclip leaves the map
  auto boxes = FindTextBoxes(m.p.data(), m.h, m.w, {}, 64, 128);  // 2x larger page
  ASSERT_EQ(boxes.size(), 1u);
  const double d = 39.0 * 9 * 1.5 / (2 * (39 + 9));
  EXPECT_EQ(boxes[0].points[0], 0.0f);  // clipped
  EXPECT_EQ(boxes[0].points[1], std::round((10 - d) / 32 * 64));
  EXPECT_EQ(boxes[0].points[2], std::round((39 + d) / 64 * 128));
  EXPECT_EQ(boxes[0].points[5], std::round((19 + d) / 32 * 64));
}

TEST(TextBoxesTest, RotatedRectangleGivesARotatedBoxInClockwiseOrder) {
  Map m(200, 200);
  const double angle = 20 * M_PI / 180, c = std::cos(angle), s = std::sin(angle);
  // A 100 x 20 rectangle centred at (100, 100), rotated 20 degrees.
  for (int64_t y = 0; y < 200; ++y) {
    for (int64_t x = 0; x < 200; ++x) {
      const double dx = x - 100.0, dy = y - 100.0;
      const double u = dx * c + dy * s, v = -dx * s + dy * c;
      if (std::fabs(u) <= 50 && std::fabs(v) <= 10) m.at(y, x) = 0.95f;
    }
  }
  auto boxes = m.Boxes();
  ASSERT_EQ(boxes.size(), 1u);
  const auto& p = boxes[0].points;
  // Top-left is left of top-right, which is above bottom-right; the long side
  // follows the rotation.
  EXPECT_LT(p[0], p[2]);
  EXPECT_LT(p[3], p[5]);
  EXPECT_NEAR(std::atan2(p[3] - p[1], p[2] - p[0]), angle, 0.03);
  const double long_side = std::hypot(p[2] - p[0], p[3] - p[1]);
  const double short_side = std::hypot(p[4] - p[2], p[5] - p[3]);
  const double d = 100.0 * 20 * 1.5 / 240;  // unclip distance of a ~100 x 20 box
  EXPECT_NEAR(long_side, 100 + 2 * d, 3);
  EXPECT_NEAR(short_side, 20 + 2 * d, 3);
  // The score counts the pixels of the box's outline too (as PaddleOCR's
  // fillPoly does), some of them background on a rotated box: under 0.95.
  EXPECT_GT(boxes[0].score, 0.85f);
  EXPECT_LT(boxes[0].score, 0.94f);
}

TEST(TextBoxesTest, NoiseBelowThresholdAndWeakOrTinyRegionsGiveNoBox) {
  Map m(64, 64);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(0.0f, 0.29f);
  for (auto& v : m.p) v = noise(rng);
  EXPECT_TRUE(m.Boxes().empty());
  m.Rect(5, 5, 40, 20, 0.5f);  // above threshold 0.3 but its score is under 0.6
  EXPECT_TRUE(m.Boxes().empty());
  m.Rect(50, 40, 51, 60, 0.99f);  // strong but 2 pixels wide: short side 1 < 3
  EXPECT_TRUE(m.Boxes().empty());
  TextBoxParams lower;
  lower.box_threshold = 0.45f;
  EXPECT_EQ(m.Boxes(lower).size(), 1u);
}

TEST(TextBoxesTest, NanInTheMapIsBackgroundAndABoxItTouchesIsDropped) {
  Map m(64, 128);
  m.Rect(20, 20, 99, 39, 0.9f);
  m.at(5, 5) = std::nanf("");  // alone: background
  EXPECT_EQ(m.Boxes().size(), 1u);
  m.at(30, 60) = std::nanf("");  // inside the box: its score is NaN, not >= box_threshold
  EXPECT_TRUE(m.Boxes().empty());
}

TEST(TextBoxesTest, TouchingRegionsMergeAndSeparatedOnesDoNot) {
  Map m(64, 128);
  m.Rect(10, 10, 40, 20, 0.9f);
  m.Rect(41, 10, 80, 20, 0.8f);  // shares an edge: one region
  m.Rect(10, 22, 80, 32, 0.9f);  // one background row between: its own region
  auto boxes = m.Boxes();
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[0].points, Expected(10, 10, 80, 20));
  EXPECT_EQ(boxes[1].points, Expected(10, 22, 80, 32));
  // Corner-to-corner contact is 8-connected (as OpenCV's contours): one
  // region; one pixel further apart, two. (box_threshold 0: the merged
  // region's rectangle holds much background.)
  TextBoxParams any;
  any.box_threshold = 0;
  Map d(64, 64);
  d.Rect(5, 5, 20, 15, 0.9f);
  d.Rect(21, 16, 40, 26, 0.9f);
  EXPECT_EQ(d.Boxes(any).size(), 1u);
  Map apart(64, 64);
  apart.Rect(5, 5, 20, 15, 0.9f);
  apart.Rect(22, 16, 40, 26, 0.9f);
  EXPECT_EQ(apart.Boxes(any).size(), 2u);
}

TEST(TextBoxesTest, BoxScoreAveragesInsideTheRectangleOnly) {
  Map m(64, 128);
  m.Rect(10, 10, 59, 29, 0.7f);
  m.Rect(10, 10, 34, 29, 0.9f);  // left half stronger: mean 0.8
  auto boxes = m.Boxes();
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_NEAR(boxes[0].score, 0.8f, 1e-5);
}

TEST(BoxGeometryTest, MinAreaRectOfASquareAndOrderedCorners) {
  RotatedRect r = MinAreaRect(ConvexHull({{0, 0}, {4, 0}, {4, 2}, {0, 2}, {2, 1}}));
  EXPECT_DOUBLE_EQ(r.width * r.height, 8);
  Quad q = OrderCorners(r.corners);
  EXPECT_DOUBLE_EQ(q[0].x, 0);
  EXPECT_DOUBLE_EQ(q[0].y, 0);
  EXPECT_DOUBLE_EQ(q[2].x, 4);
  EXPECT_DOUBLE_EQ(q[2].y, 2);
  RotatedRect g = GrowRect(r, 1);
  EXPECT_DOUBLE_EQ(g.width * g.height, 24);
  EXPECT_TRUE(InsideConvexQuad(g.corners, -0.5, -0.5, 0));
  EXPECT_FALSE(InsideConvexQuad(g.corners, -1.5, 0, 0));
}

}  // namespace
}  // namespace nightshift::exec
