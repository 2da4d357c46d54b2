#include "pdf/pdf_document.h"

#include <fmt/format.h>
#include <poppler-document.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <mutex>

namespace nightshift::pdf {
namespace {

Status Bad(std::string why) {
  return Status(Code::kInvalidData, std::move(why));
}

// poppler reports every syntax problem of a damaged file on stderr; the row's
// dead letter says what matters, once.
void Quiet(const std::string&, void*) {}

void SilenceOnce() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function(Quiet, nullptr); });
}

// The page's size in pixels at `dpi`, as poppler's renderer rounds it, with
// the page's own rotation applied.
std::pair<int64_t, int64_t> PixelSize(const poppler::page& page, int dpi) {
  const poppler::rectf box = page.page_rect();
  auto w = static_cast<int64_t>(std::ceil(box.width() * dpi / 72.0));
  auto h = static_cast<int64_t>(std::ceil(box.height() * dpi / 72.0));
  const auto o = page.orientation();
  if (o == poppler::page::landscape || o == poppler::page::seascape) std::swap(w, h);
  return {w, h};
}

// Copies poppler's image (rows padded to 4 bytes) into tight Pixels.
image::Pixels ToPixels(const poppler::image& img, int channels) {
  image::Pixels px;
  px.width = img.width();
  px.height = img.height();
  px.channels = channels;
  px.data.resize(static_cast<size_t>(px.width) * px.height * channels);
  const size_t row = static_cast<size_t>(px.width) * channels;
  for (int y = 0; y < px.height; ++y) {
    std::memcpy(px.row(y), img.const_data() + static_cast<size_t>(y) * img.bytes_per_row(), row);
  }
  return px;
}

}  // namespace

PdfDocument::PdfDocument(std::string bytes, std::unique_ptr<poppler::document> doc, int pages)
    : bytes_(std::move(bytes)), doc_(std::move(doc)), pages_(pages) {}

PdfDocument::~PdfDocument() = default;

Result<std::unique_ptr<PdfDocument>> PdfDocument::Open(std::string bytes) {
  SilenceOnce();
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return Error(Bad(fmt::format("{} bytes, too large for the PDF reader", bytes.size())));
  }
  if (bytes.compare(0, 5, "%PDF-") != 0 && bytes.find("%PDF-") > 1024) {
    return Error(Bad("not a PDF (no %PDF- header)"));
  }
  std::unique_ptr<poppler::document> doc;
  try {
    doc.reset(poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  } catch (const std::exception& e) {
    return Error(Bad(fmt::format("corrupt PDF ({})", e.what())));
  }
  if (doc == nullptr) return Error(Bad("corrupt PDF (poppler could not read it)"));
  if (doc->is_locked()) return Error(Bad("encrypted PDF (it needs a password to open)"));
  const int pages = doc->pages();
  if (pages <= 0) return Error(Bad("PDF with no pages"));
  return std::unique_ptr<PdfDocument>(new PdfDocument(std::move(bytes), std::move(doc), pages));
}

Result<image::Pixels> PdfDocument::Render(int number, int dpi, int channels,
                                          int64_t max_pixels) const {
  if (number < 1 || number > pages_) {
    return Error(Bad(fmt::format("page {} of a PDF of {} pages", number, pages_)));
  }
  std::unique_ptr<poppler::page> page(doc_->create_page(number - 1));
  if (page == nullptr) return Error(Bad(fmt::format("page {} is unreadable", number)));
  const auto [w, h] = PixelSize(*page, dpi);
  if (w <= 0 || h <= 0) return Error(Bad(fmt::format("page {} has no area", number)));
  if (max_pixels > 0 && w * h > max_pixels) {
    return Error(
        Bad(fmt::format("page {} is {}x{} pixels at {} dpi, over the image step's "
                        "max_pixels ({})",
                        number, w, h, dpi, max_pixels)));
  }
  poppler::page_renderer renderer;
  renderer.set_render_hints(poppler::page_renderer::antialiasing |
                            poppler::page_renderer::text_antialiasing);
  renderer.set_image_format(channels == 1 ? poppler::image::format_gray8
                                          : poppler::image::format_rgb24);
  poppler::image img;
  try {
    img = renderer.render_page(page.get(), dpi, dpi);
  } catch (const std::exception& e) {
    return Error(Bad(fmt::format("page {} does not render ({})", number, e.what())));
  }
  if (!img.is_valid() || img.width() <= 0 || img.height() <= 0) {
    return Error(Bad(fmt::format("page {} does not render", number)));
  }
  return ToPixels(img, channels);
}

}  // namespace nightshift::pdf
