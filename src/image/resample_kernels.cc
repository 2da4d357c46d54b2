#include "image/resample_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nightshift::image::kernels {
namespace {

constexpr int32_t kRound = 1 << (kPrecisionBits - 1);

double Triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

inline uint8_t Clip8(int32_t v) {
  return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255));
}

// Bilinear weights are never negative, and at most 1 << kPrecisionBits, so
// both halves fit int16 (hi <= 2048, lo < 2048).
int16_t High(int32_t w) {
  return static_cast<int16_t>(w >> kHalfBits);
}
int16_t Low(int32_t w) {
  return static_cast<int16_t>(w & ((1 << kHalfBits) - 1));
}

void ComputePairWeights(Taps* t) {
  t->pairs = (t->ksize + 1) / 2;
  const size_t out_size = t->first.size();
  t->pair_weights.assign(out_size * t->pairs * 16, 0);
  for (size_t xx = 0; xx < out_size; ++xx) {
    const int32_t* k = &t->weights[xx * t->ksize];
    for (int j = 0; j < t->pairs; ++j) {
      int16_t* q = &t->pair_weights[(xx * t->pairs + j) * 16];
      const int32_t w0 = k[2 * j];
      const int32_t w1 = 2 * j + 1 < t->ksize ? k[2 * j + 1] : 0;
      for (int c = 0; c < 3; ++c) {  // lanes 6, 7 stay 0: the byte after the pair
        q[2 * c] = High(w0);
        q[2 * c + 1] = High(w1);
        q[8 + 2 * c] = Low(w0);
        q[8 + 2 * c + 1] = Low(w1);
      }
    }
  }
}

// The AVX2 layout: see Taps::neighbour_weights.
void ComputeNeighbourWeights(Taps* t) {
  const size_t out_size = t->first.size();
  const int max_count = *std::max_element(t->count.begin(), t->count.end());
  t->groups = std::max(1, (max_count + 4) / 5);
  if (out_size < 2) return;
  t->neighbour_weights.assign((out_size - 1) * t->groups * 3 * 32, 0);
  for (size_t xx = 0; xx + 1 < out_size; ++xx) {
    for (int g = 0; g < t->groups; ++g) {
      for (int j = 0; j < 3; ++j) {
        int16_t* q = &t->neighbour_weights[((xx * t->groups + g) * 3 + j) * 32];
        for (size_t n = 0; n < 2; ++n) {
          const int32_t* k = &t->weights[(xx + n) * t->ksize];
          const int tap = 5 * g + 2 * j;
          const int32_t w0 = tap < t->count[xx + n] ? k[tap] : 0;
          const int32_t w1 = j < 2 && tap + 1 < t->count[xx + n] ? k[tap + 1] : 0;
          for (int c = 0; c < 3; ++c) {
            q[8 * n + 2 * c] = High(w0);
            q[8 * n + 2 * c + 1] = High(w1);
            q[16 + 8 * n + 2 * c] = Low(w0);
            q[16 + 8 * n + 2 * c + 1] = Low(w1);
          }
        }
      }
    }
  }
}

// The AVX-512 layout: see Taps::lane_weights. Left empty where some 4
// neighbours' taps do not fit one 64-byte load.
void ComputeLaneWeights(Taps* t) {
  const size_t out_size = t->first.size();
  for (size_t xx = 0; xx < out_size; ++xx) {  // the row's last quads are partial
    const size_t last = std::min(xx + 3, out_size - 1);
    if (3 * (t->first[last] - t->first[xx]) + 15 > 64) return;
  }
  const size_t plane = out_size * 8;
  // Padded by 3 pixels: a partial quad of the last pixels loads 4 pixels'.
  t->lane_weights.assign(plane * t->groups * 6 + 3 * 8, 0);
  t->lane_spread.assign(out_size * 64, 0);
  for (size_t xx = 0; xx < out_size; ++xx) {
    const int32_t* k = &t->weights[xx * t->ksize];
    for (int g = 0; g < t->groups; ++g) {
      for (int j = 0; j < 3; ++j) {
        const int tap = 5 * g + 2 * j;
        const int32_t w0 = tap < t->count[xx] ? k[tap] : 0;
        const int32_t w1 = j < 2 && tap + 1 < t->count[xx] ? k[tap + 1] : 0;
        int16_t* hi = &t->lane_weights[((g * 3 + j) * 2) * plane + xx * 8];
        int16_t* lo = hi + plane;
        for (int c = 0; c < 3; ++c) {
          hi[2 * c] = High(w0);
          hi[2 * c + 1] = High(w1);
          lo[2 * c] = Low(w0);
          lo[2 * c + 1] = Low(w1);
        }
      }
    }
    for (size_t n = 0; n < 4 && xx + n < out_size; ++n) {
      const int offset = 3 * (t->first[xx + n] - t->first[xx]);
      std::memset(&t->lane_spread[xx * 64 + n * 16], offset, 16);
    }
  }
}

