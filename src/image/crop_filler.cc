#include "image/crop_filler.h"

#include <fmt/format.h>

#include <algorithm>
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

// Box `item` (box_index) of a row whose list of boxes is `boxes`.
Result<CropBox> BoxAt(const std::vector<std::string_view>& boxes, int64_t item) {
  if (item < 0 || static_cast<size_t>(item) >= boxes.size()) {
    return Error(Code::kInvalidData,
                 fmt::format("box_index {}: the row has {} boxes", item, boxes.size()));
  }
  NS_ASSIGN_OR_RETURN(auto corners, ParseBox(boxes[static_cast<size_t>(item)]));
  return PlanCrop(corners);
}

// True when `a` and `b` are the same bytes in memory (not merely equal): the
// rows the reader makes of one input row all point at its one raw value.
bool SameBytes(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}

// Each row's box. An input row's rows follow one another and share its raw
// value, so its list of boxes is split once for all of them: splitting it
// for each row cost (boxes of a page)^2. Rows whose values are equal but
// not the same bytes are split again, which gives the same boxes.
std::vector<Result<CropBox>> BoxesOf(std::span<const RowFiller::Row> rows) {
  std::vector<Result<CropBox>> out;
  out.reserve(rows.size());
  std::vector<std::string_view> boxes;
  const RowFiller::Row* split = nullptr;  // the row `boxes` was split from
  for (const RowFiller::Row& row : rows) {
    if (split == nullptr || !SameBytes(row.value, split->value)) {
      boxes = SplitBoxes(Split(row.value).box);
      split = &row;
    }
    out.push_back(BoxAt(boxes, row.item));
  }
  return out;
}

}  // namespace

CropFiller::CropFiller(const CropSpec& spec, std::string select_sql, bool bytes, bool allow_outside,
                       int64_t fixed_width, int threads, Env* env)
    : column_(spec.image),
      boxes_column_(spec.boxes),
      select_sql_(std::move(select_sql)),
      height_(static_cast<int>(spec.height)),
      bytes_(bytes),
      allow_outside_(allow_outside),
      fixed_width_(fixed_width),
      env_(env),
      threads_(WorkersFor(threads, env)) {}

int64_t CropFiller::PaddedLength(std::span<const Row> rows) const {
  return WidestOf(BoxesOf(rows));
}

int64_t CropFiller::WidestOf(const std::vector<Result<CropBox>>& boxes) const {
  // PaddleOCR: imgW = int(height * max(320 / 48, widest w / h of the batch)).
  int64_t widest = static_cast<int64_t>(kMinCropRatio * height_);
  for (const auto& box : boxes) {
    if (box.has_value()) widest = std::max(widest, ScaledWidth(*box, height_));
  }
  return widest;
}

void CropFiller::Fill(std::span<Row> rows) const {
  std::call_once(pool_once_, [this] { pool_ = std::make_unique<WorkerPool>(threads_); });
  const std::vector<Result<CropBox>> boxes = BoxesOf(rows);
  const int64_t width = fixed_width_ > 0 ? fixed_width_ : WidestOf(boxes);
  // Rows by page, in order of first use: each page is read and decoded once,
  // then every row is cut from its page; both on the workers (a batch of one
  // page's boxes still crops in parallel). The batch's pages are held until
  // its rows are cut. A row with its previous row's value (the same input
  // row) has its page without hashing the page again (a BLOB's every byte).
  std::vector<size_t> first_row;  // per page
  std::vector<size_t> page_of(rows.size());
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0 && SameBytes(rows[i].value, rows[i - 1].value)) {
      page_of[i] = page_of[i - 1];
      continue;
    }
    auto [it, added] = index.try_emplace(Split(rows[i].value).page, first_row.size());
    if (added) first_row.push_back(i);
    page_of[i] = it->second;
  }
  std::vector<Result<Pixels>> pages(first_row.size());
  std::vector<std::string> names(first_row.size());
  pool_->ForEach(static_cast<int64_t>(pages.size()), [&](int64_t g) {
    const auto p = static_cast<size_t>(g);
    pages[p] = DecodePage(rows[first_row[p]], &names[p]);
  });
  pool_->ForEach(static_cast<int64_t>(rows.size()), [&](int64_t r) {
    const auto i = static_cast<size_t>(r);
    rows[i].error = CutRow(rows[i], boxes[i], pages[page_of[i]], names[page_of[i]], width);
  });
}

// A null boxes value is read as "" (CropBinding's select_sql): the input
// row's dead letter. An empty list makes no rows.
Result<int64_t> CropFiller::Count(std::string_view value, std::string_view /*base_dir*/) const {
  const std::string_view box = Split(value).box;
  if (box.empty()) {
    return Error(Code::kInvalidData,
                 fmt::format("crop: the boxes of column '{}' are null", boxes_column_));
  }
  return static_cast<int64_t>(SplitBoxes(box).size());
}

Result<Pixels> CropFiller::DecodePage(const Row& row, std::string* name) const {
  const std::string_view page = Split(row.value).page;
  if (page.empty()) {  // a null path or BLOB is read as "" (CropBinding's select_sql)
    *name = fmt::format("image in column '{}'", column_);
    return Error(Code::kInvalidData,
                 fmt::format("crop: the image in column '{}' is null or empty", column_));
  }
  std::string file;
  std::span<const uint8_t> bytes = AsBytes(page);
  if (!bytes_) {
    NS_ASSIGN_OR_RETURN(file, ReadImageFile(env_, page, row.base_dir, allow_outside_));
    bytes = AsBytes(file);
  }
  *name = bytes_ ? fmt::format("image in column '{}' ({} bytes)", column_, page.size())
                 : fmt::format("image path '{}'", page);
  auto fail = [&](const Status& s) {
    return Error(Code::kInvalidData, *name + ": " + s.message());
  };
  auto header = ReadImageHeader(bytes);
  if (!header.has_value()) return fail(header.error());
  if (Status s = CheckPixelLimit(*header, kMaxPagePixels); !s.ok()) return fail(s);
  auto pixels = DecodeImage(
      bytes, *header, DecodeRequest{.channels = 3, .max_pixels = kMaxPagePixels, .needed = {}});
  if (!pixels.has_value()) return fail(pixels.error());
  return pixels;
}

std::string CropFiller::CutRow(const Row& row, const Result<CropBox>& box,
                               const Result<Pixels>& page, const std::string& name,
                               int64_t width) const {
  Status ok = !page.has_value() ? page.error()
              : box.has_value() ? CheckInside(*box, page->width, page->height)
                                : box.error();
  if (!ok.ok()) {
    std::fill(row.out, row.out + 3 * height_ * width, 0.0f);
    // A page that cannot be read says so itself; a bad box names its page.
    // Both name the box_index (the dead letter's key is the input row's).
    return page.has_value()
               ? fmt::format("crop of {} box_index {}: {}", name, row.item, ok.message())
               : fmt::format("{} (box_index {})", ok.message(), row.item);
  }
  CutOut(*page, *box, height_, width, row.out);
  return "";
}

}  // namespace nightshift::image
