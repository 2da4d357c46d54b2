// ShardRows: one shard attempt's output rows in memory, as DuckDB data chunks
// (a ChunkTable of good rows: kept columns copied with a selection vector,
// model outputs by strided copies; and one of failed rows for the dead
// letters). Every sink collects a shard this way, then makes it visible its
// own way: a part file (file_sink.cc) or one database transaction
// (io/db_sink.h). Memory is bounded by one shard's output.
#pragma once

#include <duckdb.h>

#include <memory>
#include <string>
#include <vector>

#include "io/chunk_table.h"
#include "io/duck.h"
#include "io/duckdb_carried.h"
#include "io/row_origins.h"
#include "nightshift/env.h"
#include "nightshift/sink.h"

namespace nightshift::io {

// The DuckDB SQL type of output column `c` ("FLOAT", "DOUBLE[]", ...).
std::string OutputSqlType(const OutputColumn& c);

// The two schemas of a layout's ShardRows, made once per sink.
struct ShardRowSchemas {
  // The kept columns, the outputs, and __ns_row when the order is restored.
  DuckSchema out;
  // The keys, __ns_row (the row within its file), __ns_error, __ns_attempts,
  // __ns_file (the file's path), __ns_file_index.
  DuckSchema dl;
};
Result<ShardRowSchemas> MakeShardRowSchemas(DuckConnection* conn, const SinkLayout& layout);

// A good row (by its position in RowsSql(), 0-based) that the database
// refused, and the database's reason: it becomes a dead letter instead.
struct RejectedRow {
  int64_t index = 0;
  std::string error;
};

class ShardRows {
 public:
  // REQUIRES: `layout` and `schemas` outlive this; `registry` is installed in
  // the database that queries RowsSql().
  ShardRows(const SinkLayout& layout, const ShardRowSchemas* schemas,
            const std::shared_ptr<ChunkScanRegistry>& registry);
  ~ShardRows();
  ShardRows(const ShardRows&) = delete;
  ShardRows& operator=(const ShardRows&) = delete;

  // Appends the rows of `batch` that have no row error (in order), and records
  // the failed ones for the dead letters.
  Status Append(const RowBatch& batch);

  // The good rows (those set aside as repeated keys left out).
  int64_t rows() const { return out_.rows() - static_cast<int64_t>(repeats_.size()); }
  // "ns_chunks(<id>)": the good rows as a table, columns as in
  // ShardRowSchemas::out (those set aside left out).
  std::string RowsSql() const;
  // Good rows [begin, end) of RowsSql(), as a table (the single-threaded scan
  // keeps the append order).
  std::string RowsSql(int64_t begin, int64_t end) const;
  // The good rows but `rejected`, as a table.
  std::string RowsSqlExcept(const std::vector<RejectedRow>& rejected) const;

  // Upsert writes one row per key: a good row whose key an earlier good row
  // of the shard has (in input order) is set aside, as a dead letter saying
  // so, and left out of RowsSql() (and the positions rejected rows are named
  // by). Without this, PostgreSQL fails the whole shard (SQLSTATE 21000: ON
  // CONFLICT DO UPDATE cannot affect a row twice) and SQLite keeps the last
  // row. The key is the table's (TableKey, io/db_columns.h): with items,
  // input.key and the item's number; a repeated item's input row is then
  // withheld whole by WithholdItemsOfFailedRows, called after this. Once per
  // shard attempt; call it before reading RowsSql().
  Status SetAsideRepeatedKeys(DuckConnection* conn);

  // Rows a preprocess step made of one input row (pdf_pages' pages, crop's
  // boxes) stand or fall together: when one of them failed, the others are
  // set aside as dead letters too ("withheld") and left out of RowsSql().
  // The ledger records failures per input row and `retry` re-reads an input
  // row whole, so writing the good items now would write them twice after
  // a retry. Once per shard attempt, before reading RowsSql() or rows().
  void WithholdItemsOfFailedRows();

  // Writes the dead letters of shard `shard_id` (when any row failed, or the
  // database rejected any of `rejected`) to
  // <dead_letter_dir>/part-<shard>.jsonl through a temp file (its name added
  // to `temps`) published atomically, and fills out->failures and
  // out->dead_letter_file; removes a stale file of an earlier attempt when
  // none failed. A file already there is replaced or removed only while
  // `still_ours` says the claim holds (Env::PublishFileFenced).
  Status WriteDeadLetters(DuckConnection* conn, Env* env, int64_t shard_id, int64_t epoch,
                          const std::vector<RejectedRow>& rejected, const ClaimCheck& still_ours,
                          ShardOutput* out, std::vector<std::string>* temps) const;

 private:
  size_t KeyIndex(size_t k) const;
  std::string KeyExpr() const;
  // `rejected` as a table r(i, error, file_index, row, file) (a VALUES list:
  // no temp table, which would be a second database written in the DuckDB
  // sink's transaction).
  std::string RejectedSql(const std::vector<RejectedRow>& rejected) const;
  // The dead-letter rows (key, row, error, attempts, file_index, file) as SQL.
  std::string DeadLetterSql(const std::vector<RejectedRow>& rejected) const;
  Result<std::vector<ItemFailure>> QueryFailures(DuckConnection* conn, int64_t shard_id,
                                                 const std::string& rows) const;
  std::string WithPriorAttempts(const std::string& rows, std::vector<ItemFailure>* failures) const;
  Status AppendFailures(const RowBatch& batch, const DuckCarriedRows& carried,
                        const DuckCarriedRows::Slice& slice, int64_t row);
  Status WriteOutput(const OutputColumn& c, const RowBatch& batch, duckdb_vector vec,
                     const sel_t* rows, idx_t n, idx_t offset);

  const SinkLayout& layout_;
  ChunkTable out_;  // good rows
  ChunkTable dl_;   // failed rows
  ChunkScanRegistry::Handle out_scan_, dl_scan_;
  // Where each good row came from: (file index << 40) + row within the file,
  // so that a row the database rejects is a dead letter `retry` can find.
  RowOrigins origin_;
  duckdb_selection_vector sel_;
  // Per good row, its number among the rows made of one input row
  // (RowBatch::items), while any batch had items; and the origins of failed
  // rows that were such items.
  std::vector<int64_t> item_;
  std::vector<int64_t> failed_item_origins_;
  // SetAsideRepeatedKeys and WithholdItemsOfFailedRows: the rows set aside
  // (by their position among all good rows, ascending) with their reasons,
  // and the position of each row of RowsSql() among all good rows (empty
  // while none is set aside).
  bool repeats_found_ = false;
  bool withheld_found_ = false;
  std::vector<RejectedRow> repeats_;
  std::vector<int64_t> kept_;
  // Adds `more` (ascending positions) to the rows set aside.
  void SetAside(std::vector<RejectedRow> more);
  // `rejected` (positions in RowsSql()) as positions among all good rows,
  // with the rows set aside.
  std::vector<RejectedRow> AllRefused(const std::vector<RejectedRow>& rejected) const;
  // All good rows but those at `positions`.
  std::string AllRowsExcept(const std::vector<RejectedRow>& positions) const;
};

}  // namespace nightshift::io
