// CropFiller: the `preprocess: - crop` step as the RowFiller the packer calls
// for each batch (include/nightshift/source.h). Each row's raw value is its
// box and its page, read as one value ("<box numbers>|<path or bytes>", the
// select_sql the binding makes); the batch is as wide as its widest crop
// (at least kMinCropRatio x height) unless the model fixes the width. Each
// distinct page of a batch is read and decoded once, then its boxes are cut
// out (crop.h), both on worker threads. As the reader's RowExpander it fans
// a row's list of boxes out into one row per box (RowFiller::Row::item is the
// box's index, from 0: the output's box_index); a row holding one box of 8
// numbers is one row, box 0. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "image/crop.h"
#include "image/worker_pool.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::image {

class CropFiller final : public RowFiller, public RowExpander {
 public:
  // `select_sql`: the SQL of the row's raw value. `bytes`: pages are encoded
  // images (BLOB), not paths. `fixed_width`: the model's input width, or 0
  // (padded per batch). `threads`: 0 is one per core. `env` outlives it.
  CropFiller(const CropSpec& spec, std::string select_sql, bool bytes, bool allow_outside,
             int64_t fixed_width, int threads, Env* env);

  const std::string& column() const override { return column_; }
  std::string_view step() const override { return "crop"; }
  bool bytes() const override { return bytes_; }
  std::string select_sql() const override { return select_sql_; }
  int64_t PaddedLength(std::span<const Row> rows) const override;
  void Fill(std::span<Row> rows) const override;
  Result<int64_t> Count(std::string_view value, std::string_view base_dir) const override;
  int64_t first_item() const override { return 0; }

 private:
  // The batch's width: its widest box scaled to the height, at least
  // kMinCropRatio x height.
  int64_t WidestOf(const std::vector<Result<CropBox>>& boxes) const;
  // The row's page, read and decoded; `name` says which, for messages. The
  // error is every one of the page's rows' dead-letter reason.
  Result<Pixels> DecodePage(const Row& row, std::string* name) const;
  // Cuts the row's `box` out of `page` into row.out: "" or the reason.
  std::string CutRow(const Row& row, const Result<CropBox>& box, const Result<Pixels>& page,
                     const std::string& name, int64_t width) const;

  const std::string column_;
  const std::string boxes_column_;
  const std::string select_sql_;
  const int height_;
  const bool bytes_;
  const bool allow_outside_;
  const int64_t fixed_width_;
  Env* const env_;
  const int threads_;
  mutable std::once_flag pool_once_;
  mutable std::unique_ptr<WorkerPool> pool_;
};

}  // namespace nightshift::image
