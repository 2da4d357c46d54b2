// ColumnPacker: copies DuckDB vectors into a batch's input tensors (the
// "collector" between rows and tensors). Columns arrive already cast to the
// tensor's dtype by the read query, so a scalar column is one strided copy and
// a list column one memcpy per row; nulls, NaN/Inf (when not allowed) and list
// length mismatches become row errors rather than failures of the batch.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <vector>

#include "nightshift/row_batch.h"
#include "nightshift/source.h"

namespace nightshift::io {

class ColumnPacker {
 public:
  // `first_column[i]` is the index in the read chunk of input i's first column;
  // its columns are consecutive.
  ColumnPacker(const std::vector<InputPacking>& inputs, std::vector<idx_t> first_column);

  // Sizes `batch->inputs` for up to `capacity` rows (no allocation once sized).
  void Prepare(RowBatch* batch, int64_t capacity) const;
  // Copies rows [src_offset, src_offset + count) of `chunk` into rows
  // [dst_row, dst_row + count) of the batch's input tensors.
  void Pack(duckdb_data_chunk chunk, idx_t src_offset, idx_t count, RowBatch* batch,
            int64_t dst_row) const;
  // Shrinks the input tensors to the batch's final row count.
  void Finish(RowBatch* batch) const;

 private:
  template <typename T>
  void PackInput(size_t input, duckdb_data_chunk chunk, idx_t src_offset, idx_t count,
                 RowBatch* batch, int64_t dst_row) const;

  const std::vector<InputPacking>& inputs_;
  std::vector<idx_t> first_column_;
  std::vector<int64_t> row_elems_;  // elements per row of each input tensor
};

}  // namespace nightshift::io
