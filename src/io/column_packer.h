// ColumnPacker: copies the rows of a batch from DuckDB vectors into the
// batch's input tensors (the "collector" between rows and tensors). Columns
// arrive already cast to the tensor's dtype by the read query (float32
// scalars as DOUBLE, int32/int8/uint8 scalars as BIGINT, narrowed here with a
// range check), so a scalar column is one strided copy and a list column one
// memcpy per row. Nulls, NaN/Inf (when not allowed), values out of the
// dtype's range and list length mismatches become row errors rather than
// failures of the batch. Variable-length list columns are padded
// to the batch's longest row with the input's pad_value; a mask input gets 1
// for each element and 0 for padding.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <vector>

#include "io/duckdb_carried.h"
#include "nightshift/row_batch.h"
#include "nightshift/source.h"

namespace nightshift::io {

class ColumnPacker {
 public:
  // `first_column[i]` is the index in the read chunk of input i's first column;
  // its columns are consecutive.
  ColumnPacker(const std::vector<InputPacking>& inputs, std::vector<idx_t> first_column);

  // Fills batch->inputs from the rows `slices` name, in order; batch->num_rows
  // must equal their total. Reuses the batch's tensor storage.
  void Pack(const std::vector<DuckCarriedRows::Slice>& slices, RowBatch* batch) const;

  // Length of the list in column `column` of the chunk at `row` (0 for null).
  static int64_t ListLength(duckdb_data_chunk chunk, idx_t column, idx_t row);

 private:
  template <typename T>
  void PackInput(size_t input, const std::vector<DuckCarriedRows::Slice>& slices, int64_t padded,
                 RowBatch* batch) const;
  // The rows a RowFiller fills for input i, and those it does not.
  struct FillerRows {
    std::vector<RowFiller::Row> rows;
    std::vector<int64_t> batch_rows;   // rows[k] is batch row batch_rows[k]
    std::vector<int64_t> null_rows;    // null path or BLOB: zeros and an error
    std::vector<int64_t> failed_rows;  // already failed: zeros, not filled
  };
  FillerRows CollectFillerRows(size_t input, const std::vector<DuckCarriedRows::Slice>& slices,
                               const RowBatch& batch) const;
  // Input i made by its RowFiller from the raw column and folder columns.
  void PackFilled(size_t input, const std::vector<DuckCarriedRows::Slice>& slices,
                  RowBatch* batch) const;
  // The longest list of input i's (single, variable-length) column in the batch.
  int64_t MaxLength(size_t input, const std::vector<DuckCarriedRows::Slice>& slices) const;

  const std::vector<InputPacking>& inputs_;
  std::vector<idx_t> first_column_;
};

}  // namespace nightshift::io
