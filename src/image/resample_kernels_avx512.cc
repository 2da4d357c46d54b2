// HorizontalRow for RGB with AVX-512: four output pixels per 512-bit
// register, one per 128-bit lane. One 64-byte load holds the 5-tap group of
// all four (their first taps lie at most 16 pixels apart, which
// ComputeLaneWeights checks), and vpermb (VBMI) spreads each lane's tap
// pairs out of it into the R0 R1 G0 G1 B0 B1 0 0 words that
// Taps::lane_weights weighs with vpdpwssd (VNNI: multiply-add and
// accumulate in one instruction). Same arithmetic as the scalar, SSE2 and
// AVX2 forms (resample_kernels.h), so the same bytes; compiled for AVX-512
// (a GCC target pragma), used only where the CPU has it.
#include <algorithm>
#include <atomic>

#include "image/resample_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nightshift::image::kernels {

#if defined(__x86_64__)

namespace {
std::atomic<bool> avx512_off{false};
}  // namespace

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512vbmi") &&
                          __builtin_cpu_supports("avx512vnni");
  return has && !avx512_off.load(std::memory_order_relaxed) && HasAvx2();
}

void DisableAvx512ForTesting(bool off) {
  avx512_off = off;
}

#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512bw,avx512vl,avx512vbmi,avx512vnni")

namespace {

// Which bytes of a lane vpermb fills (the rest it zeroes): the six of a
// tap pair (words 0-5 low bytes), or the three of the fifth tap (words 0,
// 2, 4).
constexpr __mmask64 kPairBytes = 0x0555055505550555ULL;
constexpr __mmask64 kTap4Bytes = 0x0111011101110111ULL;
// Every 32-bit lane: the zero-masking forms of the intrinsics that g++ 12
// would otherwise give an "undefined" source it warns about.
constexpr __mmask16 kAll = 0xFFFF;

// The byte each lane takes from its pixel's 15 source bytes, before the
// lane's own offset (Taps::lane_spread) is added.
struct LanePatterns {
  __m512i taps01, taps23, tap4;
};

inline LanePatterns MakeLanePatterns() {
  const __m128i p01 = _mm_setr_epi8(0, 0, 3, 0, 1, 0, 4, 0, 2, 0, 5, 0, 0, 0, 0, 0);
  const __m128i p23 = _mm_setr_epi8(6, 0, 9, 0, 7, 0, 10, 0, 8, 0, 11, 0, 0, 0, 0, 0);
  const __m128i p4 = _mm_setr_epi8(12, 0, 0, 0, 13, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0);
  return {_mm512_maskz_broadcast_i32x4(kAll, p01), _mm512_maskz_broadcast_i32x4(kAll, p23),
          _mm512_maskz_broadcast_i32x4(kAll, p4)};
}

// Output pixels xx..xx + 3 as 12 bytes R G B: `src` is pixel xx's first
// tap, `spread` its lanes' offsets, `w` pixel xx's weights in the first of
// Taps::lane_weights' planes (`plane` int16 apart). kGroups: the number of
// 5-tap groups when known at compile time (0: read `groups`).
template <int kGroups>
inline __m128i Pixels4(const uint8_t* src, __m512i spread, const int16_t* w, size_t plane,
                       int groups, const LanePatterns& m) {
  const int n = kGroups > 0 ? kGroups : groups;
  const __m512i i01 = _mm512_add_epi8(m.taps01, spread);
  const __m512i i23 = _mm512_add_epi8(m.taps23, spread);
  const __m512i i4 = _mm512_add_epi8(m.tap4, spread);
  __m512i hi = _mm512_setzero_si512();
  __m512i lo = _mm512_setzero_si512();
  for (int g = 0; g < n; ++g, src += 15, w += 6 * plane) {
    const __m512i v = _mm512_loadu_si512(src);
    const __m512i p0 = _mm512_maskz_permutexvar_epi8(kPairBytes, i01, v);
    const __m512i p1 = _mm512_maskz_permutexvar_epi8(kPairBytes, i23, v);
    const __m512i p2 = _mm512_maskz_permutexvar_epi8(kTap4Bytes, i4, v);
    hi = _mm512_dpwssd_epi32(hi, p0, _mm512_loadu_si512(w));
    lo = _mm512_dpwssd_epi32(lo, p0, _mm512_loadu_si512(w + plane));
    hi = _mm512_dpwssd_epi32(hi, p1, _mm512_loadu_si512(w + 2 * plane));
    lo = _mm512_dpwssd_epi32(lo, p1, _mm512_loadu_si512(w + 3 * plane));
    hi = _mm512_dpwssd_epi32(hi, p2, _mm512_loadu_si512(w + 4 * plane));
    lo = _mm512_dpwssd_epi32(lo, p2, _mm512_loadu_si512(w + 5 * plane));
  }
  // (hi << 11) + lo, rounded and shifted as Pillow does, then clipped to
  // 0..255 (Pillow's clip8) by an unsigned saturating narrowing: the sums are
  // never negative (bilinear weights never are). R G B 0 per pixel, packed
  // to 12 bytes.
  const __m512i s =
      _mm512_add_epi32(_mm512_add_epi32(_mm512_maskz_slli_epi32(kAll, hi, kHalfBits), lo),
                       _mm512_set1_epi32(1 << (kPrecisionBits - 1)));
  const __m128i rgb0 =
      _mm512_maskz_cvtusepi32_epi8(kAll, _mm512_maskz_srai_epi32(kAll, s, kPrecisionBits));
  return _mm_shuffle_epi8(rgb0,
                          _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
}

// Output pixel xx's quad (xx..xx + 3), from the taps' layout.
template <int kGroups>
inline __m128i Quad(const uint8_t* in, const Taps& t, int xx, const LanePatterns& m) {
  const __m512i spread = _mm512_loadu_si512(&t.lane_spread[static_cast<size_t>(xx) * 64]);
  return Pixels4<kGroups>(in + 3 * static_cast<size_t>(t.first[xx]), spread,
                          &t.lane_weights[static_cast<size_t>(xx) * 8], t.first.size() * 8,
                          t.groups, m);
}

// Pixels [xx, stop), stop - xx a multiple of 4, two quads a loop turn (work
// for the core to overlap). 16-byte stores, each overwritten in its last 4
// bytes by the next; the last quad stores its 12 bytes only.
template <int kGroups>
void Quads(const uint8_t* in, const Taps& t, int xx, int stop, uint8_t* out) {
  const LanePatterns m = MakeLanePatterns();
  for (; xx + 8 <= stop; xx += 8, out += 24) {
    const __m128i a = Quad<kGroups>(in, t, xx, m);
    const __m128i b = Quad<kGroups>(in, t, xx + 4, m);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), a);
    if (xx + 8 < stop) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 12), b);
    } else {
      _mm_mask_storeu_epi8(out + 12, 0x0FFF, b);
    }
  }
  if (xx < stop) _mm_mask_storeu_epi8(out, 0x0FFF, Quad<kGroups>(in, t, xx, m));
}

