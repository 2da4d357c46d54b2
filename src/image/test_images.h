// Encoders for the image tests: small images in each format, built in memory.
#pragma once

#include <png.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include <cstdint>
#include <string>
#include <vector>

#include "image/pixels.h"

namespace nightshift::image::testing {

// A smooth RGB gradient with some texture, width x height.
inline Pixels Gradient(int width, int height) {
  Pixels p{width, height, 3, {}};
  p.data.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* px = p.row(y) + x * 3;
      px[0] = static_cast<uint8_t>(x * 255 / std::max(1, width - 1));
      px[1] = static_cast<uint8_t>(y * 255 / std::max(1, height - 1));
      px[2] = static_cast<uint8_t>((x * 7 + y * 13) % 256);
    }
  }
  return p;
}

inline std::string Jpeg(const Pixels& p, int quality = 95) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  tjCompress2(h, p.data.data(), p.width, 0, p.height, TJPF_RGB, &buf, &size, TJSAMP_420, quality,
              0);
  std::string out(reinterpret_cast<char*>(buf), size);
  tjFree(buf);
  tjDestroy(h);
  return out;
}

// A CMYK JPEG (TurboJPEG writes it as YCCK) of 4-sample pixels `cmyk`.
inline std::string CmykJpeg(const std::vector<uint8_t>& cmyk, int width, int height) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  tjCompress2(h, cmyk.data(), width, 0, height, TJPF_CMYK, &buf, &size, TJSAMP_420, 90, 0);
  std::string out(reinterpret_cast<char*>(buf), size);
  tjFree(buf);
  tjDestroy(h);
  return out;
}

// libjpeg's samples of a CMYK JPEG, as TurboJPEG decodes them.
inline std::vector<uint8_t> CmykSamples(const std::string& jpeg, int width, int height) {
  std::vector<uint8_t> out(static_cast<size_t>(width) * height * 4);
  tjhandle h = tjInitDecompress();
  tjDecompress2(h, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(), out.data(),
                width, 0, height, TJPF_CMYK, 0);
  tjDestroy(h);
  return out;
}

inline std::string Png(const Pixels& p) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(p.width);
  img.height = static_cast<png_uint_32>(p.height);
  img.format = p.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&img, nullptr, &size, 0, p.data.data(), 0, nullptr);
  std::string out(size, '\0');
  png_image_write_to_memory(&img, out.data(), &size, 0, p.data.data(), 0, nullptr);
  out.resize(size);
  return out;
}

inline std::string Webp(const Pixels& p) {
  uint8_t* buf = nullptr;
  const size_t size = WebPEncodeLosslessRGB(p.data.data(), p.width, p.height, p.width * 3, &buf);
  std::string out(reinterpret_cast<char*>(buf), size);
  WebPFree(buf);
  return out;
}

inline uint32_t Crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

inline std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A PNG whose header claims width x height but whose data is a few bytes:
// a decompression bomb's shape.
inline std::string PngBomb(uint32_t width, uint32_t height) {
  std::string ihdr = "IHDR" + Be32(width) + Be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string idat = "IDAT" + std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8);
  auto chunk = [](const std::string& body) {
    return Be32(static_cast<uint32_t>(body.size() - 4)) + body + Be32(Crc32(body));
  };
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk(ihdr) + chunk(idat) + chunk("IEND");
}

}  // namespace nightshift::image::testing
