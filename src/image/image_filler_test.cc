// ImageFiller: a batch's rows from paths and BLOBs, bad rows beside good ones.
#include "image/image_filler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "env/temp_dir_for_test.h"
#include "image/test_images.h"

namespace nightshift::image {
namespace {

using ::testing::HasSubstr;

ImageSpec Step() {
  ImageSpec s;
  s.column = "path";
  s.into = "pixels";
  s.height = 6;
  s.width = 8;
  return s;
}

TEST(ImageFillerTest, FillsEveryRowOnWorkersAndReportsBadOnes) {
  TempDir tmp("ns_image_filler");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  Env* env = Env::Default();
  ASSERT_TRUE(env->WriteFile(JoinPath(dir, "a.png"), testing::Png(testing::Gradient(16, 12))).ok());
  ASSERT_TRUE(env->WriteFile(JoinPath(dir, "bad.jpg"), "not an image").ok());
  ImageFiller filler(Step(), /*bytes=*/false, /*allow_outside=*/false, /*threads=*/3, env);
  const int64_t n = 40, per_row = 3 * 6 * 8;
  std::vector<float> out(n * per_row, -1.0f);
  std::vector<RowFiller::Row> rows(n);
  for (int64_t i = 0; i < n; ++i) {
    rows[i].value = i % 4 == 3 ? "bad.jpg" : "a.png";
    rows[i].base_dir = dir;
    rows[i].out = out.data() + i * per_row;
  }
  filler.Fill(rows);
  // Row 0 done alone on this thread: the reference for every good row.
  std::vector<float> one(per_row);
  RowFiller::Row ref{"a.png", dir, one.data(), {}, {}};
  EXPECT_EQ(filler.FillOne(ref), "");
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> got(out.begin() + i * per_row, out.begin() + (i + 1) * per_row);
    if (i % 4 == 3) {
      EXPECT_THAT(rows[i].error, HasSubstr("image path 'bad.jpg': not a JPEG, PNG or WebP"));
      EXPECT_EQ(got, std::vector<float>(per_row, 0.0f));
    } else {
      EXPECT_EQ(rows[i].error, "");
      EXPECT_EQ(got, one) << i;
    }
  }
}

TEST(ImageFillerTest, BlobRowsAreTheImageBytes) {
  const std::string png = testing::Png(testing::Gradient(16, 12));
  const std::string cut = png.substr(0, 30);  // the rows view these bytes
  ImageFiller filler(Step(), /*bytes=*/true, false, 1, Env::Default());
  std::vector<float> out(2 * 3 * 6 * 8);
  std::vector<RowFiller::Row> rows = {{png, "", out.data(), {}, {}},
                                      {cut, "", out.data() + 144, {}, {}}};
  filler.Fill(rows);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_NE(out[0], 0.0f);
  EXPECT_THAT(rows[1].error,
              HasSubstr("image in column 'path' (30 bytes): corrupt or truncated PNG"));
}

}  // namespace
}  // namespace nightshift::image