#if defined(__SSE2__)

// (hi << 11) + lo, rounded and shifted as Pillow does, saturated to 0..255
// by the packs (Pillow's clip8).
inline __m128i Finish(__m128i hi, __m128i lo) {
  const __m128i v =
      _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(hi, kHalfBits), lo), _mm_set1_epi32(kRound));
  return _mm_srai_epi32(v, kPrecisionBits);
}

inline __m128i Load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm_cvtsi32_si128(v);
}

// One RGB output pixel from `pairs` tap pairs starting at source pixel `p`.
// Reads 3 * 2 * pairs + 1 bytes from p.
inline void HorizontalPixel3(const uint8_t* p, const int16_t* w, int pairs, uint8_t* out) {
  const __m128i zero = _mm_setzero_si128();
  __m128i hi = zero, lo = zero;
  for (int j = 0; j < pairs; ++j, p += 6, w += 16) {
    // R0 G0 B0 R1 and R1 G1 B1 R2 interleaved: R0 R1 G0 G1 B0 B1 (R1 R2).
    const __m128i ab = _mm_unpacklo_epi8(_mm_unpacklo_epi8(Load4(p), Load4(p + 3)), zero);
    hi =
        _mm_add_epi32(hi, _mm_madd_epi16(ab, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w))));
    lo = _mm_add_epi32(
        lo, _mm_madd_epi16(ab, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8))));
  }
  __m128i v = Finish(hi, lo);
  v = _mm_packus_epi16(_mm_packs_epi32(v, v), zero);
  const int32_t rgb = _mm_cvtsi128_si32(v);
  std::memcpy(out, &rgb, 3);
}

// 16 output bytes from row pairs (VerticalPairs): each pair's bytes are
// interleaved so one pmaddwd weighs both rows.
inline void Vertical16(const uint8_t* rows, const VerticalPairs& v, uint8_t* out) {
  const __m128i zero = _mm_setzero_si128();
  __m128i hi0 = zero, hi1 = zero, hi2 = zero, hi3 = zero;
  __m128i lo0 = zero, lo1 = zero, lo2 = zero, lo3 = zero;
  for (size_t j = 0; j < v.offsets.size(); ++j) {
    const __m128i whi = _mm_set1_epi32(v.high[j]);
    const __m128i wlo = _mm_set1_epi32(v.low[j]);
    const __m128i ra = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + v.offsets[j][0]));
    const __m128i rb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + v.offsets[j][1]));
    const __m128i l8 = _mm_unpacklo_epi8(ra, rb);
    const __m128i h8 = _mm_unpackhi_epi8(ra, rb);
    const __m128i q0 = _mm_unpacklo_epi8(l8, zero);
    const __m128i q1 = _mm_unpackhi_epi8(l8, zero);
    const __m128i q2 = _mm_unpacklo_epi8(h8, zero);
    const __m128i q3 = _mm_unpackhi_epi8(h8, zero);
    hi0 = _mm_add_epi32(hi0, _mm_madd_epi16(q0, whi));
    lo0 = _mm_add_epi32(lo0, _mm_madd_epi16(q0, wlo));
    hi1 = _mm_add_epi32(hi1, _mm_madd_epi16(q1, whi));
    lo1 = _mm_add_epi32(lo1, _mm_madd_epi16(q1, wlo));
    hi2 = _mm_add_epi32(hi2, _mm_madd_epi16(q2, whi));
    lo2 = _mm_add_epi32(lo2, _mm_madd_epi16(q2, wlo));
    hi3 = _mm_add_epi32(hi3, _mm_madd_epi16(q3, whi));
    lo3 = _mm_add_epi32(lo3, _mm_madd_epi16(q3, wlo));
  }
  const __m128i w01 = _mm_packs_epi32(Finish(hi0, lo0), Finish(hi1, lo1));
  const __m128i w23 = _mm_packs_epi32(Finish(hi2, lo2), Finish(hi3, lo3));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(w01, w23));
}

#endif  // __SSE2__

template <int kChannels>
void HorizontalPixelScalar(const uint8_t* p, const int32_t* k, int count, uint8_t* out) {
  int32_t ss[kChannels];
  for (int c = 0; c < kChannels; ++c) ss[c] = kRound;
  for (int x = 0; x < count; ++x, p += kChannels) {
    for (int c = 0; c < kChannels; ++c) ss[c] += p[c] * k[x];
  }
  for (int c = 0; c < kChannels; ++c) out[c] = Clip8(ss[c]);
}

}  // namespace

