// The run and shard records as both ledgers (SQLite, PostgreSQL) store them:
// the one list of their columns, in the order the queries select them, and
// the one mapping of a selected row to a record. A new field is added here,
// once, for both.
#pragma once

#include <cstdint>
#include <string>

#include "nightshift/ledger.h"
#include "nightshift/status.h"

#define NS_LEDGER_RUN_COLUMNS                                                              \
  "run_id, job_name, fingerprint, state, message, output_path, model_path, model_sha256, " \
  "total_rows, total_shards, created_at_ms, updated_at_ms, finished_at_ms"
// The shard columns; `worker` is the ledger's own expression for column 17,
// the worker that holds the shard's claim ("" when none).
#define NS_LEDGER_SHARD_COLUMNS(worker)                                                   \
  "shard_id, file_index, row_begin, row_end, state, attempts, epoch, rows_written, "      \
  "rows_failed, output_file, dead_letter_file, started_at_ms, committed_at_ms, message, " \
  "file_last, key_after, key_upto, " worker

namespace nightshift::ledger {

// `row`: one selected row, read by column number (std::string Text(int),
// int64_t Int(int)). The error is a state name this program does not know;
// the caller says which ledger and record it came from.
template <typename Row>
Result<RunRecord> RunFromRow(const Row& row) {
  RunRecord r;
  r.run_id = row.Text(0);
  r.job_name = row.Text(1);
  r.fingerprint = row.Text(2);
  NS_ASSIGN_OR_RETURN(r.state, ParseRunState(row.Text(3)));
  r.message = row.Text(4);
  r.output_path = row.Text(5);
  r.model_path = row.Text(6);
  r.model_sha256 = row.Text(7);
  r.total_rows = row.Int(8);
  r.total_shards = row.Int(9);
  r.created_at_ms = row.Int(10);
  r.updated_at_ms = row.Int(11);
  r.finished_at_ms = row.Int(12);
  return r;
}

template <typename Row>
Result<ShardRecord> ShardFromRow(const Row& row) {
  ShardRecord s;
  s.shard_id = row.Int(0);
  s.file_index = static_cast<int32_t>(row.Int(1));
  s.row_begin = row.Int(2);
  s.row_end = row.Int(3);
  NS_ASSIGN_OR_RETURN(s.state, ParseShardState(row.Text(4)));
  s.attempts = static_cast<int32_t>(row.Int(5));
  s.epoch = row.Int(6);
  s.rows_written = row.Int(7);
  s.rows_failed = row.Int(8);
  s.output_file = row.Text(9);
  s.dead_letter_file = row.Text(10);
  s.started_at_ms = row.Int(11);
  s.committed_at_ms = row.Int(12);
  s.message = row.Text(13);
  s.file_last = static_cast<int32_t>(row.Int(14));
  s.key_after = row.Text(15);
  s.key_upto = row.Text(16);
  s.worker = row.Text(17);
  return s;
}

}  // namespace nightshift::ledger