// The first n (1-3) pixels of the quad at xx (which may start anywhere, and
// end past the row: the layout is padded for that).
void Partial(const uint8_t* in, const Taps& t, int xx, int n, uint8_t* out) {
  const __mmask16 bytes = static_cast<__mmask16>((1u << (3 * n)) - 1);
  _mm_mask_storeu_epi8(out, bytes, Quad<0>(in, t, xx, MakeLanePatterns()));
}

}  // namespace

void HorizontalRow3Avx512(const uint8_t* in, size_t readable, const Taps& t, int x0, int width,
                          uint8_t* out) {
  // Quads start at multiples of 4, so that their weight loads never straddle
  // two cache lines; the 1-3 pixels before the first and after the last are
  // partial quads. A quad reads 64 bytes from its first tap per group, and
  // first[] never decreases, so only the row's last quads can reach past
  // `readable` (the end of the image): those go to the AVX2 form.
  const size_t reach = static_cast<size_t>(15 * (t.groups - 1) + 64);
  auto fits = [&](int xx) { return 3 * static_cast<size_t>(t.first[xx]) + reach <= readable; };
  const int end = x0 + width;
  const int start = std::min((x0 + 3) / 4 * 4, end);
  int stop = start + (end - start) / 4 * 4;
  while (stop > start && !fits(stop - 4)) stop -= 4;
  if (start > x0) {
    if (fits(x0)) {
      Partial(in, t, x0, start - x0, out);
    } else {
      HorizontalRow3Avx2(in, readable, t, x0, start - x0, out);
    }
  }
  uint8_t* quads = out + 3 * static_cast<size_t>(start - x0);
  switch (t.groups) {
    case 1: Quads<1>(in, t, start, stop, quads); break;
    case 2: Quads<2>(in, t, start, stop, quads); break;
    default: Quads<0>(in, t, start, stop, quads); break;
  }
  uint8_t* rest = out + 3 * static_cast<size_t>(stop - x0);
  if (end - stop >= 1 && end - stop <= 3 && fits(stop)) {
    Partial(in, t, stop, end - stop, rest);
  } else if (stop < end) {
    HorizontalRow3Avx2(in, readable, t, stop, end - stop, rest);
  }
}

#pragma GCC pop_options

#else

bool HasAvx512() {
  return false;
}

void DisableAvx512ForTesting(bool) {}

void HorizontalRow3Avx512(const uint8_t*, size_t, const Taps&, int, int, uint8_t*) {}

#endif

}  // namespace nightshift::image::kernels
