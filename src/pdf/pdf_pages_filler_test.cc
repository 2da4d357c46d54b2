#include "pdf/pdf_pages_filler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "image/codecs.h"
#include "pdf/test_pdfs.h"

namespace nightshift::pdf {
namespace {

ImageSpec GrayStep(int h, int w) {
  ImageSpec s;
  s.column = "page";
  s.into = "pixels";
  s.height = h;
  s.width = w;
  s.color = "gray";
  return s;
}

PdfPagesSpec Step() {
  return PdfPagesSpec{"doc", "page", 72};
}

TEST(PdfPagesFiller, CountsPagesOfABlob) {
  PdfPagesFiller f(Step(), GrayStep(8, 4), /*bytes=*/true, false, 2, Env::Default());
  auto n = f.Count(MakePdf(5), "");
  ASSERT_TRUE(n.has_value()) << n.error().message();
  EXPECT_EQ(*n, 5);
  auto bad = f.Count("not a pdf", "");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "PDF in column 'doc' (9 bytes): not a PDF (no %PDF- header)");
}

TEST(PdfPagesFiller, FillsEachRowWithItsPage) {
  // 72 x 144 pt at 72 dpi, resized to 8 x 4: the black square (18 pt) is the
  // bottom-left element (grey where the antialiasing filter reaches white
  // neighbours); the top right is white.
  PdfPagesFiller f(Step(), GrayStep(8, 4), true, false, 2, Env::Default());
  const std::string pdf = MakePdf(3);
  std::vector<float> out(3 * 32, -1.0f);
  std::vector<RowFiller::Row> rows;
  for (int i = 0; i < 3; ++i) rows.push_back({pdf, "", out.data() + i * 32, {}, {}, i + 1});
  f.Fill(rows);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i].error, "") << i;
    EXPECT_LT(out[i * 32 + 7 * 4], 0.5f) << i;
    EXPECT_FLOAT_EQ(out[i * 32 + 3], 1.0f) << i;
  }
}

TEST(PdfPagesFiller, EncodesNoPageUnlessAskedTo) {
  PdfPagesFiller f(Step(), GrayStep(8, 4), true, false, 1, Env::Default());
  const std::string pdf = MakePdf(1);
  std::vector<float> out(32, -1.0f);
  RowFiller::Row row{pdf, "", out.data(), {}, {}, 1};
  ASSERT_EQ(f.FillOne(row), "");
  EXPECT_TRUE(row.kept_image.empty());
}

TEST(PdfPagesFiller, KeepsTheRenderedPageAsPng) {
  // The page as rendered (72 x 144 pt at 72 dpi), not the 8 x 4 model input:
  // boxes found on it are in these pixels.
  PdfPagesFiller f(Step(), GrayStep(8, 4), true, false, 1, Env::Default(), /*keep_page=*/true);
  const std::string pdf = MakePdf(2);
  std::vector<float> out(32, -1.0f);
  RowFiller::Row row{pdf, "", out.data(), {}, {}, 2};
  ASSERT_EQ(f.FillOne(row), "");
  const auto* data = reinterpret_cast<const uint8_t*>(row.kept_image.data());
  auto px = image::codec::DecodePng({data, row.kept_image.size()}, 1 << 20);
  ASSERT_TRUE(px.has_value()) << px.error().message();
  EXPECT_EQ(px->width, 72);
  EXPECT_EQ(px->height, 144);
  // The black square sits at the bottom left; the top right is white.
  EXPECT_LT(px->row(px->height - 2)[0], 64);
  EXPECT_EQ(px->row(0)[(px->width - 1) * px->channels], 255);
}

TEST(PdfPagesFiller, APageOutOfRangeNamesThePdfAndPage) {
  PdfPagesFiller f(Step(), GrayStep(8, 4), true, false, 1, Env::Default());
  std::vector<float> out(32, -1.0f);
  const std::string pdf = MakePdf(2);
  RowFiller::Row row{pdf, "", out.data(), {}, {}, 3};
  const std::string why = f.FillOne(row);
  EXPECT_NE(why.find("PDF in column 'doc'"), std::string::npos) << why;
  EXPECT_NE(why.find("page 3"), std::string::npos) << why;
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(PdfPagesFiller, ARelativePathMayNotLeaveTheFolder) {
  PdfPagesFiller f(Step(), GrayStep(8, 4), /*bytes=*/false, /*allow_outside=*/false, 1,
                   Env::Default());
  auto n = f.Count("../x.pdf", "/tmp/in");
  ASSERT_FALSE(n.has_value());
  EXPECT_NE(n.error().message().find("leaves the input folder"), std::string::npos);
}

}  // namespace
}  // namespace nightshift::pdf
