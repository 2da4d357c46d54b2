// CropFiller: a batch's boxes cut from their pages, each page read once.
#include "image/crop_filler.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "env/env_wrapper.h"
#include "env/temp_dir_for_test.h"
#include "image/test_images.h"

namespace nightshift::image {
namespace {

using ::testing::HasSubstr;

// Counts the files read.
class CountingEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Result<std::string> ReadFile(const std::string& path) override {
    ++reads;
    return EnvWrapper::ReadFile(path);
  }
  std::atomic<int> reads{0};
};

// Writes a.png, a 400 x 100 gradient page, into `dir`.
void WritePage(const TempDir& dir) {
  EXPECT_TRUE(dir.ok());
  EXPECT_TRUE(
      Env::Default()->WriteFile(dir / "a.png", testing::Png(testing::Gradient(400, 100))).ok());
}

TEST(CropFillerTest, ReadsEachPageOncePerBatchAndPadsToTheWidestCrop) {
  TempDir tmp("ns_crop_filler");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  CountingEnv env(Env::Default());
  ASSERT_TRUE(
      env.WriteFile(JoinPath(dir, "a.png"), testing::Png(testing::Gradient(400, 100))).ok());
  ASSERT_TRUE(env.WriteFile(JoinPath(dir, "b.png"), testing::Png(testing::Gradient(300, 60))).ok());
  CropSpec spec{"path", "box", "line", 48};
  CropFiller filler(spec, "", /*bytes=*/false, /*allow_outside=*/false, /*fixed_width=*/0,
                    /*threads=*/2, &env);
  // Two boxes on a.png (one 360 x 20: 864 columns at height 48), one on b.png,
  // one degenerate, one outside b.png.
  std::vector<std::string> values = {
      "[10, 10, 370, 10, 370, 30, 10, 30]|a.png", "[10, 10, 110, 10, 110, 50, 10, 50]|b.png",
      "[20, 50, 120, 50, 120, 90, 20, 90]|a.png", "[5, 5, 5, 5, 5, 5, 5, 5]|a.png",
      "[250, 10, 350, 10, 350, 50, 250, 50]|b.png"};
  std::vector<RowFiller::Row> rows(values.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].value = values[i];
    rows[i].base_dir = dir;
  }
  const int64_t width = filler.PaddedLength(rows);
  EXPECT_EQ(width, 864);
  std::vector<float> out(rows.size() * 3 * 48 * width, 7.0f);
  for (size_t i = 0; i < rows.size(); ++i) rows[i].out = out.data() + i * 3 * 48 * width;
  filler.Fill(rows);
  EXPECT_EQ(env.reads.load(), 2);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_EQ(rows[1].error, "");
  EXPECT_EQ(rows[2].error, "");
  EXPECT_THAT(rows[3].error, HasSubstr("degenerate"));
  EXPECT_THAT(rows[4].error, HasSubstr("outside the 300 x 60 image"));
  EXPECT_THAT(rows[4].error, HasSubstr("image path 'b.png'"));
  // The padding right of a 120-column crop is zeros; a bad row is all zeros.
  EXPECT_EQ(out[1 * 3 * 48 * width + 200], 0.0f);
  for (int64_t k = 0; k < 3 * 48 * width; ++k) ASSERT_EQ(out[3 * 3 * 48 * width + k], 0.0f);
}

TEST(CropFillerTest, AFixedWidthIsKeptAndAMissingPageIsEveryBoxsReason) {
  TempDir tmp("ns_crop_filler");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  CropSpec spec{"path", "box", "line", 32};
  CropFiller filler(spec, "", false, false, /*fixed_width=*/100, 1, Env::Default());
  std::vector<std::string> values = {"[0, 0, 50, 0, 50, 10, 0, 10]|gone.png",
                                     "[0, 0, 60, 0, 60, 10, 0, 10]|gone.png"};
  std::vector<float> out(2 * 3 * 32 * 100, 7.0f);
  std::vector<RowFiller::Row> rows(2);
  for (size_t i = 0; i < 2; ++i) {
    rows[i].value = values[i];
    rows[i].base_dir = dir;
    rows[i].out = out.data() + i * 3 * 32 * 100;
  }
  filler.Fill(rows);
  EXPECT_THAT(rows[0].error, HasSubstr("gone.png"));
  EXPECT_EQ(rows[0].error, rows[1].error);
  for (float v : out) ASSERT_EQ(v, 0.0f);
}

