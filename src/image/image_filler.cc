#include "image/image_filler.h"

#include <fmt/format.h>

#include <algorithm>

#include "image/image_file.h"

namespace nightshift::image {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

ImageTransform TransformOf(const ImageSpec& spec) {
  ImageTransform t;
  t.height = static_cast<int>(spec.height);
  t.width = static_cast<int>(spec.width);
  t.resize = spec.resize == "shorter_side" ? ResizeMode::kShorterSide
             : spec.resize == "letterbox"  ? ResizeMode::kLetterbox
                                           : ResizeMode::kStretch;
  t.color = spec.color == "bgr"    ? ColorOrder::kBgr
            : spec.color == "gray" ? ColorOrder::kGray
                                   : ColorOrder::kRgb;
  t.layout = spec.layout == "nhwc" ? Layout::kNhwc : Layout::kNchw;
  const size_t ch = static_cast<size_t>(t.channels());
  for (size_t c = 0; c < ch; ++c) {
    t.mean.push_back(spec.mean.empty() ? 0.0f : static_cast<float>(spec.mean[c]));
    t.std.push_back(spec.std.empty() ? 1.0f : static_cast<float>(spec.std[c]));
  }
  t.max_pixels = spec.max_pixels;
  t.reducing_gap = static_cast<int>(std::min<int64_t>(spec.reducing_gap, 1 << 16));
  return t;
}

ImageFiller::ImageFiller(const ImageSpec& spec, bool bytes, bool allow_outside, int threads,
                         Env* env)
    : column_(spec.column),
      transform_(TransformOf(spec)),
      bytes_(bytes),
      allow_outside_(allow_outside),
      env_(env),
      threads_(WorkersFor(threads, env)) {}

std::string ImageFiller::FillOne(const Row& row) const {
  Row copy = row;
  return FillRow(copy);
}

std::string ImageFiller::FillRow(Row& row) const {
  std::string file;
  std::span<const uint8_t> bytes = AsBytes(row.value);
  if (!bytes_) {
    auto read = ReadImageFile(env_, row.value, row.base_dir, allow_outside_);
    if (!read.has_value()) {
      std::fill(row.out, row.out + transform_.elements(), 0.0f);
      return read.error().message();
    }
    file = std::move(*read);
    bytes = AsBytes(file);
  }
  Status s = Render(bytes, transform_, row.out);
  if (!s.ok()) {
    if (bytes_)
      return fmt::format("image in column '{}' ({} bytes): {}", column_, row.value.size(),
                         s.message());
    return fmt::format("image path '{}': {}", row.value, s.message());
  }
  row.frame = FrameOf(bytes);
  return "";
}

// The header again (cheap: no pixels) for where the image landed, so that
// boxes found in the model's pixels map back to the image's (text_boxes).
ImageFrame ImageFiller::FrameOf(std::span<const uint8_t> bytes) const {
  auto header = ReadImageHeader(bytes);
  if (!header.has_value()) return {};
  const Placement p = Place(header->width, header->height, transform_);
  return {header->width,      header->height,     p.resize_w,       p.resize_h,
          p.pad_x - p.crop_x, p.pad_y - p.crop_y, transform_.width, transform_.height};
}

void ImageFiller::Fill(std::span<Row> rows) const {
  std::call_once(pool_once_, [this] { pool_ = std::make_unique<WorkerPool>(threads_); });
  pool_->ForEach(static_cast<int64_t>(rows.size()), [&](int64_t i) {
    Row& row = rows[static_cast<size_t>(i)];
    row.error = FillRow(row);
  });
}

}  // namespace nightshift::image
