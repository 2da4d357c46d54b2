#include "pdf/pdf_pages_filler.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "image/image_file.h"
#include "image/image_filler.h"
#include "image/png_encode.h"
#include "image/resample.h"

namespace nightshift::pdf {
namespace {

// Which open document serves a row. A path: the folder and the path. A BLOB
// (every page of one input row points at the same bytes in the same chunk):
// its address, size and a hash of 64 samples of it, so that a page costs
// neither a copy nor a full comparison of a large PDF.
std::string KeyOf(std::string_view value, std::string_view base_dir, bool bytes) {
  if (!bytes) return fmt::format("path:{}\n{}", base_dir, value);
  constexpr size_t kSamples = 64, kSample = 64;
  size_t h = 0;
  for (size_t i = 0; i < kSamples && !value.empty(); ++i) {
    const size_t at = value.size() / kSamples * i;
    h = h * 1000003u ^ std::hash<std::string_view>{}(value.substr(at, kSample));
  }
  return fmt::format("blob:{}:{}:{:x}", static_cast<const void*>(value.data()), value.size(), h);
}

}  // namespace

PdfPagesFiller::PdfPagesFiller(const PdfPagesSpec& pdf, const ImageSpec& image, bool bytes,
                               bool allow_outside, int threads, Env* env, bool keep_page)
    : column_(pdf.column),
      dpi_(static_cast<int>(pdf.dpi)),
      transform_(image::TransformOf(image)),
      bytes_(bytes),
      allow_outside_(allow_outside),
      keep_page_(keep_page),
      env_(env),
      threads_(image::WorkersFor(threads, env)) {}

PdfPagesFiller::~PdfPagesFiller() = default;

std::string PdfPagesFiller::Describe(std::string_view value) const {
  if (bytes_) return fmt::format("PDF in column '{}' ({} bytes)", column_, value.size());
  return fmt::format("PDF '{}'", value);
}

// A document opened from the row's value: one from the pool when a thread
// returned it, else freshly read and opened. InvalidData naming the PDF.
Result<PdfPagesFiller::Open> PdfPagesFiller::Borrow(std::string_view value,
                                                    std::string_view base_dir) const {
  Open open{KeyOf(value, base_dir, bytes_), nullptr};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = pool_.rbegin(); it != pool_.rend(); ++it) {
      if (it->key != open.key) continue;
      open.doc = std::move(it->doc);
      pool_.erase(std::next(it).base());
      return open;
    }
  }
  std::string bytes;
  if (bytes_) {
    bytes.assign(value);
  } else {
    auto file = image::ReadImageFile(env_, value, base_dir, allow_outside_);
    if (!file.has_value()) return Error(file.error());
    bytes = std::move(*file);
  }
  auto doc = PdfDocument::Open(std::move(bytes));
  if (!doc.has_value()) {
    return Error(
        Status(Code::kInvalidData, fmt::format("{}: {}", Describe(value), doc.error().message())));
  }
  open.doc = std::move(*doc);
  return open;
}

// Keeps `open` for the next page of the same PDF; the pool holds one
// document per worker and two more (the reader's, and one being handed
// over), dropping the least recently used.
void PdfPagesFiller::GiveBack(Open open) const {
  std::lock_guard<std::mutex> lock(mu_);
  pool_.push_back(std::move(open));
  const size_t cap = static_cast<size_t>(threads_) + 2;
  if (pool_.size() > cap) pool_.erase(pool_.begin(), pool_.begin() + (pool_.size() - cap));
}

Result<int64_t> PdfPagesFiller::Count(std::string_view value, std::string_view base_dir) const {
  NS_ASSIGN_OR_RETURN(Open open, Borrow(value, base_dir));
  const int64_t pages = open.doc->pages();
  GiveBack(std::move(open));
  return pages;
}

// Renders the page into `row.out` and says where it landed in `row.frame`,
// so that boxes found in the model's pixels map back to the page's
// (text_boxes).
Status PdfPagesFiller::RenderPage(const PdfDocument& doc, Row& row) const {
  NS_ASSIGN_OR_RETURN(image::Pixels px, doc.Render(static_cast<int>(row.item), dpi_,
                                                   transform_.channels(), transform_.max_pixels));
  const image::Placement p = image::Place(px.width, px.height, transform_);
  image::WriteTensor(image::Resample(px, p.resize_w, p.resize_h), p, transform_, row.out);
  row.frame = {px.width,           px.height,          p.resize_w,       p.resize_h,
               p.pad_x - p.crop_x, p.pad_y - p.crop_y, transform_.width, transform_.height};
  // The page as rendered (the pixels boxes are in), for a crop step in a
  // later job; encoded here, on the worker thread, not by the writer.
  if (keep_page_) {
    NS_ASSIGN_OR_RETURN(row.kept_image, image::EncodePng(px));
  }
  return Status::Ok();
}

std::string PdfPagesFiller::FillOne(Row& row) const {
  std::fill(row.out, row.out + transform_.elements(), 0.0f);
  auto open = Borrow(row.value, row.base_dir);
  if (!open.has_value()) return open.error().message();
  Status s = RenderPage(*open->doc, row);
  GiveBack(std::move(*open));
  if (s.ok()) return "";
  std::fill(row.out, row.out + transform_.elements(), 0.0f);
  return fmt::format("{} page {}: {}", Describe(row.value), row.item, s.message());
}

void PdfPagesFiller::Fill(std::span<Row> rows) const {
  std::call_once(workers_once_,
                 [this] { workers_ = std::make_unique<image::WorkerPool>(threads_); });
  workers_->ForEach(static_cast<int64_t>(rows.size()),
                    [&](int64_t i) { rows[static_cast<size_t>(i)].error = FillOne(rows[i]); });
}

}  // namespace nightshift::pdf
