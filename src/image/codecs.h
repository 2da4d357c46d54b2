// The per-format halves of image_decoder.h; only image_decoder.cc calls them.
// Each returns InvalidData with a message naming the format on failure.
#pragma once

#include <span>

#include "image/image_decoder.h"

namespace nightshift::image::codec {

Result<ImageHeader> JpegHeader(std::span<const uint8_t> bytes);
// REQUIRES: request.channels is 1 or 3; the header passed the pixel limit.
Result<Pixels> DecodeJpeg(std::span<const uint8_t> bytes, const DecodeRequest& request);
// The same into `out`, reusing its memory.
Status DecodeJpegInto(std::span<const uint8_t> bytes, const DecodeRequest& request, Pixels* out);

Result<ImageHeader> PngHeader(std::span<const uint8_t> bytes);
// Always RGB (3 channels): gray is made from it as for the other formats.
Result<Pixels> DecodePng(std::span<const uint8_t> bytes, int64_t max_pixels);

Result<ImageHeader> WebpHeader(std::span<const uint8_t> bytes);
// Always RGB (3 channels).
Result<Pixels> DecodeWebp(std::span<const uint8_t> bytes, int64_t max_pixels);

}  // namespace nightshift::image::codec
