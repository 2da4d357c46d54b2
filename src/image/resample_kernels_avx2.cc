// HorizontalRow for RGB with AVX2, two output pixels per 256-bit register
// (pixel xx in the low 128 bits, xx + 1 in the high), two such pairs per
// loop turn, the common 1- and 2-group filters unrolled: one 16-byte load
// holds 5 source pixels, and pshufb spreads two tap pairs of it into the
// R0 R1 G0 G1 B0 B1 0 0 lanes that Taps::pair_weights weighs. Same
// arithmetic as the scalar and SSE2 forms (resample_kernels.h); compiled
// for AVX2 (a GCC target pragma), used only where the CPU has it.
#include <atomic>
#include <cstring>

#include "image/resample_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nightshift::image::kernels {

#if defined(__x86_64__)

namespace {
std::atomic<bool> avx2_off{false};
}  // namespace

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has && !avx2_off.load(std::memory_order_relaxed);
}

void DisableAvx2ForTesting(bool off) {
  avx2_off = off;
}

// Everything from here to the pop is compiled for AVX2 (and called only
// where HasAvx2()).
#pragma GCC push_options
#pragma GCC target("avx2")

namespace {

inline __m256i Load2(const uint8_t* a, const uint8_t* b) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}

// (hi << 11) + lo, rounded and shifted as Pillow does (the packs that
// follow saturate to 0..255: Pillow's clip8).
inline __m256i Finish(__m256i hi, __m256i lo) {
  const __m256i v = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(hi, kHalfBits), lo),
                                     _mm256_set1_epi32(1 << (kPrecisionBits - 1)));
  return _mm256_srai_epi32(v, kPrecisionBits);
}

// The pshufb masks that spread one 16-byte load (5 RGB source pixels) into
// tap pairs 0-1 (bytes 0-5), 2-3 (6-11) and 4 (12-14), zero-extended and
// interleaved per channel, in each 128-bit lane.
struct TapShuffles {
  __m256i taps01, taps23, tap4;
};

inline TapShuffles MakeTapShuffles() {
  return {_mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1,
                           1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1),
          _mm256_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1, 6, -1, 9, -1,
                           7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1),
          _mm256_setr_epi8(12, -1, -1, -1, 13, -1, -1, -1, 14, -1, -1, -1, -1, -1, -1, -1, 12, -1,
                           -1, -1, 13, -1, -1, -1, 14, -1, -1, -1, -1, -1, -1, -1)};
}

// Output pixels xx and xx + 1, whose taps start at source pixels a and b:
// Pillow's rounded sums as bytes R G B 0 in the low and high halves.
// kGroups: the number of 5-tap groups when known at compile time (0: read
// `groups`), so that the common one- and two-group filters run unrolled.
template <int kGroups>
inline __m256i Pixels2(const uint8_t* a, const uint8_t* b, const int16_t* w, int groups,
                       const TapShuffles& m) {
  const int n = kGroups > 0 ? kGroups : groups;
  __m256i hi = _mm256_setzero_si256();
  __m256i lo = _mm256_setzero_si256();
  for (int g = 0; g < n; ++g, a += 15, b += 15, w += 96) {
    const __m256i v = Load2(a, b);
    const auto* wv = reinterpret_cast<const __m256i*>(w);
    const __m256i p0 = _mm256_shuffle_epi8(v, m.taps01);
    const __m256i p1 = _mm256_shuffle_epi8(v, m.taps23);
    const __m256i p2 = _mm256_shuffle_epi8(v, m.tap4);
    // Spelled out: g++ -O2 keeps a loop over an array of vectors in memory.
    const __m256i h = _mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_loadu_si256(wv)),
                                       _mm256_madd_epi16(p1, _mm256_loadu_si256(wv + 2)));
    const __m256i l = _mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_loadu_si256(wv + 1)),
                                       _mm256_madd_epi16(p1, _mm256_loadu_si256(wv + 3)));
    hi = _mm256_add_epi32(hi,
                          _mm256_add_epi32(h, _mm256_madd_epi16(p2, _mm256_loadu_si256(wv + 4))));
    lo = _mm256_add_epi32(lo,
                          _mm256_add_epi32(l, _mm256_madd_epi16(p2, _mm256_loadu_si256(wv + 5))));
  }
  const __m256i s = Finish(hi, lo);
  return _mm256_packus_epi16(_mm256_packs_epi32(s, s), s);
}

