#include "exec/pdf_binding.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "pdf/pdf_pages_filler.h"

namespace nightshift::exec {
namespace {

// The image step that reads `pdf`'s pages (CheckPdfPagesSteps vouches for one).
const ImageSpec* PageReader(const JobSpec& job, const PdfPagesSpec& pdf) {
  for (const auto& step : job.input.images) {
    if (step.column == pdf.into) return &step;
  }
  return nullptr;
}

// The rendered page as an output column (a PNG BLOB), when output.keep names
// it (a CSV or JSONL output refuses it: CheckKeptBytes, binder.cc).
void BindRenderedPage(const JobSpec& job, const PdfPagesSpec& pdf, Binding* b) {
  if (!KeepsRenderedPage(job)) return;
  --b->sink.keep_count;  // counted in output.keep, but not carried (BindCarried)
  OutputColumn page{pdf.into, DType::kUInt8};
  page.kept_image = true;
  b->sink.outputs.insert(b->sink.outputs.begin(), std::move(page));
}

}  // namespace

bool MadeByPdfPages(const JobSpec& job, const std::string& column) {
  if (job.input.pdf_pages.empty()) return false;
  return column == kPageNumberColumn || column == job.input.pdf_pages[0].into;
}

bool KeepsRenderedPage(const JobSpec& job) {
  if (job.input.pdf_pages.empty()) return false;
  const auto& keep = job.output.keep;
  return std::find(keep.begin(), keep.end(), job.input.pdf_pages[0].into) != keep.end();
}

ImageSpec ImageStepAsRead(const JobSpec& job, const ImageSpec& step) {
  ImageSpec read = step;
  for (const auto& pdf : job.input.pdf_pages) {
    if (pdf.into == step.column) read.column = pdf.column;
  }
  return read;
}

Status BindPdfPages(const JobSpec& job, Binding* b) {
  if (job.input.pdf_pages.empty()) return Status::Ok();
  const PdfPagesSpec& pdf = job.input.pdf_pages[0];
  // An output row is (input key, page_number): its page may replace neither.
  const auto& key = job.input.key;
  if (pdf.into == kPageNumberColumn || std::find(key.begin(), key.end(), pdf.into) != key.end()) {
    return Status(Code::kInvalidJob,
                  fmt::format("preprocess: pdf_pages into '{}' is {}; name the rendered page "
                              "column something else",
                              pdf.into,
                              pdf.into == kPageNumberColumn
                                  ? "the column pdf_pages adds for each page's number"
                                  : "a column of input.key, which every output row carries"));
  }
  const ImageSpec* image = PageReader(job, pdf);
  const bool fed =
      image != nullptr &&
      std::any_of(b->read.inputs.begin(), b->read.inputs.end(), [&](const InputPacking& in) {
        return in.columns.size() == 1 && in.columns[0] == image->into;
      });
  if (!fed) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("preprocess: the pages of pdf_pages into '{}' feed no model input "
                              "(name the image step's into in model.inputs[].columns)",
                              pdf.into));
  }
  if (!job.batch.sort_by_length.empty()) {
    return Status(Code::kSchemaMismatch,
                  "batch.sort_by_length cannot be used with preprocess: pdf_pages");
  }
  BindRenderedPage(job, pdf, b);
  // output.keep's count included it, but it is not carried (BindCarried).
  const auto& keep = job.output.keep;
  if (std::find(keep.begin(), keep.end(), kPageNumberColumn) != keep.end()) --b->sink.keep_count;
  OutputColumn page{kPageNumberColumn, DType::kInt32};
  page.item_number = true;
  b->sink.outputs.insert(b->sink.outputs.begin(), std::move(page));
  return Status::Ok();
}

void AttachPdfFillers(const JobSpec& job, const std::vector<InputColumn>& cols, Env* env,
                      ReadLayout* layout) {
  if (job.input.pdf_pages.empty()) return;
  const PdfPagesSpec& pdf = job.input.pdf_pages[0];
  const ImageSpec* image = PageReader(job, pdf);
  if (image == nullptr) return;
  auto c =
      std::find_if(cols.begin(), cols.end(), [&](const auto& x) { return x.name == pdf.column; });
  const bool blob = c != cols.end() && c->sql_type == "BLOB";
  for (size_t i = 0; i < layout->inputs.size(); ++i) {
    InputPacking& in = layout->inputs[i];
    if (in.columns.size() != 1 || in.columns[0] != image->into) continue;
    auto filler = std::make_shared<pdf::PdfPagesFiller>(pdf, *image, blob, job.input.allow_outside,
                                                        /*threads=*/0, env, KeepsRenderedPage(job));
    in.filler = filler;
    layout->expander = filler;
    layout->expand_input = i;
    return;
  }
}

}  // namespace nightshift::exec
