// A JPEG decoded only where the caller reads (DecodeRequest::needed) gives
// the same bytes there as a full decode: chroma subsampling 4:2:0, 4:2:2,
// 4:4:4 and gray, progressive, restart markers, odd sizes, DCT scaling;
// and damage below the window still makes it an error.
// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
// clang-format on

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "image/image_decoder.h"
#include "image/resample.h"

namespace nightshift::image {
namespace {

struct Encoding {
  const char* name;
  int h_samp, v_samp;  // of luma; chroma is 1x1. 0: gray
  bool progressive;
  int restart_rows;  // 0: no restart markers
};

// Noise on gradients (high-frequency detail makes edge effects visible).
Pixels Noisy(int width, int height, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  Pixels p{width, height, channels, {}};
  p.data.resize(static_cast<size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int v = (x * (c + 1) * 3 + y * (3 - c) * 2) % 256 + static_cast<int>(rng() % 41) - 20;
        p.row(y)[x * channels + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  return p;
}

// Through the libjpeg API: TurboJPEG 2.x cannot write restart markers.
std::string Encode(const Pixels& p, const Encoding& e) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(p.width);
  c.image_height = static_cast<JDIMENSION>(p.height);
  c.input_components = p.channels;
  c.in_color_space = p.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  if (p.channels == 3) {
    c.comp_info[0].h_samp_factor = e.h_samp;
    c.comp_info[0].v_samp_factor = e.v_samp;
  }
  if (e.progressive) jpeg_simple_progression(&c);
  c.restart_in_rows = e.restart_rows;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(p.row(static_cast<int>(c.next_scanline)));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<char*>(buf), size);
  std::free(buf);
  return out;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Result<Pixels> DecodeWindow(const std::string& jpeg, int channels, int min_size,
                            std::function<Window(int, int)> needed) {
  NS_ASSIGN_OR_RETURN(ImageHeader h, ReadImageHeader(Bytes(jpeg)));
  DecodeRequest req;
  req.channels = channels;
  req.max_pixels = 1 << 24;
  req.min_width = req.min_height = min_size;
  req.needed = std::move(needed);
  Pixels out;
  NS_RETURN_IF_ERROR(DecodeImageInto(Bytes(jpeg), h, req, &out));
  return out;
}

constexpr Encoding kEncodings[] = {
    {"4:2:0", 2, 2, false, 0},
    {"4:2:2", 2, 1, false, 0},
    {"4:4:4", 1, 1, false, 0},
    {"gray", 0, 0, false, 0},
    {"4:2:0 progressive", 2, 2, true, 0},
    {"4:2:0 restart markers", 2, 2, false, 1},
    {"4:4:4 progressive restarts", 1, 1, true, 2},
};

TEST(JpegWindowTest, WindowEqualsFullDecodeThere) {
  std::mt19937 rng(7);
  const int sizes[][2] = {{97, 61}, {333, 250}, {640, 480}, {17, 300}};
  for (const Encoding& e : kEncodings) {
    const int channels = e.h_samp == 0 ? 1 : 3;
    for (const auto& size : sizes) {
      const std::string jpeg = Encode(Noisy(size[0], size[1], channels, rng()), e);
      for (int min_size : {0, size[1] / 4}) {  // full size, and DCT-scaled
        auto full = DecodeWindow(jpeg, channels, min_size, nullptr);
        ASSERT_TRUE(full.has_value()) << full.error().message();
        for (int trial = 0; trial < 12; ++trial) {
          Window w;
          w.x = static_cast<int>(rng() % static_cast<unsigned>(full->width));
          w.y = static_cast<int>(rng() % static_cast<unsigned>(full->height));
          w.width = 1 + static_cast<int>(rng() % static_cast<unsigned>(full->width - w.x));
          w.height = 1 + static_cast<int>(rng() % static_cast<unsigned>(full->height - w.y));
          auto part = DecodeWindow(jpeg, channels, min_size, [&](int width, int height) {
            EXPECT_EQ(width, full->width);
            EXPECT_EQ(height, full->height);
            return w;
          });
          ASSERT_TRUE(part.has_value()) << part.error().message();
          ASSERT_EQ(part->width, full->width);
          ASSERT_EQ(part->height, full->height);
          const size_t len = static_cast<size_t>(w.width) * channels;
          for (int y = w.y; y < w.y + w.height; ++y) {
            const size_t at = static_cast<size_t>(w.x) * channels;
            ASSERT_EQ(0, std::memcmp(part->row(y) + at, full->row(y) + at, len))
                << e.name << " " << size[0] << "x" << size[1] << " scaled to " << full->width << "x"
                << full->height << ", window x " << w.x << " y " << w.y << " " << w.width << "x"
                << w.height << ", row " << y;
          }
        }
      }
    }
  }
}

// What Render asks for: a shorter_side centre crop of a landscape and of a
// portrait photo (the columns, then the rows, cut).
TEST(JpegWindowTest, CentreCropWindowsEqualFullDecode) {
  for (const Encoding& e : kEncodings) {
    const int channels = e.h_samp == 0 ? 1 : 3;
    for (auto [w, h, rw, rh] : {std::array{640, 480, 299, 224}, std::array{480, 640, 224, 299}}) {
      const std::string jpeg = Encode(Noisy(w, h, channels, 3), e);
      const Window crop{(rw - 224) / 2, (rh - 224) / 2, 224, 224};
      auto needed = [&](int width, int height) {
        return SourceWindow(width, height, rw, rh, crop);
      };
      auto full = DecodeWindow(jpeg, channels, 0, nullptr);
      auto part = DecodeWindow(jpeg, channels, 0, needed);
      ASSERT_TRUE(full.has_value() && part.has_value());
      Pixels a, b;
      ResampleWindow(*full, rw, rh, crop, &a);
      ResampleWindow(*part, rw, rh, crop, &b);
      EXPECT_EQ(a.data, b.data) << e.name << " " << w << "x" << h;
    }
  }
}

TEST(JpegWindowTest, DamageBelowTheWindowIsStillAnError) {
  const std::string jpeg = Encode(Noisy(320, 240, 3, 5), kEncodings[0]);
  const std::string cut = jpeg.substr(0, jpeg.size() * 3 / 4);  // the last rows are gone
  auto top = [](int width, int) { return Window{0, 0, width, 16}; };
  auto r = DecodeWindow(cut, 3, 0, top);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidData);
  EXPECT_NE(r.error().message().find("corrupt or truncated JPEG"), std::string::npos)
      << r.error().message();
  // The decoder is fine afterwards.
  EXPECT_TRUE(DecodeWindow(jpeg, 3, 0, top).has_value());
}

}  // namespace
}  // namespace nightshift::image