// Stores the pixel pair `v` (R G B 0 in each half) at `out`: 4 bytes each,
// the 4th being the next pixel's first (written next); the second pixel
// writes 3 when `exact` (nothing of the row follows it).
inline void Store2(__m256i v, bool exact, uint8_t* out) {
  const int32_t p = _mm256_cvtsi256_si32(v);
  const int32_t q = _mm256_extract_epi32(v, 4);
  std::memcpy(out, &p, 4);
  if (exact) {
    std::memcpy(out + 3, &q, 3);
  } else {
    std::memcpy(out + 3, &q, 4);
  }
}

// Pairs of output pixels [xx, stop) (stop - xx even) into `out`, 6 bytes a
// pair, two pairs a turn (independent work for the core to overlap); the
// last pair's store is exact when `last_exact`.
template <int kGroups>
void Pairs(const uint8_t* in, const int* first, const int16_t* weights, int groups, int xx,
           int stop, bool last_exact, uint8_t* out) {
  const TapShuffles m = MakeTapShuffles();
  const size_t step = static_cast<size_t>(groups) * 96;
  const int16_t* w = weights + static_cast<size_t>(xx) * step;
  auto pair = [&](int x, const int16_t* wx) {
    return Pixels2<kGroups>(in + 3 * static_cast<size_t>(first[x]),
                            in + 3 * static_cast<size_t>(first[x + 1]), wx, groups, m);
  };
  for (; xx + 4 < stop; xx += 4, out += 12, w += 4 * step) {
    const __m256i v = pair(xx, w);
    const __m256i u = pair(xx + 2, w + 2 * step);
    Store2(v, false, out);
    Store2(u, false, out + 6);
  }
  for (; xx < stop; xx += 2, out += 6, w += 2 * step) {
    Store2(pair(xx, w), last_exact && xx + 2 == stop, out);
  }
}

}  // namespace

void HorizontalRow3Avx2(const uint8_t* in, size_t readable, const Taps& t, int x0, int width,
                        uint8_t* out) {
  // Bytes read from a pixel's first tap: 16 from each group's load. first[]
  // never decreases, so only the row's last pairs can reach past `readable`
  // (the end of the image): those go to the scalar form.
  const size_t reach = static_cast<size_t>(15 * (t.groups - 1) + 16);
  const int end = x0 + width;
  int stop = x0 + (width / 2) * 2;
  while (stop > x0 && 3 * static_cast<size_t>(t.first[stop - 1]) + reach > readable) stop -= 2;
  const int16_t* w = t.neighbour_weights.data();
  const bool exact = stop == end;
  switch (t.groups) {
    case 1: Pairs<1>(in, t.first.data(), w, 1, x0, stop, exact, out); break;
    case 2: Pairs<2>(in, t.first.data(), w, 2, x0, stop, exact, out); break;
    default: Pairs<0>(in, t.first.data(), w, t.groups, x0, stop, exact, out); break;
  }
  out += 3 * static_cast<size_t>(stop - x0);
  for (int xx = stop; xx < end; ++xx, out += 3) {
    HorizontalPixel3Scalar(in + 3 * static_cast<size_t>(t.first[xx]),
                           &t.weights[static_cast<size_t>(xx) * t.ksize], t.count[xx], out);
  }
}

