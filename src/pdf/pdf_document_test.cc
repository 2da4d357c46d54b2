#include "pdf/pdf_document.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pdf/test_pdfs.h"

namespace nightshift::pdf {
namespace {

TEST(PdfDocument, CountsPagesAndRendersEachAtTheDpi) {
  auto doc = PdfDocument::Open(MakePdf(3));
  ASSERT_TRUE(doc.has_value()) << doc.error().message();
  EXPECT_EQ((*doc)->pages(), 3);
  auto px = (*doc)->Render(2, 144, 3, 0);
  ASSERT_TRUE(px.has_value()) << px.error().message();
  EXPECT_EQ(px->width, 144);  // 72 pt at 144 dpi
  EXPECT_EQ(px->height, 288);
  EXPECT_EQ(px->channels, 3);
  // The square is black at the bottom left; the page is white elsewhere.
  EXPECT_EQ(px->row(px->height - 5)[5 * 3], 0);
  EXPECT_EQ(px->row(5)[5 * 3], 255);
  EXPECT_EQ(px->row(5)[(px->width - 5) * 3 + 1], 255);
}

TEST(PdfDocument, RendersGray) {
  auto doc = PdfDocument::Open(MakePdf(1));
  ASSERT_TRUE(doc.has_value());
  auto px = (*doc)->Render(1, 72, 1, 0);
  ASSERT_TRUE(px.has_value()) << px.error().message();
  EXPECT_EQ(px->channels, 1);
  EXPECT_EQ(px->data.size(), size_t{72} * 144);
  EXPECT_EQ(px->row(px->height - 2)[2], 0);
}

TEST(PdfDocument, RefusesAPageOverThePixelLimitBeforeRendering) {
  auto doc = PdfDocument::Open(MakePdf(1, 14400, 14400));  // 200 inches square
  ASSERT_TRUE(doc.has_value());
  auto px = (*doc)->Render(1, 300, 3, 50'000'000);
  ASSERT_FALSE(px.has_value());
  EXPECT_NE(px.error().message().find("60000x60000 pixels at 300 dpi"), std::string::npos)
      << px.error().message();
}

TEST(PdfDocument, RefusesPagesOutOfRange) {
  auto doc = PdfDocument::Open(MakePdf(2));
  ASSERT_TRUE(doc.has_value());
  EXPECT_FALSE((*doc)->Render(0, 72, 3, 0).has_value());
  EXPECT_FALSE((*doc)->Render(3, 72, 3, 0).has_value());
}

TEST(PdfDocument, NoPagesIsAnError) {
  auto doc = PdfDocument::Open(MakePdf(0));
  ASSERT_FALSE(doc.has_value());
  EXPECT_EQ(doc.error().code(), Code::kInvalidData);
  EXPECT_EQ(doc.error().message(), "PDF with no pages");
}

TEST(PdfDocument, NotAPdfIsAnError) {
  for (std::string bytes : {std::string(), std::string("hello, world"), std::string(4096, '\0'),
                            std::string("\x89PNG\r\n\x1a\n", 8)}) {
    auto doc = PdfDocument::Open(bytes);
    ASSERT_FALSE(doc.has_value());
    EXPECT_EQ(doc.error().code(), Code::kInvalidData);
  }
}

TEST(PdfDocument, TruncatedOrCorruptNeverCrashes) {
  const std::string good = MakePdf(4);
  // Every prefix length class and a few byte flips: an error or a document
  // whose pages render or fail cleanly.
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    auto doc = PdfDocument::Open(good.substr(0, cut));
    if (!doc.has_value()) continue;
    for (int p = 1; p <= (*doc)->pages(); ++p) (void)(*doc)->Render(p, 36, 3, 1'000'000);
  }
  for (size_t at = 0; at < good.size(); at += 13) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    auto doc = PdfDocument::Open(bad);
    if (!doc.has_value()) continue;
    for (int p = 1; p <= (*doc)->pages(); ++p) (void)(*doc)->Render(p, 36, 3, 1'000'000);
  }
  auto garbage = PdfDocument::Open("%PDF-1.4\n" + std::string(1000, 'x'));
  ASSERT_FALSE(garbage.has_value());
  EXPECT_NE(garbage.error().message().find("corrupt PDF"), std::string::npos)
      << garbage.error().message();
}

}  // namespace
}  // namespace nightshift::pdf
