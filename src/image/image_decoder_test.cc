// Decoding each format, and hostile bytes: every one an error with a reason.
#include "image/image_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "image/image_transform.h"
#include "image/resample_kernels.h"
#include "image/test_images.h"

namespace nightshift::image {
namespace {

using testing::Gradient;
using ::testing::HasSubstr;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Result<Pixels> Decode(const std::string& bytes, int channels = 3, int64_t max_pixels = 1 << 24) {
  NS_ASSIGN_OR_RETURN(ImageHeader h, ReadImageHeader(Bytes(bytes)));
  DecodeRequest req;
  req.channels = channels;
  req.max_pixels = max_pixels;
  return DecodeImage(Bytes(bytes), h, req);
}

std::string ErrorOf(const std::string& bytes) {
  auto r = Decode(bytes);
  if (r.has_value()) return "(decoded)";
  EXPECT_EQ(r.error().code(), Code::kInvalidData);
  return r.error().message();
}

TEST(ImageDecoderTest, PngAndLosslessWebpDecodeExactly) {
  const Pixels src = Gradient(37, 21);
  for (const std::string& bytes : {testing::Png(src), testing::Webp(src)}) {
    auto p = Decode(bytes);
    ASSERT_TRUE(p.has_value()) << p.error().message();
    EXPECT_EQ(p->width, 37);
    EXPECT_EQ(p->height, 21);
    EXPECT_EQ(p->data, src.data);
  }
}

TEST(ImageDecoderTest, JpegDecodesCloseToItsSource) {
  const Pixels src = Gradient(64, 48);
  auto p = Decode(testing::Jpeg(src));
  ASSERT_TRUE(p.has_value()) << p.error().message();
  ASSERT_EQ(p->data.size(), src.data.size());
  double sum = 0;
  for (size_t i = 0; i < src.data.size(); ++i) sum += std::abs(p->data[i] - src.data[i]);
  EXPECT_LT(sum / src.data.size(), 6.0);
}

TEST(ImageDecoderTest, GrayIsPilLuma) {
  Pixels src{1, 1, 3, {200, 100, 50}};
  auto p = Decode(testing::Png(src), 1);
  ASSERT_TRUE(p.has_value());
  // (200*19595 + 100*38470 + 50*7471 + 0x8000) >> 16 = 124
  EXPECT_EQ(p->data, std::vector<uint8_t>{124});
}

TEST(ImageDecoderTest, JpegShrinksInTheDctDomainOnlyDownToTheRequestedSize) {
  const std::string bytes = testing::Jpeg(Gradient(800, 400));
  auto h = ReadImageHeader(Bytes(bytes));
  ASSERT_TRUE(h.has_value());
  DecodeRequest req;
  req.min_width = 150;
  req.min_height = 90;
  auto p = DecodeImage(Bytes(bytes), *h, req);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->width, 200);  // 1/4; 1/8 would give 100 x 50 < 150 x 90
  EXPECT_EQ(p->height, 100);
}

// Pillow's RGB of a CMYK JPEG: its samples inverted (Adobe's convention),
// then R = (255 - K) - MULDIV255(C, 255 - K). The e2e test compares with
// Pillow itself; this one covers YCCK (what TurboJPEG and Photoshop write),
// full size, cropped and DCT-scaled.
TEST(ImageDecoderTest, CmykJpegIsPillowsRgb) {
  const int w = 64, h = 40;
  std::vector<uint8_t> cmyk(static_cast<size_t>(w) * h * 4);
  for (size_t i = 0; i < cmyk.size(); ++i) cmyk[i] = static_cast<uint8_t>((i * 37 + i / 97) % 256);
  const std::string bytes = testing::CmykJpeg(cmyk, w, h);
  const std::vector<uint8_t> s = testing::CmykSamples(bytes, w, h);
  auto p = Decode(bytes);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  ASSERT_EQ(p->data.size(), static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < static_cast<size_t>(w) * h; ++i) {
    const int nk = s[i * 4 + 3];
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - s[i * 4 + c]) * nk + 128;
      ASSERT_EQ(p->data[i * 3 + c], nk - (((t >> 8) + t) >> 8))
          << "pixel " << i << " channel " << c;
    }
  }
  // Cropped to a window, and asked for gray: the same RGB, and gray from it.
  auto header = ReadImageHeader(Bytes(bytes));
  ASSERT_TRUE(header.has_value());
  DecodeRequest req;
  req.max_pixels = 1 << 20;
  req.needed = [](int, int) { return Window{24, 8, 16, 16}; };
  auto window = DecodeImage(Bytes(bytes), *header, req);
  ASSERT_TRUE(window.has_value()) << window.error().message();
  for (int y = 8; y < 24; ++y) {
    for (int x = 24; x < 40; ++x) {
      for (int c = 0; c < 3; ++c) ASSERT_EQ(window->row(y)[x * 3 + c], p->row(y)[x * 3 + c]);
    }
  }
  auto gray = Decode(bytes, 1);
  ASSERT_TRUE(gray.has_value()) << gray.error().message();
  ASSERT_EQ(gray->channels, 1);
  for (size_t i = 0; i < static_cast<size_t>(w) * h; ++i) {
    const uint8_t* rgb = p->data.data() + i * 3;
    ASSERT_EQ(gray->data[i], (rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
  }
  req.needed = nullptr;
  req.min_width = 16;
  req.min_height = 10;
  auto quarter = DecodeImage(Bytes(bytes), *header, req);
  ASSERT_TRUE(quarter.has_value()) << quarter.error().message();
  EXPECT_EQ(quarter->width, 16);
  EXPECT_EQ(quarter->channels, 3);
}

TEST(ImageDecoderTest, ZeroBytesIsRefused) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty file (0 bytes)"));
}

