// text_boxes: DB post-processing of a text detector's probability map, as
// PaddleOCR's DBPostProcess does it (score_mode "fast", polygons off):
//  1. binarise the map at `threshold` (prob > threshold);
//  2. connected regions (8-connected, like OpenCV's contours of the bitmap);
//  3. each region's minimum-area rotated rectangle; regions whose short side
//     is under 3 pixels are dropped;
//  4. box score = mean probability of the map inside that rectangle (its
//     corners cast to whole pixels, as PaddleOCR does); boxes
//     under `box_threshold` are dropped;
//  5. "unclip": the rectangle grown by area * unclip / perimeter on every
//     side (PaddleOCR: a pyclipper round-join offset, whose minimum-area
//     rectangle is this one); boxes whose short side is then under 5 are
//     dropped;
//  6. corners scaled from the map's pixels to the destination size, rounded
//     and clipped to it, in the order top-left, top-right, bottom-right,
//     bottom-left.
// Regions are taken in raster order of their first pixel; at most
// kMaxCandidates (PaddleOCR's max_candidates) are looked at.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "nightshift/row_batch.h"

namespace nightshift::exec {

struct TextBoxParams {
  float threshold = 0.3f;
  float box_threshold = 0.6f;
  float unclip = 1.5f;
};

struct TextBox {
  std::array<float, 8> points{};  // x0 y0 x1 y1 x2 y2 x3 y3
  float score = 0;
};

inline constexpr int kMaxCandidates = 1000;

// `map` is [height, width] row-major. Boxes come in the pixels of a
// dest_height x dest_width image (the map's own size: pass height, width),
// or, with `frame` (the row's image step resized it), in the pixels of the
// image the row came with: the map scaled to the model input's size, then
// the resize and letterbox/crop undone.
std::vector<TextBox> FindTextBoxes(const float* map, int64_t height, int64_t width,
                                   const TextBoxParams& params, int64_t dest_height,
                                   int64_t dest_width, const ImageFrame* frame = nullptr);

}  // namespace nightshift::exec
