// The inner loops of resample.cc: Pillow's antialiased bilinear filter
// taps, and one output row of the horizontal and of the vertical pass. Each
// pass has a scalar form (Pillow's own arithmetic: 22-bit fixed-point
// weights, 32-bit sums) and an SSE2 form (every x86-64 has SSE2) that gives
// the same bytes: each weight is split into two 11-bit halves,
// w = hi * 2^11 + lo, so 16-bit multiply-adds (pmaddwd) compute
// sum(p * hi) and sum(p * lo) exactly, and (sum_hi << 11) + sum_lo is
// Pillow's 32-bit sum. AVX2 forms of both passes, and an AVX-512 form of
// the RGB horizontal pass, do the same with wider registers, chosen at run
// time from the CPU. resample_test.cc checks every form agrees with the
// scalar one. Also the vector form of image_transform.cc's normalising
// (NormaliseAvx2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace nightshift::image::kernels {

// Storage whose every allocation starts on a 64-byte boundary (a cache
// line, and an AVX-512 register), also after a copy.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{64}); }
  bool operator==(const CacheLineAllocator&) const { return true; }
};

inline constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS
inline constexpr int kHalfBits = 11;               // the split of a weight for pmaddwd

// The taps of each output pixel along one dimension (Pillow's
// precompute_coeffs + normalize_coeffs_8bpc): the first source index, the
// number of taps, and `ksize` weights per output pixel (zero past `count`).
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
  int ksize = 0;
  // The weights as the SSE2 horizontal pass reads them: per output pixel,
  // `pairs` pairs of taps, each 16 int16 (8 high halves, then 8 low halves,
  // laid out w0 w1 w0 w1 w0 w1 0 0 for an RGB pixel pair).
  std::vector<int16_t> pair_weights;
  int pairs = 0;
  // Where the CPU has AVX2: the weights of every two neighbouring output
  // pixels (xx, xx + 1) in groups of 5 taps (the 15 RGB bytes of one 16-byte
  // load); per group 3 tap pairs (taps 0-1, 2-3, 4 and a zero), each 32
  // int16: the high halves of xx then of xx + 1, then the low halves. One
  // 256-bit multiply-add then weighs a tap pair of both pixels.
  std::vector<int16_t> neighbour_weights;
  int groups = 0;
  // Where the CPU has AVX-512 and every 4 neighbouring output pixels' first
  // taps lie within 16 source pixels (a shrink by up to about 5x): the
  // weights in planes, one per (group, tap pair, half), in that order; each
  // plane holds every output pixel's 8 int16 (w0 w1 w0 w1 w0 w1 0 0), so the
  // weights of any 4 neighbours are one 64-byte load. And per output pixel
  // xx, 64 bytes: 16 times 3 * (first[xx + k] - first[xx]) for k = 0..3,
  // where lane k's taps start in a load from pixel xx's first tap. Both
  // start on a cache line, so the loads of a quad whose first pixel is a
  // multiple of 4 never straddle two.
  std::vector<int16_t, CacheLineAllocator<int16_t>> lane_weights;
  std::vector<uint8_t, CacheLineAllocator<uint8_t>> lane_spread;
};

Taps ComputeTaps(int in_size, int out_size);

// Output pixels [x0, x0 + width) of the horizontal pass over one source row
// `in` of `channels` (1 or 3) channels. `readable`: bytes that may be read
// from `in` (the vector loads of the last pixels read a few bytes past the
// row, which is fine where the next row follows).
void HorizontalRow(const uint8_t* in, size_t readable, int channels, const Taps& t, int x0,
                   int width, uint8_t* out);

// One output row of the vertical pass: `len` bytes, each the weighted sum
// over `count` source rows starting at `rows` (`stride` bytes apart).
void VerticalRow(const uint8_t* rows, size_t stride, const int32_t* weights, int count, size_t len,
                 uint8_t* out);

// The vertical pass's taps as its vector forms read them: rows in pairs
// (byte offsets from the first row; an odd last row pairs with itself) and
// each pair's weight halves as two int16 in one int32.
struct VerticalPairs {
  std::vector<std::array<size_t, 2>> offsets;
  std::vector<int32_t> high;
  std::vector<int32_t> low;
};

// Whether HorizontalRow uses the AVX2 form (decided once, from the CPU).
bool HasAvx2();
// Tests: run the SSE2 forms on an AVX2 machine (true), or not (false).
void DisableAvx2ForTesting(bool off);

// Whether HorizontalRow uses the AVX-512 form (AVX-512 F, BW, VL, VBMI and
// VNNI; implies HasAvx2()).
bool HasAvx512();
// Tests: run the AVX2 forms on an AVX-512 machine (true), or not (false).
void DisableAvx512ForTesting(bool off);

// The AVX-512 form of HorizontalRow for RGB (resample_kernels_avx512.cc).
// REQUIRES: HasAvx512(), t.lane_weights and t.neighbour_weights filled.
void HorizontalRow3Avx512(const uint8_t* in, size_t readable, const Taps& t, int x0, int width,
                          uint8_t* out);

// The AVX2 form of HorizontalRow for RGB (resample_kernels_avx2.cc).
// REQUIRES: HasAvx2(), t.neighbour_weights filled.
void HorizontalRow3Avx2(const uint8_t* in, size_t readable, const Taps& t, int x0, int width,
                        uint8_t* out);

// The AVX2 part of VerticalRow: whole 32-byte blocks of `len`; returns how
// many bytes it wrote.
size_t VerticalRowAvx2(const uint8_t* rows, const VerticalPairs& pairs, size_t len, uint8_t* out);

// Normalising a plane of bytes: out[x] = (p[x] / 255 - mean) / std in
// float32, the same IEEE operations (division, subtraction, division) as
// numpy's and as image_transform.cc's table, so the same bits. Whole blocks
// of 8 only; returns how many it wrote. REQUIRES: HasAvx2().
int NormaliseAvx2(const uint8_t* p, int n, float mean, float std, float* out);
// Interleaved pixels of `channels` channels into `channels` planes of `n`.
void Deinterleave(const uint8_t* in, int n, int channels, uint8_t* planes);
// Its RGB form for whole blocks of 16 pixels; returns how many it did.
// REQUIRES: HasAvx2().
int Deinterleave3Avx2(const uint8_t* in, int n, uint8_t* planes);

// The scalar forms (the reference the tests compare the vector forms with).
void HorizontalPixel3Scalar(const uint8_t* p, const int32_t* weights, int count, uint8_t* out);
void HorizontalRowScalar(const uint8_t* in, int channels, const Taps& t, int x0, int width,
                         uint8_t* out);
void VerticalRowScalar(const uint8_t* rows, size_t stride, const int32_t* weights, int count,
                       size_t len, uint8_t* out);

}  // namespace nightshift::image::kernels
