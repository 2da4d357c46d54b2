#include "image/png_encode.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>

#include "image/codecs.h"

namespace nightshift::image {
namespace {

Pixels Gradient(int w, int h, int channels) {
  Pixels px{w, h, channels, std::vector<uint8_t>(static_cast<size_t>(w) * h * channels)};
  for (size_t i = 0; i < px.data.size(); ++i) px.data[i] = static_cast<uint8_t>(i * 37 % 251);
  return px;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(EncodePng, RgbRoundTripsExactly) {
  const Pixels px = Gradient(31, 7, 3);
  auto png = EncodePng(px);
  ASSERT_TRUE(png.has_value()) << png.error().message();
  ASSERT_EQ(png->substr(1, 3), "PNG");
  auto back = codec::DecodePng(Bytes(*png), 1 << 20);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->width, 31);
  EXPECT_EQ(back->height, 7);
  EXPECT_EQ(back->channels, 3);
  EXPECT_EQ(back->data, px.data);
}

TEST(EncodePng, GrayIsWrittenAsGray) {
  const Pixels px = Gradient(5, 9, 1);
  auto png = EncodePng(px);
  ASSERT_TRUE(png.has_value()) << png.error().message();
  auto back = codec::DecodePng(Bytes(*png), 1 << 20);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  // The decoder hands every PNG back as RGB: each gray value three times.
  ASSERT_EQ(back->data.size(), px.data.size() * static_cast<size_t>(back->channels));
  for (size_t i = 0; i < px.data.size(); ++i) {
    EXPECT_EQ(back->data[i * static_cast<size_t>(back->channels)], px.data[i]) << i;
  }
}

TEST(EncodePng, MalformedPixelsAreAnError) {
  Pixels px = Gradient(4, 4, 3);
  px.data.pop_back();
  auto png = EncodePng(px);
  ASSERT_FALSE(png.has_value());
  EXPECT_EQ(png.error().code(), Code::kInvalidData);
}

}  // namespace
}  // namespace nightshift::image