TEST(ImageDecoderTest, TextFileNamedJpgIsRefused) {
  EXPECT_THAT(ErrorOf("hello, this is not a picture\n"),
              HasSubstr("not a JPEG, PNG or WebP image (29 bytes starting 'hello, this '"));
}

TEST(ImageDecoderTest, TruncatedFilesAreRefused) {
  const Pixels src = Gradient(64, 64);
  std::string jpeg = testing::Jpeg(src), png = testing::Png(src), webp = testing::Webp(src);
  EXPECT_THAT(ErrorOf(jpeg.substr(0, jpeg.size() / 2)), HasSubstr("corrupt or truncated JPEG"));
  EXPECT_THAT(ErrorOf(png.substr(0, png.size() / 2)), HasSubstr("corrupt or truncated PNG"));
  EXPECT_THAT(ErrorOf(webp.substr(0, webp.size() / 2)), HasSubstr("corrupt or truncated WebP"));
  // Cut inside the header, too.
  EXPECT_THAT(ErrorOf(jpeg.substr(0, 40)), HasSubstr("corrupt or truncated JPEG"));
  EXPECT_THAT(ErrorOf(png.substr(0, 20)), HasSubstr("corrupt or truncated PNG"));
}

TEST(ImageDecoderTest, CorruptJpegMarkerIsRefused) {
  std::string jpeg = testing::Jpeg(Gradient(64, 64));
  // The start-of-scan marker made into an unknown one: no image data follows.
  const size_t sos = jpeg.find("\xff\xda");
  ASSERT_NE(sos, std::string::npos);
  jpeg[sos + 1] = '\x01';
  EXPECT_THAT(ErrorOf(jpeg), HasSubstr("corrupt or truncated JPEG"));
  // A marker length running past the end of the file.
  std::string bad_len = testing::Jpeg(Gradient(64, 64));
  bad_len[4] = '\x7f';
  EXPECT_THAT(ErrorOf(bad_len), HasSubstr("JPEG"));
}

TEST(ImageDecoderTest, AGoodJpegAfterABadHeaderStillDecodes) {
  // Each thread keeps one TurboJPEG handle: a header that failed mid-parse
  // (height 0, as a DNL-style scan gives) must not fail the files after it.
  const std::string good = testing::Jpeg(Gradient(16, 16));
  std::string dnl = good;
  const size_t sof = dnl.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  dnl[sof + 5] = dnl[sof + 6] = '\0';
  std::string bad_huffman = good;
  const size_t dht = bad_huffman.find("\xff\xc4");
  ASSERT_NE(dht, std::string::npos);
  bad_huffman[dht + 4] = '\x7f';  // table class and id out of range
  for (const std::string& bad : {dnl, bad_huffman}) {
    EXPECT_THAT(ErrorOf(bad), HasSubstr("JPEG"));
    auto r = Decode(good);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->width, 16);
  }
}

TEST(ImageDecoderTest, PngBombIsRefusedFromItsHeader) {
  const std::string bomb = testing::PngBomb(60000, 60000);
  EXPECT_LT(bomb.size(), 100u);
  EXPECT_THAT(ErrorOf(bomb), HasSubstr("60000x60000 = 3600000000 pixels, over the limit of"));
  ImageTransform t;
  t.height = t.width = 8;
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  t.max_pixels = 1000;
  std::vector<float> out(t.elements(), 7.0f);
  Status s = Render(Bytes(testing::Png(Gradient(40, 30))), t, out.data());
  EXPECT_THAT(s.message(), HasSubstr("40x30 = 1200 pixels, over the limit of 1000 (max_pixels)"));
  EXPECT_EQ(out, std::vector<float>(t.elements(), 0.0f));
}

