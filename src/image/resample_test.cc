// The vector resampler against Pillow's scalar arithmetic, byte for byte,
// and windows against crops of the whole resized image.
#include "image/resample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

#include "image/resample_kernels.h"

namespace nightshift::image {
namespace {

Pixels Noise(int width, int height, int channels, uint32_t seed) {
  std::mt19937 rng(seed);
  Pixels p{width, height, channels, {}};
  p.data.resize(static_cast<size_t>(width) * height * channels);
  // Mostly extremes, so any rounding or saturation slip shows.
  for (auto& v : p.data) v = rng() % 3 == 0 ? static_cast<uint8_t>(rng()) : (rng() % 2) * 255;
  return p;
}

// Pillow's order with the scalar kernels only: every row through the
// horizontal pass, then every column through the vertical pass.
Pixels Reference(const Pixels& src, int width, int height) {
  const int ch = src.channels;
  Pixels mid = src;
  if (width != src.width) {
    const kernels::Taps t = kernels::ComputeTaps(src.width, width);
    mid = Pixels{width, src.height, ch, std::vector<uint8_t>(size_t{1} * width * src.height * ch)};
    for (int y = 0; y < src.height; ++y)
      kernels::HorizontalRowScalar(src.row(y), ch, t, 0, width, mid.row(y));
  }
  if (height == src.height) return mid;
  const kernels::Taps t = kernels::ComputeTaps(src.height, height);
  Pixels out{width, height, ch, std::vector<uint8_t>(size_t{1} * width * height * ch)};
  const size_t stride = size_t{1} * width * ch;
  for (int yy = 0; yy < height; ++yy) {
    kernels::VerticalRowScalar(mid.row(t.first[yy]), stride, &t.weights[size_t{1} * yy * t.ksize],
                               t.count[yy], stride, out.row(yy));
  }
  return out;
}

// With the CPU's best kernels (AVX-512 where it has them), with AVX2 at
// most, and with SSE2. The taps are computed after the choice, as they
// carry the chosen form's layout.
enum class Isa { kBest, kAvx2, kSse2 };

class ResampleIsaTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    kernels::DisableAvx512ForTesting(GetParam() != Isa::kBest);
    kernels::DisableAvx2ForTesting(GetParam() == Isa::kSse2);
  }
  void TearDown() override {
    kernels::DisableAvx512ForTesting(false);
    kernels::DisableAvx2ForTesting(false);
  }
};

INSTANTIATE_TEST_SUITE_P(Kernels, ResampleIsaTest,
                         ::testing::Values(Isa::kBest, Isa::kAvx2, Isa::kSse2),
                         [](const auto& info) {
                           return info.param == Isa::kBest   ? "Best"
                                  : info.param == Isa::kAvx2 ? "Avx2"
                                                             : "Sse2";
                         });

// The horizontal pass alone on one row that ends where the buffer does (so
// a load past the image's end shows under ASan), for many shrinks and
// enlargements and windows starting anywhere: the first and last pixels of
// a window take other code paths than its middle.
TEST_P(ResampleIsaTest, HorizontalRowEqualsScalarForAnyWindow) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    const int in = 1 + static_cast<int>(rng() % 1500);
    const int out = trial % 2 == 0 ? std::max(1, in / (1 + static_cast<int>(rng() % 7)))
                                   : 1 + static_cast<int>(rng() % 600);
    const kernels::Taps t = kernels::ComputeTaps(in, out);
    const Pixels row = Noise(in, 1, 3, static_cast<uint32_t>(trial));
    const int x0 = static_cast<int>(rng() % out);
    const int width = 1 + static_cast<int>(rng() % (out - x0));
    std::vector<uint8_t> want(static_cast<size_t>(width) * 3 + 8, 7), got = want;
    kernels::HorizontalRowScalar(row.data.data(), 3, t, x0, width, want.data());
    kernels::HorizontalRow(row.data.data(), row.data.size(), 3, t, x0, width, got.data());
    ASSERT_EQ(got, want) << in << " -> " << out << ", pixels " << x0 << ".." << x0 + width;
  }
}

