// JPEG headers through TurboJPEG (libjpeg-turbo 2.1); the pixels are
// decoded in jpeg_window.cc.
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
// Its handle is nullptr when TurboJPEG cannot make one (out of memory).
TjHandle& ThreadDecompressor() {
  thread_local TjHandle handle(tjInitDecompress());
  return handle;
}

Status JpegError(tjhandle h, std::string_view what) {
  return Status(Code::kInvalidData, fmt::format("corrupt or truncated JPEG ({}: {})", what,
                                                h == nullptr ? "no decoder" : tjGetErrorStr2(h)));
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
  TjHandle& handle = ThreadDecompressor();
  auto info = Header(handle.get(), bytes);
  if (!info.has_value()) {
    // TurboJPEG 2.1 leaves a handle whose header failed mid-parse in that
    // state: the next file's header would fail with this one's error. A new
    // handle for the next file.
    handle.reset(tjInitDecompress());
    return Error(info.error());
  }
  return ImageHeader{ImageFormat::kJpeg, info->width, info->height};
}

// DecodeJpegInto is in jpeg_window.cc (the libjpeg API, for cropped decodes).

Result<Pixels> DecodeJpeg(std::span<const uint8_t> bytes, const DecodeRequest& request) {
  Pixels out;
  NS_RETURN_IF_ERROR(DecodeJpegInto(bytes, request, &out));
  return out;
}

}  // namespace nightshift::image::codec
