#include "image/resample.h"

#include <algorithm>
#include <cmath>

namespace nightshift::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

// The taps of one output pixel: source index of the first, and weights.
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  // `ksize` per output pixel
  int ksize = 0;
};

double Triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter
// (support 1) over the whole input.
Taps ComputeTaps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = Triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      t.weights[static_cast<size_t>(xx) * t.ksize + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    t.first[xx] = xmin;
    t.count[xx] = xmax;
  }
  return t;
}

inline uint8_t Clip8(int32_t v) {
  return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255));
}

// One row's horizontal pass with the channel count known at compile time,
// all channels accumulated in one walk over the taps (the hot loop of a
// decode + resize job: several times faster than a channel-outer loop).
template <int kChannels>
void HorizontalRow(const uint8_t* in, const Taps& t, int width, uint8_t* o) {
  for (int xx = 0; xx < width; ++xx) {
    const int32_t* k = &t.weights[static_cast<size_t>(xx) * t.ksize];
    const uint8_t* p = in + static_cast<size_t>(t.first[xx]) * kChannels;
    int32_t ss[kChannels];
    for (int c = 0; c < kChannels; ++c) ss[c] = 1 << (kPrecisionBits - 1);
    for (int x = 0; x < t.count[xx]; ++x, p += kChannels) {
      for (int c = 0; c < kChannels; ++c) ss[c] += p[c] * k[x];
    }
    for (int c = 0; c < kChannels; ++c) o[xx * kChannels + c] = Clip8(ss[c]);
  }
}

Pixels Horizontal(const Pixels& src, int width) {
  const Taps t = ComputeTaps(src.width, width);
  Pixels out{width, src.height, src.channels, {}};
  out.data.resize(static_cast<size_t>(width) * src.height * src.channels);
  for (int y = 0; y < src.height; ++y) {
    if (src.channels == 3) {
      HorizontalRow<3>(src.row(y), t, width, out.row(y));
    } else {
      HorizontalRow<1>(src.row(y), t, width, out.row(y));
    }
  }
  return out;
}

Pixels Vertical(const Pixels& src, int height) {
  const Taps t = ComputeTaps(src.height, height);
  const int ch = src.channels;
  const size_t row_len = static_cast<size_t>(src.width) * ch;
  Pixels out{src.width, height, ch, {}};
  out.data.resize(row_len * height);
  std::vector<int32_t> acc(row_len);
  for (int yy = 0; yy < height; ++yy) {
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    const int32_t* k = &t.weights[static_cast<size_t>(yy) * t.ksize];
    // Row by row, so the inner loop runs over contiguous memory.
    for (int y = 0; y < t.count[yy]; ++y) {
      const uint8_t* in = src.row(t.first[yy] + y);
      const int32_t w = k[y];
      for (size_t i = 0; i < row_len; ++i) acc[i] += in[i] * w;
    }
    uint8_t* o = out.row(yy);
    for (size_t i = 0; i < row_len; ++i) o[i] = Clip8(acc[i]);
  }
  return out;
}

}  // namespace

Pixels Resample(const Pixels& src, int width, int height) {
  const bool horizontal = width != src.width;
  const bool vertical = height != src.height;
  if (!horizontal && !vertical) return src;
  if (!vertical) return Horizontal(src, width);
  if (!horizontal) return Vertical(src, height);
  return Vertical(Horizontal(src, width), height);
}

}  // namespace nightshift::image