// The AVX-512 layout exists where 4 neighbours' taps fit one 64-byte load
// (the shrinks images take: 640 -> 341 is a ShorterSide 224 of VGA), and
// not where they cannot (a 17x shrink), which the AVX2 form then does.
TEST(ResampleTest, LaneLayoutOnlyWhereFourPixelsFitOneLoad) {
  if (!kernels::HasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  EXPECT_FALSE(kernels::ComputeTaps(640, 341).lane_weights.empty());
  EXPECT_FALSE(kernels::ComputeTaps(1000, 200).lane_weights.empty());
  EXPECT_TRUE(kernels::ComputeTaps(4000, 224).lane_weights.empty());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kernels::ComputeTaps(640, 341).lane_weights.data()) % 64,
            0u);
}

TEST_P(ResampleIsaTest, EqualsScalarPillowArithmeticForManySizes) {
  const int sizes[][4] = {{640, 480, 299, 224}, {480, 640, 224, 299},  {37, 21, 9, 5},
                          {5, 3, 17, 11},       {1, 1, 3, 2},          {2, 7, 1, 1},
                          {300, 200, 56, 72},   {1600, 1000, 128, 96}, {33, 17, 33, 5},
                          {33, 17, 8, 17},      {17, 40, 16, 41},      {4000, 30, 224, 7},
                          {640, 33, 71, 1}};
  uint32_t seed = 1;
  for (const auto& s : sizes) {
    for (int ch : {3, 1}) {
      const Pixels src = Noise(s[0], s[1], ch, seed++);
      const Pixels got = Resample(src, s[2], s[3]);
      const Pixels want = Reference(src, s[2], s[3]);
      EXPECT_EQ(got.width, s[2]);
      EXPECT_EQ(got.height, s[3]);
      EXPECT_EQ(got.data, want.data)
          << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3] << ", " << ch << " channels";
    }
  }
}

TEST_P(ResampleIsaTest, WindowEqualsCropOfWholeResize) {
  const Pixels src = Noise(250, 190, 3, 7);
  const Pixels whole = Resample(src, 131, 97);
  Pixels win;
  for (const Window w : {Window{0, 0, 131, 97}, Window{20, 10, 64, 64}, Window{130, 96, 1, 1},
                         Window{0, 50, 131, 47}}) {
    ResampleWindow(src, 131, 97, w, &win);
    ASSERT_EQ(win.width, w.width);
    ASSERT_EQ(win.height, w.height);
    for (int y = 0; y < w.height; ++y) {
      for (int x = 0; x < w.width * 3; ++x) {
        ASSERT_EQ(win.row(y)[x], whole.row(y + w.y)[w.x * 3 + x])
            << "window at " << w.x << "," << w.y << " pixel " << x / 3 << "," << y;
      }
    }
  }
}

TEST(ResampleTest, ConstantStaysConstantAndSameSizeIsIdentity) {
  Pixels flat{50, 30, 3, std::vector<uint8_t>(50 * 30 * 3, 77)};
  EXPECT_EQ(Resample(flat, 7, 5).data, std::vector<uint8_t>(7 * 5 * 3, 77));
  EXPECT_EQ(Resample(flat, 120, 61).data, std::vector<uint8_t>(120 * 61 * 3, 77));
  const Pixels n = Noise(9, 4, 3, 3);
  EXPECT_EQ(Resample(n, 9, 4).data, n.data);
  Pixels win;
  ResampleWindow(n, 9, 4, {2, 1, 3, 2}, &win);
  std::vector<uint8_t> want;
  for (int y : {1, 2}) {
    for (int i = 6; i < 15; ++i) want.push_back(n.row(y)[i]);
  }
  EXPECT_EQ(win.data, want);
}

}  // namespace
}  // namespace nightshift::image
