// Resampling: PIL's antialiased bilinear resize (Image.resize(size,
// Image.BILINEAR), Pillow >= 7), reproduced bit for bit: the same filter
// support (widened by the scale when shrinking, so every source pixel
// counts: an area-like filter without aliasing), the same 22-bit fixed-point
// coefficients, the horizontal pass first and rounding to 8 bits between the
// passes. Outputs therefore equal Pillow's exactly for the same input pixels.
#pragma once

#include "image/pixels.h"

namespace nightshift::image {

// `src` resized to width x height (both >= 1). Same channels.
Pixels Resample(const Pixels& src, int width, int height);

}  // namespace nightshift::image
