// ShardScanner: cuts the rows of DuckDB query streams into the RowBatches of
// the shards they hold.
//
// One scan streams one query whose first row is file row `first_row` (a
// seekable Parquet shard's range, or a whole CSV/JSONL file or query serving
// all its pending shards in order). Rows outside every shard, or not selected
// by a shard's row list, are skipped. A batch ends when it is full or its
// shard ends; inputs are packed when a batch is complete, from the chunks it
// references. With bucketing (batch.sort_by_length), a shard's rows are
// staged, sorted by list length and cut by rows and padded tokens.
//
// Batch numbers (RowBatch::seq) count within a shard: they restart at 0 when
// a shard ends, and only then (a packed shard goes on across files and scans).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "io/column_packer.h"
#include "io/duck.h"
#include "io/duckdb_carried.h"
#include "nightshift/source.h"

namespace nightshift::io {

class ShardScanner {
 public:
  ShardScanner(DuckConnection* conn, const std::atomic<bool>* interrupted, const ReadLayout& layout,
               const std::function<std::unique_ptr<RowBatch>()>& next_batch,
               const std::function<bool(std::unique_ptr<RowBatch>)>& emit);

  // The select list that reads `layout`'s inputs, then its carried columns,
  // in the order the scanner expects them.
  // An input made by a RowFiller (an image step) reads its raw column and
  // `base_dir` (the folder its relative paths resolve against) instead.
  // `float_columns`: columns the file holds as FLOAT, read as they are.
  // With layout.carried_as_text, a last column (CastErrorSql) holds each
  // row's carried values that did not convert ("" for none).
  static std::string SelectList(const ReadLayout& layout, const std::string& base_dir = "",
                                const std::unordered_set<std::string>& float_columns = {});
  // The SQL of that column, or "" when the layout has none.
  static std::string CastErrorSql(const ReadLayout& layout);

  // Streams `sql` (rows of `file`, read as `where`) into the batches of
  // `shards`, all of that file. With `fallback`: when `sql` fails (before or
  // while streaming), the scan goes on with `fallback`, an equivalent query
  // with the same column types, skipping the rows already read. With
  // `check_end`, a file that has rows beyond its last shard is an error (the
  // input changed since the run was planned).
  Status Scan(const std::string& sql, const InputFile& file, const std::string& where,
              std::span<const ShardTask> shards, int64_t first_row, bool check_end,
              std::string fallback = {});

  // Emits the one batch, empty and last, of shard `s` that has no rows (a
  // key range of a database input that holds none); false when the consumer
  // stopped taking batches.
  bool EmitEmptyShard(const ShardTask& s);

  // True once the consumer stopped taking batches or the read was
  // interrupted: the caller stops reading.
  bool stopped() const { return stopped_; }
  const ReadLayout& layout() const { return layout_; }

 private:
  // A staged row for bucketing.
  struct Staged {
    std::shared_ptr<DuckChunk> chunk;
    idx_t row;
    int64_t file_row;
    int64_t length;
  };
  // One query's stream and the fallback it may go on with.
  struct Stream {
    std::optional<DuckResult> result;
    std::string fallback;
    std::string where;
    int64_t discard = 0;  // rows of a fallback stream already read from the first
  };

  Status Open(const std::string& sql, Stream* stream);
  Result<std::shared_ptr<DuckChunk>> NextChunk(Stream* stream, int64_t first_row);
  bool TakeRows(const std::shared_ptr<DuckChunk>& chunk, int64_t n, int64_t* off);
  int64_t UnselectedRun(const ShardTask& s, int64_t take) const;
  int64_t SelectedRun(const ShardTask& s, int64_t take) const;
  int64_t Add(const ShardTask& s, const std::shared_ptr<DuckChunk>& chunk, int64_t off,
              int64_t take);
  int64_t AddExpanded(const ShardTask& s, const std::shared_ptr<DuckChunk>& chunk, int64_t off,
                      int64_t take);
  Result<int64_t> CountItems(const std::shared_ptr<DuckChunk>& chunk, idx_t r) const;
  bool CloseShard(const ShardTask& s);
  void StartBatch(const ShardTask& s, int64_t first);
  bool Flush(bool last);
  void MarkCastErrors();
  bool FlushBucketed(const ShardTask& s);
  Status EndedEarly(const InputFile& file) const;
  static Status MoreRows(const InputFile& file, int64_t planned);

  DuckConnection* conn_;
  const std::atomic<bool>* interrupted_;
  const ReadLayout& layout_;
  const std::function<std::unique_ptr<RowBatch>()>& next_batch_;
  const std::function<bool(std::unique_ptr<RowBatch>)>& emit_;
  std::vector<idx_t> carried_columns_;
  std::unique_ptr<ColumnPacker> packer_;
  idx_t sort_column_ = 0;           // select-list index of batch.sort_by_length's column
  idx_t expand_column_ = 0;         // select-list index of the expander's raw column
  int64_t cast_error_column_ = -1;  // select-list index of CastErrorSql's column; -1: none
  bool stopped_ = false;

  std::unique_ptr<RowBatch> batch_;
  std::unique_ptr<DuckCarriedRows> carried_;
  int64_t seq_ = 0;  // the next batch's number within its shard
  // The current scan.
  std::span<const ShardTask> shards_;
  size_t si_ = 0;    // current shard
  int64_t row_ = 0;  // file row number of the next row the query yields
  std::vector<Staged> staged_;
};

}  // namespace nightshift::io
