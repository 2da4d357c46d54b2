// Decoded images and how they become model input: the types shared by the
// decoders (image_decoder.h), the resampler (resample.h) and the step that
// lays pixels out as a tensor (image_transform.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nightshift::image {

// An 8-bit image, rows top to bottom, channels interleaved (RGB or gray).
struct Pixels {
  int width = 0;
  int height = 0;
  int channels = 0;  // 3 (R, G, B) or 1 (gray)
  std::vector<uint8_t> data;

  uint8_t* row(int y) { return data.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const {
    return data.data() + static_cast<size_t>(y) * width * channels;
  }
};

// A rectangle of an image: columns [x, x + width), rows [y, y + height).
struct Window {
  int x = 0, y = 0, width = 0, height = 0;
};

enum class ColorOrder { kRgb, kBgr, kGray };
enum class ResizeMode { kStretch, kShorterSide, kLetterbox };
enum class Layout { kNchw, kNhwc };

}  // namespace nightshift::image
