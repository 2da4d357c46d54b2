// WebP through libwebp's advanced decoding API, for its status codes; an
// animated WebP's first frame through its demuxer's animation decoder.
#include <fmt/format.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include <memory>

#include "image/codecs.h"

namespace nightshift::image::codec {
namespace {

std::string_view StatusText(VP8StatusCode code) {
  switch (code) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
  }
  return "unknown error";
}

Status WebpError(std::string_view what, VP8StatusCode code) {
  return Status(Code::kInvalidData,
                fmt::format("corrupt or truncated WebP ({}: {})", what, StatusText(code)));
}

struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

// An animated WebP as Pillow opens it: its first frame composed on the
// canvas (transparent where the frame does not cover it) as RGBA, the alpha
// then dropped as convert("RGB") drops it.
Result<Pixels> DecodeFirstFrame(std::span<const uint8_t> bytes) {
  WebPAnimDecoderOptions options;
  if (WebPAnimDecoderOptionsInit(&options) == 0) {
    return Error(Code::kInternal, "libwebp: version mismatch between header and library");
  }
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  const WebPData data{bytes.data(), bytes.size()};
  std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> decoder(WebPAnimDecoderNew(&data, &options));
  WebPAnimInfo info;
  if (decoder == nullptr || WebPAnimDecoderGetInfo(decoder.get(), &info) == 0) {
    return Error(Code::kInvalidData, "corrupt or truncated animated WebP (header)");
  }
  uint8_t* canvas = nullptr;
  int timestamp = 0;
  if (WebPAnimDecoderGetNext(decoder.get(), &canvas, &timestamp) == 0) {
    return Error(Code::kInvalidData, "corrupt or truncated animated WebP (first frame)");
  }
  Pixels out{static_cast<int>(info.canvas_width), static_cast<int>(info.canvas_height), 3, {}};
  const size_t n = static_cast<size_t>(out.width) * out.height;
  out.data.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) out.data[i * 3 + c] = canvas[i * 4 + c];
  }
  return out;
}

}  // namespace

Result<ImageHeader> WebpHeader(std::span<const uint8_t> bytes) {
  WebPBitstreamFeatures f;
  const VP8StatusCode code = WebPGetFeatures(bytes.data(), bytes.size(), &f);
  if (code != VP8_STATUS_OK) return Error(WebpError("header", code));
  return ImageHeader{ImageFormat::kWebp, f.width, f.height};
}

Result<Pixels> DecodeWebp(std::span<const uint8_t> bytes, int64_t max_pixels) {
  WebPDecoderConfig config;
  if (WebPInitDecoderConfig(&config) == 0) {
    return Error(Code::kInternal, "libwebp: version mismatch between header and library");
  }
  VP8StatusCode code = WebPGetFeatures(bytes.data(), bytes.size(), &config.input);
  if (code != VP8_STATUS_OK) return Error(WebpError("header", code));
  NS_RETURN_IF_ERROR(
      CheckPixelLimit({ImageFormat::kWebp, config.input.width, config.input.height}, max_pixels));
  if (config.input.has_animation) return DecodeFirstFrame(bytes);
  Pixels out{config.input.width, config.input.height, 3, {}};
  out.data.resize(static_cast<size_t>(out.width) * out.height * 3);
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = out.data.data();
  config.output.u.RGBA.stride = out.width * 3;
  config.output.u.RGBA.size = out.data.size();
  code = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);  // no-op for external memory, but the API asks for it
  if (code != VP8_STATUS_OK) return Error(WebpError("data", code));
  return out;
}

}  // namespace nightshift::image::codec
