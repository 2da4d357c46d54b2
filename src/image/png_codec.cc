// PNG through libpng's simplified API (png_image), which reports errors as
// messages rather than through longjmp. 16-bit and gAMA-tagged files are
// converted to 8-bit sRGB the way libpng does it (see docs/images.md).
#include <fmt/format.h>
#include <png.h>

#include "image/codecs.h"

namespace nightshift::image::codec {
namespace {

Status PngError(const png_image& img, std::string_view what) {
  return Status(Code::kInvalidData, fmt::format("corrupt or truncated PNG ({}: {})", what,
                                                img.message[0] ? img.message : "unknown error"));
}

}  // namespace

Result<ImageHeader> PngHeader(std::span<const uint8_t> bytes) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()) == 0) {
    return Error(PngError(img, "header"));  // libpng freed the image
  }
  ImageHeader h{ImageFormat::kPng, static_cast<int>(img.width), static_cast<int>(img.height)};
  png_image_free(&img);
  return h;
}

Result<Pixels> DecodePng(std::span<const uint8_t> bytes, int64_t max_pixels) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()) == 0) {
    return Error(PngError(img, "header"));
  }
  Status limit = CheckPixelLimit(
      {ImageFormat::kPng, static_cast<int>(img.width), static_cast<int>(img.height)}, max_pixels);
  if (!limit.ok()) {
    png_image_free(&img);
    return Error(std::move(limit));
  }
  // Alpha is read and then dropped (not composited), as PIL's convert("RGB").
  const bool alpha = (img.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  img.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  std::vector<uint8_t> buf(PNG_IMAGE_SIZE(img));
  if (png_image_finish_read(&img, nullptr, buf.data(), 0, nullptr) == 0) {
    return Error(PngError(img, "data"));  // libpng freed the image
  }
  Pixels out{static_cast<int>(img.width), static_cast<int>(img.height), 3, {}};
  if (!alpha) {
    out.data = std::move(buf);
    return out;
  }
  out.data.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (size_t i = 0, j = 0; j < out.data.size(); i += 4, j += 3) {
    out.data[j] = buf[i];
    out.data[j + 1] = buf[i + 1];
    out.data[j + 2] = buf[i + 2];
  }
  return out;
}

}  // namespace nightshift::image::codec
