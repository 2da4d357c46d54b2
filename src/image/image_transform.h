// From encoded image bytes to one row of a model input: decode, resize
// (stretch, shorter_side + centre crop, or letterbox), normalise
// ((x/255 - mean) / std, float32) and lay out as [C, H, W] or [H, W, C].
#pragma once

#include <span>
#include <vector>

#include "image/image_decoder.h"
#include "image/pixels.h"

namespace nightshift::image {

struct ImageTransform {
  int height = 0;
  int width = 0;
  ResizeMode resize = ResizeMode::kStretch;
  ColorOrder color = ColorOrder::kRgb;
  Layout layout = Layout::kNchw;
  std::vector<float> mean;  // one per output channel, in output order
  std::vector<float> std;   // same; all non-zero
  int64_t max_pixels = 0;
  // JPEG: decoded in the DCT domain at 1/2, 1/4 or 1/8 scale while at least
  // this many times the resized size (the antialiased resample from there
  // hides the difference: measured in docs/images.md); 0: full size.
  int reducing_gap = 2;

  int channels() const { return color == ColorOrder::kGray ? 1 : 3; }
  int64_t elements() const { return int64_t{channels()} * height * width; }
};

// Where an image of src_w x src_h lands in the height x width output: it is
// resampled to resize_w x resize_h, then (shorter_side) the window at
// (crop_x, crop_y) is taken, or (letterbox) it is placed at (pad_x, pad_y)
// with zeros around it. Sizes are rounded half up.
struct Placement {
  int resize_w = 0, resize_h = 0;
  int crop_x = 0, crop_y = 0;
  int pad_x = 0, pad_y = 0;
};
Placement Place(int src_w, int src_h, const ImageTransform& t);

// Writes `resized` (already resize_w x resize_h, t.channels() channels) into
// `out` (t.elements() floats), normalised, in t's layout and colour order.
void WriteTensor(const Pixels& resized, const Placement& p, const ImageTransform& t, float* out);

// The whole step for one image. InvalidData (the row's dead-letter reason)
// for bytes that do not decode or exceed t.max_pixels; `out` is then zeros.
Status Render(std::span<const uint8_t> bytes, const ImageTransform& t, float* out);

}  // namespace nightshift::image
