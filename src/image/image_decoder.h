// Image decoding: JPEG (libjpeg-turbo's TurboJPEG), PNG (libpng) and WebP
// (libwebp) from encoded bytes into 8-bit RGB or gray Pixels. The format is
// told by the bytes' signature, never by a file name. Untrusted input: every
// failure (not an image, a corrupt or truncated file, dimensions over the
// pixel limit) is an InvalidData Status whose message is fit for a dead
// letter; the header is checked against the pixel limit before any pixel
// memory is allocated. Thread-safe (each thread keeps its own decoder state).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "image/pixels.h"
#include "nightshift/status.h"

namespace nightshift::image {

enum class ImageFormat { kJpeg, kPng, kWebp };

struct ImageHeader {
  ImageFormat format = ImageFormat::kJpeg;
  int width = 0;
  int height = 0;
};

struct DecodeRequest {
  int channels = 3;  // 3: RGB, 1: gray (ITU-R 601 luma, as PIL's convert("L"))
  // Refused above this many pixels (width x height): an image bomb's header
  // asks for far more memory than its file size suggests.
  int64_t max_pixels = 0;
  // JPEG only: decode at 1/2, 1/4 or 1/8 scale in the DCT domain (far less
  // work) as long as the result still has at least this many columns and
  // rows. 0: full size.
  int min_width = 0;
  int min_height = 0;
  // JPEG only: given the decoded image's width and height (after any DCT
  // scaling), the rectangle of it that the caller will read (e.g.
  // SourceWindow for a centre crop). Only that part (and a margin) is
  // decoded: the rest of `Pixels` holds unspecified bytes. Unset: all of it.
  std::function<Window(int width, int height)> needed;
};

// The format and dimensions, from the header only. InvalidData for bytes
// that are not JPEG, PNG or WebP, or whose header is corrupt.
Result<ImageHeader> ReadImageHeader(std::span<const uint8_t> bytes);

// InvalidData when the header's dimensions exceed `max_pixels` (0: no limit).
Status CheckPixelLimit(const ImageHeader& header, int64_t max_pixels);

// Decodes `bytes` (whose header is `header`, from ReadImageHeader). A
// truncated or corrupt stream is an error, never a partly grey image.
Result<Pixels> DecodeImage(std::span<const uint8_t> bytes, const ImageHeader& header,
                           const DecodeRequest& request);

// As DecodeImage, into `out`, reusing its memory where it can (a worker
// decoding one JPEG after another into the same buffer allocates once).
Status DecodeImageInto(std::span<const uint8_t> bytes, const ImageHeader& header,
                       const DecodeRequest& request, Pixels* out);

std::string_view FormatName(ImageFormat format);

}  // namespace nightshift::image