namespace {

// 32 output bytes; see Vertical16 in resample_kernels.cc. The unpacks and
// packs work within each 128-bit half, and the packs undo the unpacks' order.
inline void Vertical32(const uint8_t* rows, const VerticalPairs& v, uint8_t* out) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i hi0 = zero, hi1 = zero, hi2 = zero, hi3 = zero;
  __m256i lo0 = zero, lo1 = zero, lo2 = zero, lo3 = zero;
  for (size_t j = 0; j < v.offsets.size(); ++j) {
    const __m256i whi = _mm256_set1_epi32(v.high[j]);
    const __m256i wlo = _mm256_set1_epi32(v.low[j]);
    const __m256i ra = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + v.offsets[j][0]));
    const __m256i rb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + v.offsets[j][1]));
    const __m256i l8 = _mm256_unpacklo_epi8(ra, rb);
    const __m256i h8 = _mm256_unpackhi_epi8(ra, rb);
    const __m256i q0 = _mm256_unpacklo_epi8(l8, zero);
    const __m256i q1 = _mm256_unpackhi_epi8(l8, zero);
    const __m256i q2 = _mm256_unpacklo_epi8(h8, zero);
    const __m256i q3 = _mm256_unpackhi_epi8(h8, zero);
    hi0 = _mm256_add_epi32(hi0, _mm256_madd_epi16(q0, whi));
    lo0 = _mm256_add_epi32(lo0, _mm256_madd_epi16(q0, wlo));
    hi1 = _mm256_add_epi32(hi1, _mm256_madd_epi16(q1, whi));
    lo1 = _mm256_add_epi32(lo1, _mm256_madd_epi16(q1, wlo));
    hi2 = _mm256_add_epi32(hi2, _mm256_madd_epi16(q2, whi));
    lo2 = _mm256_add_epi32(lo2, _mm256_madd_epi16(q2, wlo));
    hi3 = _mm256_add_epi32(hi3, _mm256_madd_epi16(q3, whi));
    lo3 = _mm256_add_epi32(lo3, _mm256_madd_epi16(q3, wlo));
  }
  const __m256i w01 = _mm256_packs_epi32(Finish(hi0, lo0), Finish(hi1, lo1));
  const __m256i w23 = _mm256_packs_epi32(Finish(hi2, lo2), Finish(hi3, lo3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_packus_epi16(w01, w23));
}

}  // namespace

size_t VerticalRowAvx2(const uint8_t* rows, const VerticalPairs& pairs, size_t len, uint8_t* out) {
  size_t i = 0;
  for (; i + 32 <= len; i += 32) Vertical32(rows + i, pairs, out + i);
  return i;
}

int NormaliseAvx2(const uint8_t* p, int n, float mean, float std, float* out) {
  const __m256 k255 = _mm256_set1_ps(255.0f);
  const __m256 m = _mm256_set1_ps(mean);
  const __m256 s = _mm256_set1_ps(std);
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + x));
    const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    _mm256_storeu_ps(out + x, _mm256_div_ps(_mm256_sub_ps(_mm256_div_ps(v, k255), m), s));
  }
  return x;
}

namespace {

// One channel's 16 bytes out of 48 interleaved ones (a, b, c), by masks.
inline __m128i Gather3(__m128i a, __m128i b, __m128i c, __m128i m0, __m128i m1, __m128i m2) {
  return _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, m0), _mm_shuffle_epi8(b, m1)),
                      _mm_shuffle_epi8(c, m2));
}

}  // namespace

int Deinterleave3Avx2(const uint8_t* in, int n, uint8_t* planes) {
  // Bytes of each channel in three 16-byte loads (48 bytes: 16 pixels),
  // gathered in order; -1 leaves a zero for another load's bytes.
  const __m128i r0 = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i r1 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1);
  const __m128i r2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13);
  const __m128i g0 = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i g1 = _mm_setr_epi8(-1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1);
  const __m128i g2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14);
  const __m128i b0 = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i b1 = _mm_setr_epi8(-1, -1, -1, -1, -1, 1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1);
  const __m128i b2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15);
  int x = 0;
  for (; x + 16 <= n; x += 16, in += 48) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 32));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(planes + x), Gather3(a, b, c, r0, r1, r2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(planes + n + x), Gather3(a, b, c, g0, g1, g2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(planes + 2 * n + x), Gather3(a, b, c, b0, b1, b2));
  }
  return x;
}

#pragma GCC pop_options

#else

int Deinterleave3Avx2(const uint8_t*, int, uint8_t*) {
  return 0;
}

int NormaliseAvx2(const uint8_t*, int, float, float, float*) {
  return 0;
}

bool HasAvx2() {
  return false;
}

void DisableAvx2ForTesting(bool) {}

void HorizontalRow3Avx2(const uint8_t*, size_t, const Taps&, int, int, uint8_t*) {}

size_t VerticalRowAvx2(const uint8_t*, const VerticalPairs&, size_t, uint8_t*) {
  return 0;
}

#endif

}  // namespace nightshift::image::kernels
