#include "image/image_decoder.h"

#include <fmt/format.h>

#include <cstring>

#include "image/codecs.h"

namespace nightshift::image {
namespace {

bool StartsWith(std::span<const uint8_t> bytes, std::string_view magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() &&
         std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

// The first bytes as text a reader can place: printable ASCII as is, the
// rest as \xNN (a text file named .jpg shows its words).
std::string Preview(std::span<const uint8_t> bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < 12; ++i) {
    const uint8_t c = bytes[i];
    out +=
        c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  }
  return out;
}

// PIL's convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded.
Pixels ToGray(const Pixels& rgb) {
  Pixels gray{rgb.width, rgb.height, 1, {}};
  gray.data.resize(static_cast<size_t>(rgb.width) * rgb.height);
  const uint8_t* s = rgb.data.data();
  for (size_t i = 0; i < gray.data.size(); ++i, s += 3) {
    gray.data[i] = static_cast<uint8_t>((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
  }
  return gray;
}

Pixels ToRgb(const Pixels& gray) {
  Pixels rgb{gray.width, gray.height, 3, {}};
  rgb.data.resize(gray.data.size() * 3);
  for (size_t i = 0; i < gray.data.size(); ++i) {
    rgb.data[3 * i] = rgb.data[3 * i + 1] = rgb.data[3 * i + 2] = gray.data[i];
  }
  return rgb;
}

}  // namespace

std::string_view FormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kWebp: return "WebP";
  }
  return "image";
}

Result<ImageHeader> ReadImageHeader(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Error(Code::kInvalidData, "empty file (0 bytes): not an image");
  if (StartsWith(bytes, "\xff\xd8\xff")) return codec::JpegHeader(bytes);
  if (StartsWith(bytes, "\x89PNG\r\n\x1a\n")) return codec::PngHeader(bytes);
  if (StartsWith(bytes, "RIFF") && StartsWith(bytes, "WEBP", 8)) return codec::WebpHeader(bytes);
  return Error(Code::kInvalidData,
               fmt::format("not a JPEG, PNG or WebP image ({} bytes starting '{}')", bytes.size(),
                           Preview(bytes)));
}

Status CheckPixelLimit(const ImageHeader& header, int64_t max_pixels) {
  if (header.width <= 0 || header.height <= 0) {
    return Status(Code::kInvalidData,
                  fmt::format("{} header gives an empty image ({}x{})", FormatName(header.format),
                              header.width, header.height));
  }
  const int64_t pixels = int64_t{header.width} * header.height;
  if (max_pixels > 0 && pixels > max_pixels) {
    return Status(
        Code::kInvalidData,
        fmt::format("{} image is {}x{} = {} pixels, over the limit of {} (max_pixels)",
                    FormatName(header.format), header.width, header.height, pixels, max_pixels));
  }
  return Status::Ok();
}

Result<Pixels> DecodeImage(std::span<const uint8_t> bytes, const ImageHeader& header,
                           const DecodeRequest& request) {
  NS_RETURN_IF_ERROR(CheckPixelLimit(header, request.max_pixels));
  Result<Pixels> decoded = Error(Code::kInternal, "no decoder");
  switch (header.format) {
    case ImageFormat::kJpeg: decoded = codec::DecodeJpeg(bytes, request); break;
    case ImageFormat::kPng: decoded = codec::DecodePng(bytes, request.max_pixels); break;
    case ImageFormat::kWebp: decoded = codec::DecodeWebp(bytes, request.max_pixels); break;
  }
  if (!decoded.has_value()) return decoded;
  if (decoded->channels == 3 && request.channels == 1) return ToGray(*decoded);
  if (decoded->channels == 1 && request.channels == 3) return ToRgb(*decoded);
  return decoded;
}

Status DecodeImageInto(std::span<const uint8_t> bytes, const ImageHeader& header,
                       const DecodeRequest& request, Pixels* out) {
  if (header.format != ImageFormat::kJpeg) {
    NS_ASSIGN_OR_RETURN(*out, DecodeImage(bytes, header, request));
    return Status::Ok();
  }
  NS_RETURN_IF_ERROR(CheckPixelLimit(header, request.max_pixels));
  NS_RETURN_IF_ERROR(codec::DecodeJpegInto(bytes, request, out));
  if (out->channels == 3 && request.channels == 1) *out = ToGray(*out);
  return Status::Ok();
}

}  // namespace nightshift::image
