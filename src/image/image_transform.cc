#include "image/image_transform.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "image/resample.h"
#include "image/resample_kernels.h"

namespace nightshift::image {
namespace {

// Rounded half up, and held below 2^30 (a sliver scaled up: the caller
// refuses such sizes, see kMaxResizedSide) so that the int never overflows.
int RoundHalfUp(double v) {
  return static_cast<int>(std::min(std::floor(v + 0.5), double{1 << 30}));
}

// A resized side over this is refused: the resampler's filter tables take
// hundreds of bytes per output pixel of a side, and only a sliver of an image
// (1 x 300,000 pixels cropped to 32 x 24: 7,200,000 x 24 before the crop) gets
// there. JPEG's own limit.
constexpr int kMaxResizedSide = 65'535;

Status CheckResizedSize(const ImageHeader& header, const Placement& p) {
  if (p.resize_w <= kMaxResizedSide && p.resize_h <= kMaxResizedSide) return Status::Ok();
  return Status(Code::kInvalidData,
                fmt::format("a {}x{} image would be resized to {}x{} before the crop, over {} "
                            "pixels on a side: too thin a sliver for this size",
                            header.width, header.height, p.resize_w, p.resize_h, kMaxResizedSide));
}

}  // namespace

Placement Place(int src_w, int src_h, const ImageTransform& t) {
  Placement p;
  const double sx = static_cast<double>(t.width) / src_w;
  const double sy = static_cast<double>(t.height) / src_h;
  switch (t.resize) {
    case ResizeMode::kStretch:
      p.resize_w = t.width;
      p.resize_h = t.height;
      break;
    case ResizeMode::kShorterSide: {  // cover the output, then crop the centre
      const double s = std::max(sx, sy);
      p.resize_w = std::max(t.width, RoundHalfUp(src_w * s));
      p.resize_h = std::max(t.height, RoundHalfUp(src_h * s));
      p.crop_x = (p.resize_w - t.width) / 2;
      p.crop_y = (p.resize_h - t.height) / 2;
      break;
    }
    case ResizeMode::kLetterbox: {  // fit inside the output, centred
      const double s = std::min(sx, sy);
      p.resize_w = std::clamp(RoundHalfUp(src_w * s), 1, t.width);
      p.resize_h = std::clamp(RoundHalfUp(src_h * s), 1, t.height);
      p.pad_x = (t.width - p.resize_w) / 2;
      p.pad_y = (t.height - p.resize_h) / 2;
      break;
    }
  }
  return p;
}

namespace {

// Per output channel, the float of each byte value: the same float32
// arithmetic as numpy's (x / 255 - mean) / std.
using Lut = std::array<std::array<float, 256>, 3>;

Lut MakeLut(const ImageTransform& t) {
  Lut lut;
  for (int c = 0; c < t.channels(); ++c) {
    for (int v = 0; v < 256; ++v)
      lut[c][v] = (static_cast<float>(v) / 255.0f - t.mean[c]) / t.std[c];
  }
  return lut;
}

// One row of `cols` pixels into the tensor at output row `oy`, column `ox`.
void WriteRow(const uint8_t* src, int cols, int64_t oy, int64_t ox, const ImageTransform& t,
              const Lut& lut, float* out) {
  const int ch = t.channels();
  const int64_t plane = int64_t{t.height} * t.width;
  // NCHW with AVX2: the bytes split into planes, then computed 8 at a time.
  thread_local std::vector<uint8_t> planes;
  const bool vector = t.layout == Layout::kNchw && kernels::HasAvx2();
  if (vector) {
    planes.resize(static_cast<size_t>(cols) * ch);
    kernels::Deinterleave(src, cols, ch, planes.data());
  }
  for (int c = 0; c < ch; ++c) {
    // BGR: output channel c is source channel 2 - c.
    const int sc = t.color == ColorOrder::kBgr ? 2 - c : c;
    const uint8_t* s = src + sc;
    const std::array<float, 256>& l = lut[c];
    if (vector) {
      float* o = out + c * plane + oy * t.width + ox;
      const int done = kernels::NormaliseAvx2(planes.data() + static_cast<size_t>(sc) * cols, cols,
                                              t.mean[c], t.std[c], o);
      for (int x = done; x < cols; ++x) o[x] = l[s[x * ch]];
    } else if (t.layout == Layout::kNchw) {
      float* o = out + c * plane + oy * t.width + ox;
      for (int x = 0; x < cols; ++x) o[x] = l[s[x * ch]];
    } else {
      float* o = out + (oy * t.width + ox) * ch + c;
      for (int x = 0; x < cols; ++x) o[x * ch] = l[s[x * ch]];
    }
  }
}

}  // namespace

void WriteTensor(const Pixels& resized, const Placement& p, const ImageTransform& t, float* out) {
  // Only a letterbox leaves part of the output uncovered (the rest is
  // written whole below).
  if (t.resize == ResizeMode::kLetterbox) std::fill(out, out + t.elements(), 0.0f);
  const Lut lut = MakeLut(t);
  const int rows = std::min(t.height - p.pad_y, resized.height - p.crop_y);
  const int cols = std::min(t.width - p.pad_x, resized.width - p.crop_x);
  for (int y = 0; y < rows; ++y) {
    WriteRow(resized.row(y + p.crop_y) + static_cast<size_t>(p.crop_x) * t.channels(), cols,
             y + p.pad_y, p.pad_x, t, lut, out);
  }
}

namespace {

// Render without zeroing `out` on failure. Each worker thread decodes and
// resamples into buffers of its own, reused from image to image.
Status RenderInto(std::span<const uint8_t> bytes, const ImageTransform& t, float* out) {
  NS_ASSIGN_OR_RETURN(ImageHeader header, ReadImageHeader(bytes));
  NS_RETURN_IF_ERROR(CheckPixelLimit(header, t.max_pixels));
  Placement p = Place(header.width, header.height, t);
  NS_RETURN_IF_ERROR(CheckResizedSize(header, p));
  DecodeRequest req;
  req.channels = t.channels();
  req.max_pixels = t.max_pixels;
  req.min_width = p.resize_w * t.reducing_gap;  // 0 x: no DCT scaling
  req.min_height = p.resize_h * t.reducing_gap;
  // Only the part of the resized image that lands in the output (a centre
  // crop cuts the rest) is computed, and a JPEG decodes only the pixels
  // that part reads.
  const Window w{p.crop_x, p.crop_y, std::min(p.resize_w - p.crop_x, t.width - p.pad_x),
                 std::min(p.resize_h - p.crop_y, t.height - p.pad_y)};
  req.needed = [&](int width, int height) {
    return SourceWindow(width, height, p.resize_w, p.resize_h, w);
  };
  thread_local Pixels decoded;
  thread_local Pixels window;
  NS_RETURN_IF_ERROR(DecodeImageInto(bytes, header, req, &decoded));
  ResampleWindow(decoded, p.resize_w, p.resize_h, w, &window);
  p.crop_x = p.crop_y = 0;
  WriteTensor(window, p, t, out);
  return Status::Ok();
}

}  // namespace

Status Render(std::span<const uint8_t> bytes, const ImageTransform& t, float* out) {
  Status s = RenderInto(bytes, t, out);
  if (!s.ok()) std::fill(out, out + t.elements(), 0.0f);
  return s;
}

}  // namespace nightshift::image
