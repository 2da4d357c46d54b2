// JPEG through TurboJPEG (libjpeg-turbo 2.1). Warnings (a truncated stream,
// a corrupt marker) stop decoding: libjpeg would otherwise fill the rest of
// the image with grey and call it a success.
#include <fmt/format.h>
#include <turbojpeg.h>

#include <memory>

#include "image/codecs.h"

namespace nightshift::image::codec {
namespace {

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

// One decompressor per thread: creating one costs allocations per image.
// nullptr when TurboJPEG cannot make one (out of memory).
tjhandle ThreadDecompressor() {
  thread_local TjHandle handle(tjInitDecompress());
  return handle.get();
}

Status JpegError(tjhandle h, std::string_view what) {
  return Status(Code::kInvalidData, fmt::format("corrupt or truncated JPEG ({}: {})", what,
                                                h == nullptr ? "no decoder" : tjGetErrorStr2(h)));
}

// The smallest DCT scaling factor (1/8, 1/4, 1/2 or 1) that keeps the image
// at least `min_w` x `min_h`.
tjscalingfactor ChooseScale(int width, int height, int min_w, int min_h) {
  tjscalingfactor best{1, 1};
  if (min_w <= 0 || min_h <= 0) return best;
  for (int denom : {2, 4, 8}) {
    const tjscalingfactor f{1, denom};
    if (TJSCALED(width, f) >= min_w && TJSCALED(height, f) >= min_h) best = f;
  }
  return best;
}

struct JpegInfo {
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
};

Result<JpegInfo> Header(tjhandle h, std::span<const uint8_t> bytes) {
  if (h == nullptr) return Error(JpegError(h, "header"));
  JpegInfo info;
  if (tjDecompressHeader3(h, bytes.data(), static_cast<unsigned long>(bytes.size()), &info.width,
                          &info.height, &info.subsamp, &info.colorspace) != 0) {
    return Error(JpegError(h, "header"));
  }
  // A stream cut before its frame header can pass with no size at all.
  if (info.width <= 0 || info.height <= 0) {
    return Error(Code::kInvalidData, "corrupt or truncated JPEG (header: no frame size)");
  }
  return info;
}

}  // namespace

Result<ImageHeader> JpegHeader(std::span<const uint8_t> bytes) {
  NS_ASSIGN_OR_RETURN(JpegInfo info, Header(ThreadDecompressor(), bytes));
  return ImageHeader{ImageFormat::kJpeg, info.width, info.height};
}

Status DecodeJpegInto(std::span<const uint8_t> bytes, const DecodeRequest& request, Pixels* out) {
  tjhandle h = ThreadDecompressor();
  NS_ASSIGN_OR_RETURN(JpegInfo info, Header(h, bytes));
  NS_RETURN_IF_ERROR(
      CheckPixelLimit({ImageFormat::kJpeg, info.width, info.height}, request.max_pixels));
  const tjscalingfactor f =
      ChooseScale(info.width, info.height, request.min_width, request.min_height);
  // A gray JPEG asked for gray decodes as gray; everything else as RGB (gray
  // is then made as PIL makes it, from RGB).
  const bool gray = request.channels == 1 && info.colorspace == TJCS_GRAY;
  out->width = TJSCALED(info.width, f);
  out->height = TJSCALED(info.height, f);
  out->channels = gray ? 1 : 3;
  out->data.resize(static_cast<size_t>(out->width) * out->height * out->channels);
  if (tjDecompress2(h, bytes.data(), static_cast<unsigned long>(bytes.size()), out->data.data(),
                    out->width, 0, out->height, gray ? TJPF_GRAY : TJPF_RGB,
                    TJFLAG_STOPONWARNING) != 0) {
    return JpegError(h, "data");
  }
  return Status::Ok();
}

Result<Pixels> DecodeJpeg(std::span<const uint8_t> bytes, const DecodeRequest& request) {
  Pixels out;
  NS_RETURN_IF_ERROR(DecodeJpegInto(bytes, request, &out));
  return out;
}

}  // namespace nightshift::image::codec
