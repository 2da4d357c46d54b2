// libFuzzer target: untrusted bytes -> the pdf_pages step's poppler adapter
// (PdfDocument::Open, then each of the first pages rendered and laid out as
// the image step does it).
//
// Input layout: byte 0 picks the dpi (18..81) and gray (bit 7); the rest is
// the PDF. Errors are expected; crashes, sanitizer reports, hangs and leaks
// are bugs. A pixel limit of 1 M keeps a huge page an error, not an OOM.
//
// Properties checked (abort = bug): every failure is InvalidData; a document
// that opens has at least one page; a rendered page's buffer matches its
// dimensions and channels.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "image/image_transform.h"
#include "image/resample.h"
#include "pdf/pdf_document.h"

namespace {

using nightshift::Code;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "pdf_render_fuzzer: property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int dpi = 18 + (data[0] & 0x3f);
  const int channels = (data[0] & 0x80) ? 1 : 3;
  auto doc = nightshift::pdf::PdfDocument::Open(
      std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (!doc.has_value()) {
    if (doc.error().code() != Code::kInvalidData) Fail("an open failure that is not InvalidData");
    return 0;
  }
  if ((*doc)->pages() < 1) Fail("a document without pages opened");
  nightshift::image::ImageTransform t;
  t.height = 8;
  t.width = 6;
  t.color =
      channels == 1 ? nightshift::image::ColorOrder::kGray : nightshift::image::ColorOrder::kRgb;
  t.mean.assign(static_cast<size_t>(channels), 0.0f);
  t.std.assign(static_cast<size_t>(channels), 1.0f);
  std::vector<float> out(static_cast<size_t>(t.elements()));
  for (int p = 1; p <= std::min((*doc)->pages(), 3); ++p) {
    auto px = (*doc)->Render(p, dpi, channels, 1'000'000);
    if (!px.has_value()) {
      if (px.error().code() != Code::kInvalidData) Fail("a render failure that is not InvalidData");
      continue;
    }
    if (px->channels != channels ||
        px->data.size() != static_cast<size_t>(px->width) * px->height * px->channels) {
      Fail("rendered pixel buffer does not match its dimensions");
    }
    const auto place = nightshift::image::Place(px->width, px->height, t);
    nightshift::image::WriteTensor(nightshift::image::Resample(*px, place.resize_w, place.resize_h),
                                   place, t, out.data());
  }
  return 0;
}
