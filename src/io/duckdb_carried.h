// DuckCarriedRows: a batch's rows as slices of the DuckDB chunks the reader
// fetched. No copy is made when reading: the chunks are shared by the batches
// that cut them; the packer copies the model inputs out of them and the sink
// copies the kept columns once into its output chunks.
#pragma once

#include <duckdb.h>

#include <memory>
#include <vector>

#include "io/duck.h"
#include "nightshift/row_batch.h"

namespace nightshift::io {

class DuckCarriedRows final : public CarriedRows {
 public:
  // Rows [offset, offset + count) of `chunk`, or, when `rows` is not empty,
  // the chunk rows it lists (count == rows.size()), e.g. after bucketing.
  struct Slice {
    std::shared_ptr<DuckChunk> chunk;
    idx_t offset = 0;
    idx_t count = 0;
    std::vector<sel_t> rows;
    idx_t row(idx_t i) const { return rows.empty() ? offset + i : rows[i]; }
  };

  explicit DuckCarriedRows(std::vector<idx_t> columns) : columns_(std::move(columns)) {}

  void Add(std::shared_ptr<DuckChunk> chunk, idx_t offset, idx_t count) {
    slices_.push_back(Slice{std::move(chunk), offset, count, {}});
  }
  void AddRow(const std::shared_ptr<DuckChunk>& chunk, idx_t row) {
    if (slices_.empty() || slices_.back().chunk != chunk ||
        (slices_.back().rows.empty() && slices_.back().count > 0)) {
      slices_.push_back(Slice{chunk, 0, 0, {}});
    }
    slices_.back().rows.push_back(static_cast<sel_t>(row));
    slices_.back().count++;
  }
  const std::vector<Slice>& slices() const { return slices_; }
  // Index in the source chunks of carried column i.
  idx_t column(size_t i) const { return columns_[i]; }
  size_t column_count() const { return columns_.size(); }

 private:
  std::vector<idx_t> columns_;
  std::vector<Slice> slices_;
};

}  // namespace nightshift::io