// A sliver (1 x 300,000 pixels, under any pixel limit) cropped to 24 x 32
// would be resized to 7,200,000 x 24 first: refused, not gigabytes of filter
// tables. A wide strip within the limit still renders.
TEST(ImageDecoderTest, SliverResizedPastTheSideLimitIsRefused) {
  ImageTransform t;
  t.height = 24;
  t.width = 32;
  t.resize = ResizeMode::kShorterSide;
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  t.max_pixels = 1 << 24;
  std::vector<float> out(t.elements(), 7.0f);
  Status s = Render(Bytes(testing::Png(Gradient(1, 300000))), t, out.data());
  EXPECT_EQ(s.code(), Code::kInvalidData);
  EXPECT_THAT(s.message(), HasSubstr("a 1x300000 image would be resized to 32x9600000 before the "
                                     "crop, over 65535 pixels on a side"));
  EXPECT_EQ(out, std::vector<float>(t.elements(), 0.0f));
  EXPECT_TRUE(Render(Bytes(testing::Png(Gradient(3000, 10))), t, out.data()).ok());
}

TEST(ImageTransformTest, PlacesShorterSideAndLetterbox) {
  ImageTransform t;
  t.height = 100;
  t.width = 100;
  t.resize = ResizeMode::kShorterSide;
  Placement p = Place(400, 200, t);  // scale 0.5: 200 x 100, crop x from 50
  EXPECT_EQ(p.resize_w, 200);
  EXPECT_EQ(p.resize_h, 100);
  EXPECT_EQ(p.crop_x, 50);
  EXPECT_EQ(p.crop_y, 0);
  t.resize = ResizeMode::kLetterbox;
  p = Place(400, 200, t);  // scale 0.25: 100 x 50, placed from y 25
  EXPECT_EQ(p.resize_w, 100);
  EXPECT_EQ(p.resize_h, 50);
  EXPECT_EQ(p.pad_x, 0);
  EXPECT_EQ(p.pad_y, 25);
}

TEST(ImageTransformTest, NormalisesIntoNchwAndNhwcWithBgr) {
  Pixels px{2, 1, 3, {10, 20, 30, 40, 50, 60}};
  ImageTransform t;
  t.height = 1;
  t.width = 2;
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  std::vector<float> out(6);
  WriteTensor(px, Place(2, 1, t), t, out.data());
  EXPECT_FLOAT_EQ(out[0], 10 / 255.0f);  // R plane: 10, 40
  EXPECT_FLOAT_EQ(out[1], 40 / 255.0f);
  EXPECT_FLOAT_EQ(out[2], 20 / 255.0f);
  t.layout = Layout::kNhwc;
  t.color = ColorOrder::kBgr;
  WriteTensor(px, Place(2, 1, t), t, out.data());
  EXPECT_FLOAT_EQ(out[0], 30 / 255.0f);  // first pixel B, G, R
  EXPECT_FLOAT_EQ(out[2], 10 / 255.0f);
  EXPECT_FLOAT_EQ(out[3], 60 / 255.0f);
}

// The AVX2 form (planes, 8 values at a time) gives the same bits as the
// table, which is numpy's float32 (x / 255 - mean) / std: every byte value,
// rows whose width is not a multiple of 8, RGB, BGR and gray, a letterbox.
TEST(ImageTransformTest, VectorNormaliseEqualsTheTableBitForBit) {
  if (!kernels::HasAvx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (ColorOrder color : {ColorOrder::kRgb, ColorOrder::kBgr, ColorOrder::kGray}) {
    ImageTransform t;
    t.height = 13;
    t.width = 45;
    t.color = color;
    t.resize = ResizeMode::kLetterbox;
    for (int c = 0; c < t.channels(); ++c) {
      t.mean.push_back(0.485f - 0.03f * c);
      t.std.push_back(0.229f - 0.002f * c);
    }
    Pixels px{43, 13, t.channels(), {}};
    px.data.resize(static_cast<size_t>(43) * 13 * t.channels());
    for (size_t i = 0; i < px.data.size(); ++i) px.data[i] = static_cast<uint8_t>(i * 7);
    const Placement p = Place(43, 13, t);
    std::vector<float> vector(t.elements()), table(t.elements());
    WriteTensor(px, p, t, vector.data());
    kernels::DisableAvx2ForTesting(true);
    WriteTensor(px, p, t, table.data());
    kernels::DisableAvx2ForTesting(false);
    EXPECT_EQ(0, std::memcmp(vector.data(), table.data(), vector.size() * sizeof(float)));
    // Placed from column 1 (letterbox); output channel 0 is B for BGR.
    const int first = px.data[color == ColorOrder::kBgr ? 2 : 0];
    EXPECT_EQ(vector[0], 0.0f);
    EXPECT_EQ(vector[1], (static_cast<float>(first) / 255.0f - t.mean[0]) / t.std[0]);
  }
}

}  // namespace
}  // namespace nightshift::image
