// Records: how run and shard rows are read back from the SQLite ledger: the
// column lists the queries select and the readers that turn a row of them
// into a RunRecord or ShardRecord (keep the two in step).
#pragma once

#include <fmt/format.h>

#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

#define NS_RUN_COLUMNS                                                       \
  "run_id, job_name, fingerprint, state, message, output_path, model_path, " \
  "model_sha256, total_rows, total_shards, created_at_ms, updated_at_ms, "   \
  "finished_at_ms"
#define NS_SHARD_COLUMNS                                                                  \
  "shard_id, file_index, row_begin, row_end, state, attempts, epoch, rows_written, "      \
  "rows_failed, output_file, dead_letter_file, started_at_ms, committed_at_ms, message, " \
  "file_last, "                                                                           \
  "key_after, key_upto, claimed_by"

// A state name read back from the file; anything unknown means the file was
// damaged or written by something else: IoError naming the ledger.
template <typename T>
Result<T> Checked(Result<T> parsed, const Connection& conn) {
  if (parsed.has_value()) return parsed;
  return Error(Code::kIoError,
               fmt::format("ledger '{}' is corrupt: {}", conn.path(), parsed.error().message()));
}

// A row selected with NS_RUN_COLUMNS / NS_SHARD_COLUMNS.
Result<RunRecord> ReadRun(const Statement& s, const Connection& conn);
Result<ShardRecord> ReadShard(const Statement& s, const Connection& conn);

}  // namespace nightshift::sqlite
