// Cutting a text line out of a page for a recogniser (`preprocess: - crop`),
// as PaddleOCR's get_rotate_crop_image and resize_norm_img do it:
//  1. the box (4 corners, clockwise from the top left) becomes an upright
//     crop_w x crop_h rectangle, its sides the longer of each pair of
//     opposite sides (truncated to whole pixels); a perspective warp (exact
//     for the rotated rectangles text_boxes finds) straightens a skewed line;
//  2. a crop at least 1.5 times as high as wide is turned 90 degrees
//     counter-clockwise (vertical text read as a line);
//  3. it is scaled to `height` rows keeping its aspect ratio: ceil(height *
//     crop_w / crop_h) columns, at most the row's width (wider crops are
//     squeezed), and written as BGR, (x / 255 - 0.5) / 0.5, [3, height,
//     width] float32, zeros right of it.
// The warp and the scaling are one resampling: each output pixel averages
// s x s bilinear samples of the page (s: how many page pixels one output
// pixel spans, at most 8), so large text is not aliased.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "image/pixels.h"
#include "nightshift/status.h"

namespace nightshift::image {

// PaddleOCR pads every recogniser batch to at least 320 columns at height 48
// (rec_image_shape 3,48,320): this many times the height.
inline constexpr double kMinCropRatio = 320.0 / 48.0;
// Crops are squeezed to at most this many times the height wide.
inline constexpr double kMaxCropRatio = 40.0;

struct CropBox {
  std::array<double, 8> corners{};  // x0 y0 .. x3 y3, turned when `turned`
  int crop_w = 0, crop_h = 0;       // the upright crop, before scaling
  bool turned = false;
};

// The box from its 8 numbers. InvalidData (the row's dead-letter reason)
// when it is not finite or is degenerate (a side under one pixel).
Result<CropBox> PlanCrop(const std::array<double, 8>& corners);

// InvalidData when a corner lies outside the image_w x image_h page (by more
// than one pixel: text_boxes clips its boxes to the page's edges).
Status CheckInside(const CropBox& box, int image_w, int image_h);

// Columns of the scaled crop: ceil(height * crop_w / crop_h), at least 1,
// at most kMaxCropRatio * height.
int64_t ScaledWidth(const CropBox& box, int64_t height);

// Writes the crop of `page` (RGB or gray) into `out`: [3, height, row_width].
void CutOut(const Pixels& page, const CropBox& box, int height, int64_t row_width, float* out);

// "x0 y0 ... y3" (as DuckDB writes a DOUBLE[]: "[x0, y0, ...]") into 8
// numbers; InvalidData naming what is wrong otherwise.
Result<std::array<double, 8>> ParseBox(std::string_view text);

// The boxes of a crop step's boxes value, as DuckDB writes the list as text,
// each box's text for ParseBox: a flat list "[x0, y0, ..., y3, x0, ...]" is
// cut every 8 numbers (text_boxes writes its boxes so; a list of 8 numbers
// is one box), a nested one ("[[x0, y0, ...], ...]" or "[[[x0, y0], ...],
// ...]") is split into its elements. "[]" has none. A box that is not 8
// numbers is still returned: ParseBox says what is wrong with it.
std::vector<std::string_view> SplitBoxes(std::string_view text);

}  // namespace nightshift::image
