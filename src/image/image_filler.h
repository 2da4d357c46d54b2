// ImageFiller: the `preprocess: image` step as the RowFiller the packer
// calls for each batch (include/nightshift/source.h). It reads each row's
// file (or takes its BLOB), decodes, resizes and normalises it straight into
// the batch's input tensor on a pool of worker threads, so the only pixel
// memory is the batch's own plus one decoded image per thread. Thread-safe.
#pragma once

#include <memory>
#include <mutex>

#include "image/image_transform.h"
#include "image/worker_pool.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::image {

// The transform a (parsed, valid) image step asks for.
ImageTransform TransformOf(const ImageSpec& spec);

class ImageFiller final : public RowFiller {
 public:
  // `bytes`: the column holds encoded images (BLOB), not paths. `threads`:
  // worker threads (0: one per core). `env` must outlive the filler.
  ImageFiller(const ImageSpec& spec, bool bytes, bool allow_outside, int threads, Env* env);

  const std::string& column() const override { return column_; }
  bool bytes() const override { return bytes_; }
  void Fill(std::span<Row> rows) const override;

  // One row, on the calling thread: "" or the dead-letter reason.
  std::string FillOne(const Row& row) const;

 private:
  // FillOne, also setting the row's frame.
  std::string FillRow(Row& row) const;
  ImageFrame FrameOf(std::span<const uint8_t> bytes) const;

  const std::string column_;
  const ImageTransform transform_;
  const bool bytes_;
  const bool allow_outside_;
  Env* const env_;
  const int threads_;
  // Started by the first Fill: `validate` and `plan` bind the job but read no rows.
  mutable std::once_flag pool_once_;
  mutable std::unique_ptr<WorkerPool> pool_;
};

}  // namespace nightshift::image
