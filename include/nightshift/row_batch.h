// RowBatch: the rows of one batch as they travel reader → model → writer.
//
// Batches never cross shard boundaries. The reader fills `inputs` (one packed
// tensor per model input) and `carried` (the keep and key columns, in the
// Source's own representation, opaque to the engine); inference fills
// `outputs`; the writer consumes all three. Rows whose `row_errors` entry is
// non-empty are poison items: they are dead-lettered, not written.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nightshift/tensor.h"

namespace nightshift {

// Keep/key columns of a batch's rows; a Source and its Sink agree on the
// concrete type.
class CarriedRows {
 public:
  virtual ~CarriedRows() = default;
};

// Where a row's model-input pixels came from, set by an image step: the
// image was width x height, resized to resize_w x resize_h and shifted by
// (offset_x, offset_y) into the input_w x input_h input, so input pixel x is
// image pixel (x - offset_x) * width / resize_w. A postprocess step that
// finds things in model-input pixels (text_boxes) maps them back with it.
struct ImageFrame {
  int32_t width = 0, height = 0;  // 0: no image step filled the row
  int32_t resize_w = 0, resize_h = 0;
  int32_t offset_x = 0, offset_y = 0;
  int32_t input_w = 0, input_h = 0;
};

struct RowBatch {
  int64_t shard_id = 0;
  int64_t shard_index = 0;  // position of the shard in this run's work list
  int64_t seq = 0;          // batch index within its shard
  bool last_in_shard = false;
  int64_t first_row = 0;   // file row number of row 0
  int32_t file_index = 0;  // the input file of the rows (a batch never spans files)
  int64_t num_rows = 0;
  // File row numbers of the rows when they are not consecutive (a retry of
  // selected rows); empty: row i is first_row + i.
  std::vector<int64_t> row_numbers;
  // When a preprocess step makes several rows of one input row (pdf_pages),
  // each row's number among them (1-based), or 0 for an input row that made
  // none (a dead letter); row_numbers then repeat. Empty: one row per input row.
  std::vector<int64_t> items;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  // Per row: empty, or why the row cannot be scored. Empty vector: no errors.
  std::vector<std::string> row_errors;
  std::vector<int32_t> row_attempts;  // attempts per failed row (parallel to row_errors)
  std::unique_ptr<CarriedRows> carried;
  // Per row when an image step filled an input (else empty).
  std::vector<ImageFrame> image_frames;
  // Per row when a preprocess step keeps the image it made (pdf_pages' page
  // in output.keep): PNG bytes, written to OutputColumn::kept_image (else empty).
  std::vector<std::string> kept_images;

  int64_t CountRowErrors() const {
    int64_t n = 0;
    for (const auto& e : row_errors) n += e.empty() ? 0 : 1;
    return n;
  }
  int64_t RowNumber(int64_t i) const {
    return row_numbers.empty() ? first_row + i : row_numbers[static_cast<size_t>(i)];
  }
  // True when `row` has an error. Rows past the end of row_errors have none.
  bool RowFailed(int64_t row) const {
    return static_cast<size_t>(row) < row_errors.size() &&
           !row_errors[static_cast<size_t>(row)].empty();
  }
  // Marks `row` (which may be past num_rows while the reader fills the batch).
  void SetRowError(int64_t row, std::string reason) {
    if (static_cast<size_t>(row) >= row_errors.size()) {
      row_errors.resize(std::max(static_cast<size_t>(row) + 1, static_cast<size_t>(num_rows)));
    }
    row_errors[static_cast<size_t>(row)] = std::move(reason);
  }
};

}  // namespace nightshift
