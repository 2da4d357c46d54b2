// Resampling: PIL's antialiased bilinear resize (Image.resize(size,
// Image.BILINEAR), Pillow >= 7), reproduced bit for bit: the same filter
// support (widened by the scale when shrinking, so every source pixel
// counts: an area-like filter without aliasing), the same 22-bit fixed-point
// coefficients, the horizontal pass first and rounding to 8 bits between the
// passes. Outputs therefore equal Pillow's exactly for the same input pixels.
// The passes run as SSE2 code on x86-64 with the same arithmetic
// (resample_kernels.h).
#pragma once

#include "image/pixels.h"

namespace nightshift::image {

// `src` resized to width x height (both >= 1). Same channels.
Pixels Resample(const Pixels& src, int width, int height);

// The `window` (inside width x height) of Resample(src, width, height), into
// `out`, computing only what that window needs (a centre crop skips the
// columns and rows it cuts). Equal to cropping Resample's output. `out`'s
// memory is reused: a worker resampling image after image allocates once.
void ResampleWindow(const Pixels& src, int width, int height, const Window& window, Pixels* out);

// The rectangle of a src_width x src_height image that ResampleWindow(src,
// width, height, window) reads (the filter's support included): pixels
// outside it may hold anything without changing the result, so a decoder
// need not produce them.
Window SourceWindow(int src_width, int src_height, int width, int height, const Window& window);

}  // namespace nightshift::image