void HorizontalPixel3Scalar(const uint8_t* p, const int32_t* weights, int count, uint8_t* out) {
  HorizontalPixelScalar<3>(p, weights, count, out);
}

namespace {

template <int kChannels>
void HorizontalScalar(const uint8_t* in, const Taps& t, int x0, int width, uint8_t* out) {
  for (int xx = x0; xx < x0 + width; ++xx, out += kChannels) {
    HorizontalPixelScalar<kChannels>(in + static_cast<size_t>(t.first[xx]) * kChannels,
                                     &t.weights[static_cast<size_t>(xx) * t.ksize], t.count[xx],
                                     out);
  }
}

}  // namespace

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
  ComputePairWeights(&t);
  if (HasAvx2()) ComputeNeighbourWeights(&t);
  if (HasAvx512() && !t.neighbour_weights.empty()) ComputeLaneWeights(&t);
  return t;
}

void HorizontalRowScalar(const uint8_t* in, int channels, const Taps& t, int x0, int width,
                         uint8_t* out) {
  if (channels == 3) {
    HorizontalScalar<3>(in, t, x0, width, out);
  } else {
    HorizontalScalar<1>(in, t, x0, width, out);
  }
}

void HorizontalRow(const uint8_t* in, size_t readable, int channels, const Taps& t, int x0,
                   int width, uint8_t* out) {
#if defined(__SSE2__)
  if (channels == 3 && HasAvx512() && !t.lane_weights.empty()) {
    HorizontalRow3Avx512(in, readable, t, x0, width, out);
    return;
  }
  if (channels == 3 && HasAvx2() && !t.neighbour_weights.empty()) {
    HorizontalRow3Avx2(in, readable, t, x0, width, out);
    return;
  }
  if (channels == 3) {
    for (int xx = x0; xx < x0 + width; ++xx, out += 3) {
      const size_t first = static_cast<size_t>(t.first[xx]);
      const int pairs = (t.count[xx] + 1) / 2;
      if (3 * (first + 2 * pairs) + 1 <= readable) {
        HorizontalPixel3(in + 3 * first, &t.pair_weights[static_cast<size_t>(xx) * t.pairs * 16],
                         pairs, out);
      } else {  // the row's (and the image's) last pixels
        HorizontalPixelScalar<3>(in + 3 * first, &t.weights[static_cast<size_t>(xx) * t.ksize],
                                 t.count[xx], out);
      }
    }
    return;
  }
#endif
  (void)readable;
  HorizontalRowScalar(in, channels, t, x0, width, out);
}

void VerticalRowScalar(const uint8_t* rows, size_t stride, const int32_t* weights, int count,
                       size_t len, uint8_t* out) {
  for (size_t i = 0; i < len; ++i) {
    int32_t ss = kRound;
    for (int y = 0; y < count; ++y) ss += rows[static_cast<size_t>(y) * stride + i] * weights[y];
    out[i] = Clip8(ss);
  }
}

void VerticalRow(const uint8_t* rows, size_t stride, const int32_t* weights, int count, size_t len,
                 uint8_t* out) {
  size_t i = 0;
#if defined(__SSE2__)
  // Per thread: rebuilt for each output row, allocated once.
  thread_local VerticalPairs pairs;
  pairs.offsets.clear();
  pairs.high.clear();
  pairs.low.clear();
  for (int y = 0; y < count; y += 2) {
    const bool two = y + 1 < count;  // an odd last row pairs with itself, weighed 0
    const int32_t wa = weights[y];
    const int32_t wb = two ? weights[y + 1] : 0;
    const size_t a = static_cast<size_t>(y) * stride;
    pairs.offsets.push_back({a, two ? a + stride : a});
    pairs.high.push_back(static_cast<uint16_t>(High(wa)) | (static_cast<int32_t>(High(wb)) << 16));
    pairs.low.push_back(static_cast<uint16_t>(Low(wa)) | (static_cast<int32_t>(Low(wb)) << 16));
  }
  if (HasAvx2()) i = VerticalRowAvx2(rows, pairs, len, out);
  for (; i + 16 <= len; i += 16) Vertical16(rows + i, pairs, out + i);
#endif
  VerticalRowScalar(rows + i, stride, weights, count, len - i, out + i);
}

void Deinterleave(const uint8_t* in, int n, int channels, uint8_t* planes) {
  if (channels == 1) {
    std::memcpy(planes, in, static_cast<size_t>(n));
    return;
  }
  int x = HasAvx2() ? Deinterleave3Avx2(in, n, planes) : 0;
  for (in += 3 * x; x < n; ++x, in += 3) {
    planes[x] = in[0];
    planes[n + x] = in[1];
    planes[2 * n + x] = in[2];
  }
}

}  // namespace nightshift::image::kernels
