#include "ledger/postgres/pg_results.h"

#include <fmt/format.h>

#include <cstdint>

#include "ledger/postgres/pg_claims.h"
#include "ledger/postgres/pg_records.h"

namespace nightshift::pgledger {
namespace {

using std::to_string;

// Replaces shard `shard_id`'s failures with `failures`.
Status ReplaceFailures(PgConn* conn, const std::string& run_id, int64_t shard_id,
                       const std::vector<ItemFailure>& failures) {
  NS_RETURN_IF_ERROR(
      conn->Run("DELETE FROM nightshift.item_failures WHERE run_id = $1::text "
                "AND shard_id = $2::bigint",
                "replacing a shard's failures", {run_id, to_string(shard_id)}));
  if (failures.empty()) return Status::Ok();
  // "row" is unique within the shard: for a packed shard, the file's offset
  // from the shard's first file in the high 32 bits (as SQLite stores it).
  return conn->Run(
      "INSERT INTO nightshift.item_failures (run_id, shard_id, \"row\", key_json, "
      "error, attempts, file_index) SELECT $1::text, $2::bigint, ((x.file_index - "
      "s.file_index)::bigint << 32) + x.\"row\", x.key_json, x.error, x.attempts, "
      "x.file_index FROM nightshift.shards s, " NS_PG_FAILURES_RECORDSET(
          "$3") " WHERE s.run_id = $1::text AND s.shard_id = $2::bigint",
      "recording a shard's failures", {run_id, to_string(shard_id), FailuresJson(failures)});
}

}  // namespace

Result<RunCounts> SelectCounts(PgConn* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("SELECT r.total_rows, (SELECT count(*) FROM nightshift.shards s WHERE s.run_id "
                 "= r.run_id), (SELECT count(*) FROM nightshift.shards s WHERE s.run_id = "
                 "r.run_id AND s.state = 'committed'), (SELECT COALESCE(sum(rows_written), 0) "
                 "FROM nightshift.shards s WHERE s.run_id = r.run_id AND s.state = "
                 "'committed'), (SELECT count(*) FROM nightshift.item_failures i WHERE "
                 "i.run_id = r.run_id) FROM nightshift.runs r WHERE r.run_id = $1::text",
                 "counting a run's rows", {run_id}));
  if (r.rows() == 0) return Error(NoSuchRun(conn, run_id));
  return RunCounts{.total_rows = r.Int(0, 0),
                   .succeeded = r.Int(0, 3),
                   .failed = r.Int(0, 4),
                   .shards_total = r.Int(0, 1),
                   .shards_committed = r.Int(0, 2)};
}

Result<std::vector<ItemFailure>> SelectFailures(PgConn* conn, const std::string& run_id,
                                                int64_t limit) {
  NS_RETURN_IF_ERROR(RequireRun(conn, run_id));
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("SELECT i.shard_id, i.\"row\" - ((i.file_index - s.file_index)::bigint << 32), "
                 "i.key_json, i.error, i.attempts, i.file_index, COALESCE(f.path, '') "
                 "FROM nightshift.item_failures i JOIN nightshift.shards s USING (run_id, "
                 "shard_id) LEFT JOIN nightshift.files f ON f.run_id = i.run_id AND f.idx = "
                 "i.file_index WHERE i.run_id = $1::text ORDER BY i.shard_id, i.\"row\" "
                 "LIMIT $2::bigint",
                 "listing a run's failures", {run_id, to_string(limit < 0 ? INT64_MAX : limit)}));
  std::vector<ItemFailure> failures;
  for (int i = 0; i < r.rows(); ++i) {
    failures.push_back({.shard_id = r.Int(i, 0),
                        .row = r.Int(i, 1),
                        .key_json = r.Text(i, 2),
                        .error = r.Text(i, 3),
                        .attempts = static_cast<int32_t>(r.Int(i, 4)),
                        .file_index = static_cast<int32_t>(r.Int(i, 5)),
                        .file = r.Text(i, 6)});
  }
  return failures;
}

Status CommitRetryPart(PgConn* conn, const std::string& run_id, int64_t shard_id, int32_t seq,
                       int64_t rows_written, const std::string& output_file,
                       const std::string& dead_letter_file,
                       const std::vector<ItemFailure>& remaining) {
  // The shard's row, locked: retries of one shard queue here.
  NS_ASSIGN_OR_RETURN(
      PgResult shard,
      conn->Exec("SELECT state, (SELECT count(*) FROM nightshift.retry_parts p WHERE p.run_id = "
                 "s.run_id AND p.shard_id = s.shard_id), (SELECT output_file FROM "
                 "nightshift.retry_parts p WHERE p.run_id = s.run_id AND p.shard_id = "
                 "s.shard_id AND p.seq = $3::integer) FROM nightshift.shards s WHERE s.run_id = "
                 "$1::text AND s.shard_id = $2::bigint FOR UPDATE",
                 "committing a retry", {run_id, to_string(shard_id), to_string(seq)}));
  if (shard.rows() == 1 && !output_file.empty() && !shard.IsNull(0, 2) &&
      shard.Text(0, 2) == output_file) {
    return Status::Ok();  // the same commit again
  }
  if (shard.rows() == 0 || shard.Text(0, 0) != ShardStateName(ShardState::kCommitted)) {
    return Status(Code::kInvalidJob, fmt::format("shard {} of run '{}' is not committed: only "
                                                 "committed shards are retried",
                                                 shard_id, run_id));
  }
  const int64_t parts = shard.Int(0, 1);
  if (seq != parts + 1) {
    return Status(Code::kConflict,  // another retry committed first: final
                  fmt::format("retry {} of shard {} of run '{}' is stale: the shard has {} "
                              "retry part(s)",
                              seq, shard_id, run_id, parts));
  }
  NS_RETURN_IF_ERROR(conn->Run(
      "INSERT INTO nightshift.retry_parts (run_id, shard_id, seq, "
      "output_file, rows, committed_at_ms) VALUES ($1::text, "
      "$2::bigint, $3::integer, $4::text, $5::bigint, "
      "nightshift.now_ms())",
      "committing a retry",
      {run_id, to_string(shard_id), to_string(seq), output_file, to_string(rows_written)}));
  NS_RETURN_IF_ERROR(ReplaceFailures(conn, run_id, shard_id, remaining));
  return conn->Run(
      "UPDATE nightshift.shards SET rows_written = rows_written + $3::bigint, "
      "rows_failed = $4::bigint, dead_letter_file = $5::text WHERE run_id = "
      "$1::text AND shard_id = $2::bigint",
      "committing a retry",
      {run_id, to_string(shard_id), to_string(rows_written), to_string(remaining.size()),
       dead_letter_file});
}

Result<std::vector<RetryPart>> SelectRetryParts(PgConn* conn, const std::string& run_id) {
  NS_RETURN_IF_ERROR(RequireRun(conn, run_id));
  NS_ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT shard_id, seq, output_file, rows FROM "
                                             "nightshift.retry_parts WHERE run_id = $1::text "
                                             "ORDER BY shard_id, seq",
                                             "listing a run's retry parts", {run_id}));
  std::vector<RetryPart> parts;
  for (int i = 0; i < r.rows(); ++i) {
    parts.push_back({.shard_id = r.Int(i, 0),
                     .seq = static_cast<int32_t>(r.Int(i, 1)),
                     .output_file = r.Text(i, 2),
                     .rows = r.Int(i, 3)});
  }
  return parts;
}

}  // namespace nightshift::pgledger
