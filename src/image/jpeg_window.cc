// JPEG pixels through the libjpeg API of libjpeg-turbo (TurboJPEG 2.x's own
// API cannot crop): only the rectangle the caller reads is decoded, columns
// with jpeg_crop_scanline (whole iMCUs: no inverse DCT, upsampling or colour
// conversion for the rest) and rows with jpeg_skip_scanlines. The bytes of
// that rectangle equal a full decode's (the same IDCT and fancy upsampling as
// TurboJPEG and Pillow; image_decoder_test compares them).
//
// libjpeg reports errors by calling error_exit, which must not return: it
// longjmps back to DecodeJpegInto, so no C++ object with a destructor may
// live in a frame between the setjmp and libjpeg. Warnings (a truncated
// stream, a corrupt marker) stop decoding too, as TurboJPEG's
// TJFLAG_STOPONWARNING: libjpeg would otherwise fill the rest of the image
// with grey and call it a success. Rows below the rectangle are skipped up
// to the last, which is decoded, so a stream cut short there is still
// refused.
#include <fmt/format.h>
// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
// clang-format on

#include <algorithm>
#include <csetjmp>

#include "image/codecs.h"

namespace nightshift::image::codec {
namespace {

struct ErrorTrap {
  jpeg_error_mgr mgr;  // first: libjpeg's err pointer is cast back to ErrorTrap
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void Fail(j_common_ptr info) {
  auto* trap = reinterpret_cast<ErrorTrap*>(info->err);
  (*info->err->format_message)(info, trap->message);
  std::longjmp(trap->jump, 1);
}

void OnMessage(j_common_ptr info, int level) {
  if (level < 0) Fail(info);  // a warning: the data is damaged
}

// One decompressor per thread, reused image after image.
struct Decompressor {
  jpeg_decompress_struct info{};
  ErrorTrap trap{};
  bool ok = false;

