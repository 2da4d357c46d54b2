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
#include <vector>

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

// Pillow's CMYK JPEG, as RGB: Pillow reads a CMYK (or YCCK) JPEG's samples
// inverted, as Adobe's files store them ("CMYK;I"), then converts CMYK to RGB
// as R = (255 - K) - (255 - K) * C / 255, rounded as its MULDIV255. Here
// `cmyk` is libjpeg's samples, before Pillow's inversion.
void CmykToRgb(const uint8_t* cmyk, uint8_t* rgb, int n) {
  for (int i = 0; i < n; ++i, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - (255 - K)
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - cmyk[c]) * nk + 128;
      rgb[c] = static_cast<uint8_t>(nk - (((t >> 8) + t) >> 8));
    }
  }
}

// Where libjpeg's rows go: straight into `out` (full-size rows, `x` the
// first decoded column), or for a CMYK JPEG through `cmyk`, 16 rows of
// `width` 4-sample pixels, converted to RGB into `out`.
struct RowTarget {
  Pixels* out;
  int x;
  int width;
  uint8_t* cmyk;  // nullptr: not a CMYK JPEG

  uint8_t* Row(int y, int k) const {
    if (cmyk != nullptr) return cmyk + static_cast<size_t>(k) * width * 4;
    return out->row(y) + static_cast<size_t>(x) * out->channels;
  }
  void Converted(int y, int n) const {
    if (cmyk == nullptr) return;
    for (int k = 0; k < n; ++k) {
      CmykToRgb(Row(y, k), out->row(y + k) + static_cast<size_t>(x) * 3, width);
    }
  }
};

// Rows [first, last) of the image into `to`, skipping the rest.
void ReadRows(jpeg_decompress_struct* info, const RowTarget& to, int first, int last) {
  if (first > 0) jpeg_skip_scanlines(info, static_cast<JDIMENSION>(first));
  JSAMPROW rows[16];
  while (static_cast<int>(info->output_scanline) < last) {
    const int y = static_cast<int>(info->output_scanline);
    const int n = std::min(16, last - y);
    for (int k = 0; k < n; ++k) rows[k] = to.Row(y + k, k);
    jpeg_read_scanlines(info, rows, static_cast<JDIMENSION>(n));
    to.Converted(y, n);
  }
  // The rows below are skipped (entropy-decoded, no more), but the last one
  // is read: skipping to the very end returns without reading the data,
  // and damage there would go unnoticed.
  const int height = static_cast<int>(info->output_height);
  if (last >= height) return;
  if (last < height - 1) jpeg_skip_scanlines(info, static_cast<JDIMENSION>(height - 1 - last));
  rows[0] = to.Row(height - 1, 0);
  jpeg_read_scanlines(info, rows, 1);
  to.Converted(height - 1, 1);
}

bool IsCmyk(const jpeg_decompress_struct& info) {
  return info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
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
  stage = "data";
  // A gray JPEG asked for gray decodes as gray; everything else as RGB (gray
  // is then made as PIL makes it, from RGB), a CMYK one through CMYK.
  const bool gray = request.channels == 1 && info->jpeg_color_space == JCS_GRAYSCALE;
  const bool cmyk = IsCmyk(*info);
  info->out_color_space = gray ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
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
  thread_local std::vector<uint8_t> cmyk_rows;
  if (cmyk) cmyk_rows.resize(static_cast<size_t>(16) * width * 4);
  const RowTarget to{out, static_cast<int>(x), static_cast<int>(width),
                     cmyk ? cmyk_rows.data() : nullptr};
  ReadRows(info, to, w.y, w.y + w.height);
  jpeg_finish_decompress(info);
  return Status::Ok();
}

}  // namespace nightshift::image::codec
