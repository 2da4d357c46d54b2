// PdfDocument: one PDF opened with poppler-cpp (the adapter: poppler's
// exceptions, null returns and stderr chatter stop here). Untrusted input:
// every failure (not a PDF, corrupt, encrypted, no pages, a page too large)
// is an InvalidData Status whose message is fit for a dead letter. Pages are
// parsed and rendered one at a time, so memory is the file's bytes plus one
// rendered page whatever the page count. Not thread-safe: one thread at a
// time per document (distinct documents may render in parallel).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "image/pixels.h"
#include "nightshift/status.h"

namespace poppler {
class document;
}

namespace nightshift::pdf {

class PdfDocument {
 public:
  // Opens the PDF in `bytes` (kept: poppler reads objects from them lazily).
  // InvalidData for bytes that are not a readable PDF, one that needs a
  // password, or one with no pages.
  static Result<std::unique_ptr<PdfDocument>> Open(std::string bytes);
  ~PdfDocument();
  PdfDocument(const PdfDocument&) = delete;
  PdfDocument& operator=(const PdfDocument&) = delete;

  int pages() const { return pages_; }

  // Page `number` (1-based, <= pages()) rendered at `dpi` (antialiased, on
  // white) as RGB (`channels` 3) or gray (1) pixels. InvalidData when the
  // page is missing or does not render, or when it would be over
  // `max_pixels` (0: no limit) at this dpi, checked before rendering.
  Result<image::Pixels> Render(int number, int dpi, int channels, int64_t max_pixels) const;

 private:
  PdfDocument(std::string bytes, std::unique_ptr<poppler::document> doc, int pages);

  std::string bytes_;
  std::unique_ptr<poppler::document> doc_;
  int pages_ = 0;
};

}  // namespace nightshift::pdf
