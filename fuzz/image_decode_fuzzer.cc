// libFuzzer target: untrusted bytes -> the image step's decode path
// (ReadImageHeader, DecodeImage, Render: decode, resample, normalise).
//
// Input layout: byte 0 picks the transform (bits 0-1 resize mode, bit 2
// gray, bit 3 NHWC, bits 4-7 the output size, 1..16 x 1..16 via byte 1);
// the rest is the encoded image. Errors are expected; crashes, sanitizer
// reports, hangs and leaks are bugs. A pixel limit of 4 M keeps a bomb from
// becoming an OOM instead of the error it must be.
//
// Properties checked (abort = bug): Render fills exactly elements() floats
// (a guard float after them is untouched); on failure they are all zero and
// the status is InvalidData; on success every value is finite.
// NS_FUZZ_VERBOSE=1 prints each input's outcome.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "image/image_decoder.h"
#include "image/image_transform.h"

namespace {

using nightshift::Code;
using namespace nightshift::image;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "image_decode_fuzzer: property violated: %s\n", what);
  std::abort();
}

ImageTransform TransformFor(uint8_t a, uint8_t b) {
  ImageTransform t;
  t.resize = static_cast<ResizeMode>(std::min(a & 3, 2));
  t.color = (a & 4) ? ColorOrder::kGray : ((b & 0x80) ? ColorOrder::kBgr : ColorOrder::kRgb);
  t.layout = (a & 8) ? Layout::kNhwc : Layout::kNchw;
  t.height = 1 + (a >> 4);
  t.width = 1 + (b & 0x0f);
  for (int c = 0; c < t.channels(); ++c) {
    t.mean.push_back(0.5f);
    t.std.push_back(0.25f);
  }
  t.max_pixels = 4'000'000;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const ImageTransform t = TransformFor(data[0], data[1]);
  std::span<const uint8_t> bytes(data + 2, size - 2);
  // The header alone, as the decoder's first step.
  auto header = ReadImageHeader(bytes);
  if (header.has_value()) {
    DecodeRequest req;
    req.channels = t.channels();
    req.max_pixels = t.max_pixels;
    req.min_width = 2 * t.width;
    req.min_height = 2 * t.height;
    auto px = DecodeImage(bytes, *header, req);
    if (px.has_value() &&
        px->data.size() != static_cast<size_t>(px->width) * px->height * px->channels) {
      Fail("decoded pixel buffer does not match its dimensions");
    }
  }
  constexpr float kGuard = 12345.0f;
  std::vector<float> out(static_cast<size_t>(t.elements()) + 1, -1.0f);
  out.back() = kGuard;
  nightshift::Status s = Render(bytes, t, out.data());
  if (out.back() != kGuard) Fail("Render wrote past the row");
  for (int64_t i = 0; i < t.elements(); ++i) {
    if (!s.ok() && out[i] != 0.0f) Fail("a failed Render left non-zero values");
    if (s.ok() && !std::isfinite(out[i])) Fail("a successful Render gave a non-finite value");
  }
  if (!s.ok() && s.code() != Code::kInvalidData) Fail("a failure that is not InvalidData");
  static const bool verbose = std::getenv("NS_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s\n", s.ok() ? "ok" : s.message().c_str());
  return 0;
}
