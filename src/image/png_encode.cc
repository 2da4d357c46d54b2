#include "image/png_encode.h"

#include <fmt/format.h>
#include <png.h>

namespace nightshift::image {

Result<std::string> EncodePng(const Pixels& px) {
  if (px.width <= 0 || px.height <= 0 || (px.channels != 1 && px.channels != 3) ||
      px.data.size() != static_cast<size_t>(px.width) * px.height * px.channels) {
    return Error(
        Status(Code::kInvalidData, fmt::format("cannot encode a {}x{} image of {} channels as PNG",
                                               px.width, px.height, px.channels)));
  }
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(px.width);
  img.height = static_cast<png_uint_32>(px.height);
  img.format = px.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  const png_int_32 stride = px.width * px.channels;
  // A first call with no buffer sizes the file; the second writes it.
  png_alloc_size_t size = 0;
  if (png_image_write_to_memory(&img, nullptr, &size, 0, px.data.data(), stride, nullptr) == 0) {
    return Error(Status(Code::kInvalidData, fmt::format("PNG encoding failed: {}", img.message)));
  }
  std::string out(size, '\0');
  if (png_image_write_to_memory(&img, out.data(), &size, 0, px.data.data(), stride, nullptr) == 0) {
    return Error(Status(Code::kInvalidData, fmt::format("PNG encoding failed: {}", img.message)));
  }
  out.resize(size);
  return out;
}

}  // namespace nightshift::image
