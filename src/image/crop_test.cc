#include "image/crop.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace nightshift::image {
namespace {

// A w x h RGB page: white, with the rectangle [x0, x1) x [y0, y1) in `rgb`.
Pixels Page(int w, int h, int x0, int y0, int x1, int y1, std::array<uint8_t, 3> rgb) {
  Pixels p{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w * h * 3), 255)};
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x)
      for (int c = 0; c < 3; ++c) p.row(y)[x * 3 + c] = rgb[static_cast<size_t>(c)];
  return p;
}

TEST(CropTest, ParseBoxTakesDuckdbListsAndRefusesOtherCounts) {
  auto box = ParseBox("[1.5, 2.0, 30.0, 2.0, 30.0, 12.0, 1.5, 12.0]");
  ASSERT_TRUE(box.has_value());
  EXPECT_EQ((*box)[0], 1.5);
  EXPECT_EQ((*box)[5], 12.0);
  auto many = ParseBox("[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]");
  ASSERT_FALSE(many.has_value());
  EXPECT_NE(many.error().message().find("box has 10 numbers"), std::string::npos);
  EXPECT_FALSE(ParseBox("[1, 2, NULL, 4, 5, 6, 7, 8]").has_value());
  EXPECT_FALSE(ParseBox("").has_value());
}

TEST(CropTest, SplitBoxesCutsFlatListsEvery8NumbersAndNestedOnesByElement) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(SplitBoxes("[1, 2, 3, 4, 5, 6, 7, 8]"), V{"1, 2, 3, 4, 5, 6, 7, 8"});
  EXPECT_EQ(SplitBoxes("[1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10, 11, 12, 13, 14, 15, 16, 17, 18]"),
            (V{"1, 2, 3, 4, 5, 6, 7, 8, ", "9.5, 10, 11, 12, 13, 14, 15, 16, ", "17, 18"}));
  EXPECT_EQ(SplitBoxes("[[1, 2], [3, 4], [5, 6], [7, 8]]"),
            (V{"[1, 2]", "[3, 4]", "[5, 6]", "[7, 8]"}));
  EXPECT_EQ(SplitBoxes("[[[1, 2], [3, 4], [5, 6], [7, 8]], [[9, 9], [9, 9]], NULL]"),
            (V{"[[1, 2], [3, 4], [5, 6], [7, 8]]", "[[9, 9], [9, 9]]", "NULL"}));
  EXPECT_TRUE(SplitBoxes("[]").empty());
  // Each box then parses, or says what is wrong with it.
  auto boxes = SplitBoxes("[[[1, 2], [3, 4], [5, 6], [7, 8]], [[9, 9]], NULL]");
  ASSERT_EQ(boxes.size(), 3u);
  ASSERT_TRUE(ParseBox(boxes[0]).has_value());
  EXPECT_EQ((*ParseBox(boxes[0]))[7], 8.0);
  EXPECT_FALSE(ParseBox(boxes[1]).has_value());
  EXPECT_FALSE(ParseBox(boxes[2]).has_value());
  auto flat = SplitBoxes("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]");
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_FALSE(ParseBox(flat[1]).has_value());
}

TEST(CropTest, PlanSizesTurnsTallBoxesAndRefusesDegenerateOnes) {
  auto wide = PlanCrop({10, 10, 110, 10, 110, 30, 10, 30});
  ASSERT_TRUE(wide.has_value());
  EXPECT_EQ(wide->crop_w, 100);
  EXPECT_EQ(wide->crop_h, 20);
  EXPECT_FALSE(wide->turned);
  EXPECT_EQ(ScaledWidth(*wide, 48), 240);  // ceil(48 * 100 / 20)
  auto tall = PlanCrop({10, 10, 30, 10, 30, 110, 10, 110});
  ASSERT_TRUE(tall.has_value());
  EXPECT_TRUE(tall->turned);
  EXPECT_EQ(tall->crop_w, 100);
  EXPECT_EQ(tall->crop_h, 20);
  EXPECT_EQ(tall->corners[0], 30);  // the top-right corner leads
  EXPECT_FALSE(PlanCrop({5, 5, 5, 5, 5, 5, 5, 5}).has_value());
  EXPECT_FALSE(PlanCrop({0, 0, NAN, 0, 1, 1, 0, 1}).has_value());
  EXPECT_TRUE(CheckInside(*wide, 120, 40).ok());
  EXPECT_FALSE(CheckInside(*wide, 100, 40).ok());
}

TEST(CropTest, CutOutScalesToTheHeightInBgrAndPadsWithZeros) {
  // A red bar 96 x 24 on white: the box is exactly the bar.
  const Pixels page = Page(200, 100, 50, 40, 146, 64, {200, 0, 0});
  auto box = PlanCrop({50, 40, 146, 40, 146, 64, 50, 64});
  ASSERT_TRUE(box.has_value());
  const int64_t width = 320;
  std::vector<float> out(3 * 48 * width, 7.0f);
  CutOut(page, *box, 48, width, out.data());
  const int64_t plane = 48 * width;
  auto at = [&](int c, int y, int64_t x) {
    return out[static_cast<size_t>(c * plane + y * width + x)];
  };
  // 192 columns (48 * 96 / 24); inside, away from the edges, the bar's colour.
  EXPECT_FLOAT_EQ(at(0, 24, 96), -1.0f);              // B = 0
  EXPECT_FLOAT_EQ(at(1, 24, 96), -1.0f);              // G = 0
  EXPECT_NEAR(at(2, 24, 96), 200 / 127.5 - 1, 1e-5);  // R = 200
  EXPECT_EQ(at(0, 24, 192), 0.0f);                    // padding
  EXPECT_EQ(at(2, 47, width - 1), 0.0f);
}

TEST(CropTest, CutOutStraightensARotatedBox) {
  // A dark square rotated by 45 degrees (a diamond) read through a box along
  // its sides comes out uniformly dark.
  Pixels page = Page(100, 100, 0, 0, 0, 0, {0, 0, 0});
  for (int y = 0; y < 100; ++y)
    for (int x = 0; x < 100; ++x)
      if (std::abs(x - 50) + std::abs(y - 50) <= 30)
        for (int c = 0; c < 3; ++c) page.row(y)[x * 3 + c] = 10;
  auto box = PlanCrop({50, 25, 75, 50, 50, 75, 25, 50});  // inside the diamond
  ASSERT_TRUE(box.has_value());
  std::vector<float> out(3 * 48 * 48);
  CutOut(page, *box, 48, 48, out.data());
  for (float v : out) EXPECT_NEAR(v, 10 / 127.5 - 1, 1e-4);
}

}  // namespace
}  // namespace nightshift::image
