// DuckCarriedRows: a batch's keep/key columns as slices of the DuckDB chunks
// the reader fetched. No copy is made when reading: the chunks are shared by
// the batches that cut them, and the sink copies the selected rows once into
// its output chunks.
#pragma once

#include <duckdb.h>

#include <memory>
#include <vector>

#include "io/duck.h"
#include "nightshift/row_batch.h"

namespace nightshift::io {

class DuckCarriedRows final : public CarriedRows {
 public:
  struct Slice {
    std::shared_ptr<DuckChunk> chunk;
    idx_t offset = 0;
    idx_t count = 0;
  };

  explicit DuckCarriedRows(std::vector<idx_t> columns) : columns_(std::move(columns)) {}

  void Add(std::shared_ptr<DuckChunk> chunk, idx_t offset, idx_t count) {
    slices_.push_back(Slice{std::move(chunk), offset, count});
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