  Decompressor() {
    info.err = jpeg_std_error(&trap.mgr);
    trap.mgr.error_exit = Fail;
    trap.mgr.emit_message = OnMessage;
    if (setjmp(trap.jump) != 0) return;  // out of memory
    jpeg_create_decompress(&info);
    ok = true;
  }
  ~Decompressor() {
    if (ok) jpeg_destroy_decompress(&info);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
};

// The largest DCT scale-down (1/2, 1/4 or 1/8) that keeps the image at
// least `min_w` x `min_h`; 1 for none.
unsigned ScaleDenominator(unsigned width, unsigned height, int min_w, int min_h) {
  unsigned best = 1;
  if (min_w <= 0 || min_h <= 0) return best;
  for (unsigned denom : {2u, 4u, 8u}) {
    if (static_cast<int>((width + denom - 1) / denom) >= min_w &&
        static_cast<int>((height + denom - 1) / denom) >= min_h) {
      best = denom;
    }
  }
  return best;
}

// Pixels decoded beyond the rectangle asked for on each side. At the edges
// of a cropped region libjpeg upsamples the chroma as at the image's edges
// (it has no neighbour there); fancy upsampling reads one chroma sample on
// each side, 2 pixels at 2x subsampling. jpeg_window_test finds differences
// with 0 or 1 and none with 2; 4 leaves room.
constexpr int kMargin = 4;

// The rectangle to decode: `needed` (or everything) widened by kMargin.
Window Plan(const DecodeRequest& request, int width, int height) {
  Window w{0, 0, width, height};
  if (!request.needed) return w;
  const Window n = request.needed(width, height);
  if (n.width <= 0 || n.height <= 0) return w;
  w.x = std::max(0, n.x - kMargin);
  w.y = std::max(0, n.y - kMargin);
  w.width = std::min(width, n.x + n.width + kMargin) - w.x;
  w.height = std::min(height, n.y + n.height + kMargin) - w.y;
  return w;
}

// Rows [first, last) of the image into `out` (full-size rows; `x` is the
// first decoded column), skipping the rest.
void ReadRows(jpeg_decompress_struct* info, int x, int first, int last, Pixels* out) {
  if (first > 0) jpeg_skip_scanlines(info, static_cast<JDIMENSION>(first));
  JSAMPROW rows[16];
  while (static_cast<int>(info->output_scanline) < last) {
    const int y = static_cast<int>(info->output_scanline);
    const int n = std::min(16, last - y);
    for (int k = 0; k < n; ++k) rows[k] = out->row(y + k) + static_cast<size_t>(x) * out->channels;
    jpeg_read_scanlines(info, rows, static_cast<JDIMENSION>(n));
  }
  // The rows below are skipped (entropy-decoded, no more), but the last one
  // is read: skipping to the very end returns without reading the data,
  // and damage there would go unnoticed.
  const int height = static_cast<int>(info->output_height);
  if (last >= height) return;
  if (last < height - 1) jpeg_skip_scanlines(info, static_cast<JDIMENSION>(height - 1 - last));
  rows[0] = out->row(height - 1) + static_cast<size_t>(x) * out->channels;
  jpeg_read_scanlines(info, rows, 1);
}

}  // namespace

Status DecodeJpegInto(std::span<const uint8_t> bytes, const DecodeRequest& request, Pixels* out) {
  thread_local Decompressor d;
  if (!d.ok) return Status(Code::kInvalidData, "corrupt or truncated JPEG (no decoder)");
  jpeg_decompress_struct* info = &d.info;
  jpeg_abort_decompress(info);  // in case the last call left early (bad_alloc)
  // What the error path reads after the longjmp (volatile: set after setjmp).
  const char* volatile stage = "header";
  if (setjmp(d.trap.jump) != 0) {
    jpeg_abort_decompress(info);
    return Status(Code::kInvalidData,
                  fmt::format("corrupt or truncated JPEG ({}: {})", stage, d.trap.message));
  }
  jpeg_mem_src(info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(info, TRUE);
  const ImageHeader header{ImageFormat::kJpeg, static_cast<int>(info->image_width),
                           static_cast<int>(info->image_height)};
  if (Status s = CheckPixelLimit(header, request.max_pixels); !s.ok()) {
    jpeg_abort_decompress(info);
    return s;
  }
  if (info->jpeg_color_space == JCS_CMYK || info->jpeg_color_space == JCS_YCCK) {
    jpeg_abort_decompress(info);
    return Status(Code::kInvalidData,
                  "a CMYK JPEG (print colours): only RGB, YCbCr and grayscale JPEGs are decoded; "
                  "convert it to RGB first");
  }
  stage = "data";
  // A gray JPEG asked for gray decodes as gray; everything else as RGB (gray
  // is then made as PIL makes it, from RGB).
  const bool gray = request.channels == 1 && info->jpeg_color_space == JCS_GRAYSCALE;
  info->out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  info->scale_num = 1;
  info->scale_denom = ScaleDenominator(info->image_width, info->image_height, request.min_width,
                                       request.min_height);
  jpeg_calc_output_dimensions(info);
  out->width = static_cast<int>(info->output_width);
  out->height = static_cast<int>(info->output_height);
  out->channels = gray ? 1 : 3;
  out->data.resize(static_cast<size_t>(out->width) * out->height * out->channels);
  const Window w = Plan(request, out->width, out->height);
  jpeg_start_decompress(info);
  JDIMENSION x = static_cast<JDIMENSION>(w.x), width = static_cast<JDIMENSION>(w.width);
  // Moves x left to an iMCU boundary (and widens to keep the right edge).
  if (w.x > 0 || w.width < out->width) jpeg_crop_scanline(info, &x, &width);
  ReadRows(info, static_cast<int>(x), w.y, w.y + w.height, out);
  jpeg_finish_decompress(info);
  return Status::Ok();
}

}  // namespace nightshift::image::codec
