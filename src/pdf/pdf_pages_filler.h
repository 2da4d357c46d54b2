// PdfPagesFiller: the `preprocess: pdf_pages` step together with the image
// step that reads its pages. As the reader's RowExpander it opens each PDF
// once to count its pages (a PDF that does not open is the input row's dead
// letter); as the RowFiller of the image step's model input it renders page
// RowFiller::Row::item of the row's PDF at the step's dpi and hands the
// pixels straight to the image transform (resize, normalise, layout): no
// page is encoded unless output.keep names the page (then as PNG, beside). Pages render on worker
// threads; memory is one rendered page per thread plus the open documents of a small pool, never a
// whole PDF's pages. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "image/image_transform.h"
#include "image/worker_pool.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"
#include "pdf/pdf_document.h"

namespace nightshift::pdf {

class PdfPagesFiller final : public RowFiller, public RowExpander {
 public:
  // `image` is the step whose column is `pdf.into`. `bytes`: the PDF column
  // holds the files' bytes (BLOB), not paths. `threads`: worker threads (0:
  // one per core but one). `env` must outlive the filler. `keep_page`: also
  // encode each rendered page as PNG into Row::kept_image (output.keep names
  // the step's `into`); without it no page is ever encoded.
  PdfPagesFiller(const PdfPagesSpec& pdf, const ImageSpec& image, bool bytes, bool allow_outside,
                 int threads, Env* env, bool keep_page = false);
  ~PdfPagesFiller() override;

  const std::string& column() const override { return column_; }
  std::string_view step() const override { return "pdf_pages"; }
  bool bytes() const override { return bytes_; }
  void Fill(std::span<Row> rows) const override;
  Result<int64_t> Count(std::string_view value, std::string_view base_dir) const override;

  // One row, on the calling thread: "" or the dead-letter reason; sets
  // row.frame when the page renders.
  std::string FillOne(Row& row) const;

 private:
  // An open document lent to one thread at a time.
  struct Open {
    std::string key;  // the column value (and folder) it was opened from
    std::unique_ptr<PdfDocument> doc;
  };
  Result<Open> Borrow(std::string_view value, std::string_view base_dir) const;
  void GiveBack(Open open) const;
  std::string Describe(std::string_view value) const;
  Status RenderPage(const PdfDocument& doc, Row& row) const;

  const std::string column_;
  const int dpi_;
  const image::ImageTransform transform_;
  const bool bytes_;
  const bool allow_outside_;
  const bool keep_page_;
  Env* const env_;
  const int threads_;
  mutable std::mutex mu_;
  mutable std::vector<Open> pool_;  // most recently returned last
  mutable std::once_flag workers_once_;
  mutable std::unique_ptr<image::WorkerPool> workers_;
};

}  // namespace nightshift::pdf
