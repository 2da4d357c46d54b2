// The `preprocess: - pdf_pages` step: its keys, defaults and the rules that
// tie it to the image step reading its pages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using ::testing::HasSubstr;
using PdfSectionTest = JobFileTest;

const std::string kImageOfPage = "  - image: {column: page, into: pixels, size: [64, 48]}\n";

TEST_F(PdfSectionTest, ReadsTheStepWithItsDefaultDpi) {
  Result<JobSpec> job =
      Parse(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc, into: page}\n" + kImageOfPage);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  ASSERT_EQ(job->input.pdf_pages.size(), 1u);
  EXPECT_EQ(job->input.pdf_pages[0].column, "doc");
  EXPECT_EQ(job->input.pdf_pages[0].into, "page");
  EXPECT_EQ(job->input.pdf_pages[0].dpi, 150);
  job = Parse(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc, dpi: 300, into: page}\n" +
              kImageOfPage);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(job->input.pdf_pages[0].dpi, 300);
}

TEST_F(PdfSectionTest, ErrorsNameTheKey) {
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc}\n"),
              HasSubstr("preprocess[0].pdf_pages.into"));
  EXPECT_THAT(
      ErrorOf(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc, into: page, dpi: 5000}\n" +
              kImageOfPage),
      HasSubstr("preprocess[0].pdf_pages.dpi"));
  EXPECT_THAT(
      ErrorOf(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc, into: page, dpl: 100}\n"),
      HasSubstr("did you mean 'preprocess[0].pdf_pages.dpi'"));
}

TEST_F(PdfSectionTest, ItsPagesMustBeReadByAnImageStepAndMadeOnce) {
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc, into: page}\n"),
              HasSubstr("pdf_pages into 'page' is read by no image step"));
  EXPECT_THAT(ErrorOf(kMinimalJob +
                      "preprocess:\n  - pdf_pages: {column: doc, into: page}\n"
                      "  - pdf_pages: {column: doc2, into: page2}\n" +
                      kImageOfPage),
              HasSubstr("only one pdf_pages step"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "preprocess:\n  - pdf_pages: {column: doc, into: pixels}\n" +
                      "  - image: {column: doc, into: pixels, size: [64, 48]}\n"),
              HasSubstr("'pixels' is already the `into` of an earlier step"));
}

}  // namespace
}  // namespace nightshift::spec