TEST(CropFillerTest, FansAListOfBoxesOutByBoxIndex) {
  TempDir tmp("ns_crop_filler");
  WritePage(tmp);
  const std::string dir = tmp.path();
  CropSpec spec{"path", "box", "line", 48};
  CropFiller filler(spec, "", false, false, /*fixed_width=*/0, 1, Env::Default());
  EXPECT_EQ(filler.first_item(), 0);
  // Three boxes (the second degenerate), nested as 4 [x, y] points each.
  const std::string value =
      "[[[10, 10], [370, 10], [370, 30], [10, 30]], [[5, 5], [5, 5], [5, 5], [5, 5]], "
      "[[20, 50], [120, 50], [120, 90], [20, 90]]]|a.png";
  EXPECT_EQ(*filler.Count(value, dir), 3);
  EXPECT_EQ(*filler.Count("[1, 2, 3, 4, 5, 6, 7, 8]|a.png", dir), 1);
  EXPECT_EQ(*filler.Count("[]|a.png", dir), 0);
  EXPECT_THAT(filler.Count("|a.png", dir).error().message(), HasSubstr("'box' are null"));
  std::vector<RowFiller::Row> rows(3);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].value = value;
    rows[i].base_dir = dir;
    rows[i].item = static_cast<int64_t>(i);
  }
  const int64_t width = filler.PaddedLength(rows);
  EXPECT_EQ(width, 864);  // box 0: 360 x 20
  std::vector<float> out(rows.size() * 3 * 48 * width, 7.0f);
  for (size_t i = 0; i < rows.size(); ++i) rows[i].out = out.data() + i * 3 * 48 * width;
  filler.Fill(rows);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_THAT(rows[1].error, HasSubstr("box_index 1"));
  EXPECT_THAT(rows[1].error, HasSubstr("degenerate"));
  EXPECT_EQ(rows[2].error, "");
  EXPECT_NE(out[0], 0.0f);
}

// One page's boxes as the reader makes them: n rows pointing at one raw
// value of `boxes` boxes (each 100 x 20, on a 400 x 100 page).
std::string ManyBoxes(int boxes) {
  std::string v = "[";
  for (int b = 0; b < boxes; ++b) {
    const int x = b % 30 * 10, y = b % 7 * 10;
    v += fmt::format("{}{}, {}, {}, {}, {}, {}, {}, {}", b ? ", " : "", x, y, x + 60 + b % 40, y,
                     x + 60 + b % 40, y + 20, x, y + 20);
  }
  return v + "]|a.png";
}

std::vector<RowFiller::Row> RowsOf(const std::string& value, int n, const std::string& dir) {
  std::vector<RowFiller::Row> rows(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    rows[static_cast<size_t>(i)].value = value;
    rows[static_cast<size_t>(i)].base_dir = dir;
    rows[static_cast<size_t>(i)].item = i;
  }
  return rows;
}

// The fastest of 5 tries: a shared machine's pauses only ever add time.
double SecondsToPad(const CropFiller& filler, const std::vector<RowFiller::Row>& rows) {
  double best = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_GT(filler.PaddedLength(rows), 0);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

TEST(CropFillerTest, AnInputRowsBoxesAreSplitOnceNotOncePerBox) {
  CropSpec spec{"path", "box", "line", 48};
  CropFiller filler(spec, "", false, false, /*fixed_width=*/0, 1, Env::Default());
  // 8 times the boxes: about 8 times the time when the list is split once
  // per input row, 64 times when it was split for every box.
  const std::string small = ManyBoxes(1000), large = ManyBoxes(8000);
  const double t_small = std::max(SecondsToPad(filler, RowsOf(small, 1000, "/")), 1e-4);
  const double t_large = SecondsToPad(filler, RowsOf(large, 8000, "/"));
  RecordProperty("ms_1000_boxes", std::to_string(t_small * 1e3));
  RecordProperty("ms_8000_boxes", std::to_string(t_large * 1e3));
  EXPECT_LT(t_large / t_small, 30)
      << t_small << " s for 1,000 boxes, " << t_large << " s for 8,000";
}

TEST(CropFillerTest, RowsSharingOneValueCropAsRowsWithCopiesOfIt) {
  TempDir tmp("ns_crop_filler");
  WritePage(tmp);
  const std::string dir = tmp.path();
  CropSpec spec{"path", "box", "line", 48};
  CropFiller filler(spec, "", false, false, /*fixed_width=*/0, 2, Env::Default());
  // 40 boxes, the last one outside the page; box_index 40 does not exist.
  const std::string value = ManyBoxes(39).substr(0, ManyBoxes(39).size() - 7) +
                            ", 390, 90, 500, 90, 500, 99, 390, 99]|a.png";
  std::vector<RowFiller::Row> shared = RowsOf(value, 41, dir);
  std::vector<std::string> copies(shared.size(), value);
  std::vector<RowFiller::Row> copied = RowsOf(value, 41, dir);
  for (size_t i = 0; i < copied.size(); ++i) copied[i].value = copies[i];
  const int64_t width = filler.PaddedLength(shared);
  ASSERT_EQ(width, filler.PaddedLength(copied));
  const size_t stride = static_cast<size_t>(3 * 48 * width);
  std::vector<float> a(shared.size() * stride, 7.0f), b(shared.size() * stride, 7.0f);
  for (size_t i = 0; i < shared.size(); ++i) {
    shared[i].out = a.data() + i * stride;
    copied[i].out = b.data() + i * stride;
  }
  filler.Fill(shared);
  filler.Fill(copied);
  for (size_t i = 0; i < shared.size(); ++i) EXPECT_EQ(shared[i].error, copied[i].error) << i;
  EXPECT_EQ(shared[0].error, "");
  EXPECT_THAT(shared[39].error, HasSubstr("outside"));
  EXPECT_THAT(shared[40].error, HasSubstr("box_index 40: the row has 40 boxes"));
  EXPECT_TRUE(a == b);
  EXPECT_NE(a[0], 0.0f);
}

}  // namespace
}  // namespace nightshift::image
