// CropFiller: the `preprocess: - crop` step as the RowFiller the packer calls
// for each batch (include/nightshift/source.h). Each row's raw value is its
// box and its page, read as one value ("<box numbers>|<path or bytes>", the
// select_sql the binding makes); the batch is as wide as its widest crop
// (at least kMinCropRatio x height) unless the model fixes the width. Each
// distinct page of a batch is read and decoded once, then its boxes are cut
// out (crop.h), both on worker threads. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "image/crop.h"
#include "image/worker_pool.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::image {

class CropFiller final : public RowFiller {
 public:
  // `select_sql`: the SQL of the row's raw value. `bytes`: pages are encoded
  // images (BLOB), not paths. `fixed_width`: the model's input width, or 0
  // (padded per batch). `threads`: 0 is one per core. `env` outlives it.
  CropFiller(const CropSpec& spec, std::string select_sql, bool bytes, bool allow_outside,
             int64_t fixed_width, int threads, Env* env);

  const std::string& column() const override { return column_; }
  bool bytes() const override { return bytes_; }
  std::string select_sql() const override { return select_sql_; }
  int64_t PaddedLength(std::span<const Row> rows) const override;
  void Fill(std::span<Row> rows) const override;

 private:
  int64_t RowWidth(std::span<const Row> rows) const;
  // The row's page, read and decoded; `name` says which, for messages. The
  // error is every one of the page's rows' dead-letter reason.
  Result<Pixels> DecodePage(const Row& row, std::string* name) const;
  // Cuts the row's box out of `page` into row.out: "" or the reason.
  std::string CutRow(const Row& row, const Result<Pixels>& page, const std::string& name,
                     int64_t width) const;

  const std::string column_;
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
