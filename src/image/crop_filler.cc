#include "image/crop_filler.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <unordered_map>

#include "image/image_decoder.h"
#include "image/image_file.h"

namespace nightshift::image {
namespace {

// The largest page a crop step decodes (the image step's max_pixels default).
constexpr int64_t kMaxPagePixels = 50'000'000;

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A row's raw value split into its box's text and its page (path or bytes).
struct RowParts {
  std::string_view box;
  std::string_view page;
};

RowParts Split(std::string_view value) {
  const size_t bar = value.find('|');
  if (bar == std::string_view::npos) return {value, {}};
  return {value.substr(0, bar), value.substr(bar + 1)};
}

Result<CropBox> BoxOf(std::string_view value) {
  NS_ASSIGN_OR_RETURN(auto corners, ParseBox(Split(value).box));
  return PlanCrop(corners);
}

}  // namespace

CropFiller::CropFiller(const CropSpec& spec, std::string select_sql, bool bytes, bool allow_outside,
                       int64_t fixed_width, int threads, Env* env)
    : column_(spec.image),
      select_sql_(std::move(select_sql)),
      height_(static_cast<int>(spec.height)),
      bytes_(bytes),
      allow_outside_(allow_outside),
      fixed_width_(fixed_width),
      env_(env),
      // As ImageFiller: the reader thread works too, so one worker fewer than the cores.
      threads_(threads > 0
                   ? threads
                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1)) {}

int64_t CropFiller::PaddedLength(std::span<const Row> rows) const {
  // PaddleOCR: imgW = int(height * max(320 / 48, widest w / h of the batch)).
  int64_t widest = static_cast<int64_t>(kMinCropRatio * height_);
  for (const Row& row : rows) {
    auto box = BoxOf(row.value);
    if (box.has_value()) widest = std::max(widest, ScaledWidth(*box, height_));
  }
  return widest;
}

int64_t CropFiller::RowWidth(std::span<const Row> rows) const {
  return fixed_width_ > 0 ? fixed_width_ : PaddedLength(rows);
}

void CropFiller::Fill(std::span<Row> rows) const {
  std::call_once(pool_once_, [this] { pool_ = std::make_unique<WorkerPool>(threads_); });
  const int64_t width = RowWidth(rows);
  // Rows by page, in order of first use: each page is read and decoded once.
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<std::string_view, size_t> group_of;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto [it, added] = group_of.try_emplace(Split(rows[i].value).page, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  pool_->ForEach(static_cast<int64_t>(groups.size()),
                 [&](int64_t g) { FillPage(rows, groups[static_cast<size_t>(g)], width); });
}

void CropFiller::FillPage(std::span<Row> rows, const std::vector<size_t>& group,
                          int64_t width) const {
  const int64_t elements = 3 * height_ * width;
  const std::string_view page = Split(rows[group[0]].value).page;
  auto fail_all = [&](const std::string& reason) {
    for (size_t i : group) {
      std::fill(rows[i].out, rows[i].out + elements, 0.0f);
      rows[i].error = reason;
    }
  };
  std::string file;
  std::span<const uint8_t> bytes = AsBytes(page);
  if (!bytes_) {
    auto read = ReadImageFile(env_, page, rows[group[0]].base_dir, allow_outside_);
    if (!read.has_value()) return fail_all(read.error().message());
    file = std::move(*read);
    bytes = AsBytes(file);
  }
  const std::string what =
      bytes_ ? fmt::format("image in column '{}' ({} bytes)", column_, page.size())
             : fmt::format("image path '{}'", page);
  auto header = ReadImageHeader(bytes);
  if (!header.has_value()) return fail_all(what + ": " + header.error().message());
  if (Status s = CheckPixelLimit(*header, kMaxPagePixels); !s.ok())
    return fail_all(what + ": " + s.message());
  auto pixels =
      DecodeImage(bytes, *header, DecodeRequest{.channels = 3, .max_pixels = kMaxPagePixels});
  if (!pixels.has_value()) return fail_all(what + ": " + pixels.error().message());
  for (size_t i : group) {
    Row& row = rows[i];
    auto box = BoxOf(row.value);
    Status inside =
        box.has_value() ? CheckInside(*box, pixels->width, pixels->height) : Status(box.error());
    if (!inside.ok()) {
      std::fill(row.out, row.out + elements, 0.0f);
      row.error = fmt::format("crop of {}: {}", what, inside.message());
      continue;
    }
    CutOut(*pixels, *box, height_, width, row.out);
  }
}

}  // namespace nightshift::image
