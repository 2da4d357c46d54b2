#include "ledger/sqlite/retry_store.h"

#include <fmt/format.h>

namespace nightshift::sqlite {

Status InsertItemFailures(Connection* conn, const std::string& run_id, int64_t shard_id,
                          const std::vector<ItemFailure>& failures) {
  for (const ItemFailure& f : failures) {
    NS_ASSIGN_OR_RETURN(
        Statement insert,
        conn->Prepare("INSERT INTO item_failures (run_id, shard_id, \"row\", key_json, error, "
                      "attempts, file_index) VALUES (?1, ?2, ((?7 - (SELECT file_index FROM "
                      "shards WHERE run_id = ?1 AND shard_id = ?2)) << 32) + ?3, ?4, ?5, ?6, "
                      "?7)"));
    insert.Bind(1, run_id)
        .Bind(2, shard_id)
        .Bind(3, f.row)
        .Bind(4, f.key_json)
        .Bind(5, f.error)
        .Bind(6, int64_t{f.attempts})
        .Bind(7, int64_t{f.file_index});
    NS_RETURN_IF_ERROR(insert.Run());
  }
  return Status::Ok();
}

namespace {

// True when retry part `seq` of the shard is already committed with
// `output_file` (a repeat); Conflict, final, when another retry committed
// first (`seq` is not the next part).
Result<bool> CheckRetrySeq(Connection* conn, const std::string& run_id, int64_t shard_id,
                           int32_t seq, const std::string& output_file) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT COUNT(*), COALESCE(MAX(CASE WHEN seq = ?3 THEN "
                                    "output_file END), '') FROM retry_parts "
                                    "WHERE run_id = ?1 AND shard_id = ?2"));
  select.Bind(1, run_id).Bind(2, shard_id).Bind(3, int64_t{seq});
  NS_ASSIGN_OR_RETURN(bool row, select.Step());
  int64_t parts = 0;
  if (row) {
    parts = select.Int(0);
    if (select.Text(1) == output_file && !output_file.empty()) return true;
  }
  if (seq != parts + 1) {
    return Error(Code::kConflict,
                 fmt::format("retry {} of shard {} of run '{}' is stale: the shard has {} "
                             "retry part(s)",
                             seq, shard_id, run_id, parts));
  }
  return false;
}

// Only committed shards are retried.
Status CheckShardCommitted(Connection* conn, const std::string& run_id, int64_t shard_id) {
  NS_ASSIGN_OR_RETURN(
      Statement shard,
      conn->Prepare("SELECT state FROM shards WHERE run_id = ?1 AND shard_id = ?2"));
  shard.Bind(1, run_id).Bind(2, shard_id);
  NS_ASSIGN_OR_RETURN(bool row, shard.Step());
  if (!row || shard.Text(0) != ShardStateName(ShardState::kCommitted)) {
    return Status(
        Code::kInvalidJob,
        fmt::format("shard {} of run '{}' is not committed: only committed shards are retried",
                    shard_id, run_id));
  }
  return Status::Ok();
}

Status InsertRetryPart(Connection* conn, const std::string& run_id, int64_t shard_id, int32_t seq,
                       int64_t rows_written, const std::string& output_file, int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(Statement insert,
                      conn->Prepare("INSERT INTO retry_parts (run_id, shard_id, seq, output_file, "
                                    "rows, committed_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  insert.Bind(1, run_id)
      .Bind(2, shard_id)
      .Bind(3, int64_t{seq})
      .Bind(4, output_file)
      .Bind(5, rows_written)
      .Bind(6, now_ms);
  return insert.Run();
}

// The shard's failures become `remaining`, its counts and dead-letter file
// those after the retry.
Status ReplaceShardFailures(Connection* conn, const std::string& run_id, int64_t shard_id,
                            int64_t rows_written, const std::string& dead_letter_file,
                            const std::vector<ItemFailure>& remaining) {
  {
    NS_ASSIGN_OR_RETURN(
        Statement del,
        conn->Prepare("DELETE FROM item_failures WHERE run_id = ?1 AND shard_id = ?2"));
    del.Bind(1, run_id).Bind(2, shard_id);
    NS_RETURN_IF_ERROR(del.Run());
  }
  NS_RETURN_IF_ERROR(InsertItemFailures(conn, run_id, shard_id, remaining));
  NS_ASSIGN_OR_RETURN(Statement update,
                      conn->Prepare("UPDATE shards SET rows_written = rows_written + ?3, "
                                    "rows_failed = ?4, dead_letter_file = ?5 "
                                    "WHERE run_id = ?1 AND shard_id = ?2"));
  update.Bind(1, run_id)
      .Bind(2, shard_id)
      .Bind(3, rows_written)
      .Bind(4, static_cast<int64_t>(remaining.size()))
      .Bind(5, dead_letter_file);
  return update.Run();
}

}  // namespace

Status CommitRetryPart(Connection* conn, const std::string& run_id, int64_t shard_id, int32_t seq,
                       int64_t rows_written, const std::string& output_file,
                       const std::string& dead_letter_file,
                       const std::vector<ItemFailure>& remaining, int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(bool repeat, CheckRetrySeq(conn, run_id, shard_id, seq, output_file));
  if (repeat) return Status::Ok();
  NS_RETURN_IF_ERROR(CheckShardCommitted(conn, run_id, shard_id));
  NS_RETURN_IF_ERROR(
      InsertRetryPart(conn, run_id, shard_id, seq, rows_written, output_file, now_ms));
  return ReplaceShardFailures(conn, run_id, shard_id, rows_written, dead_letter_file, remaining);
}

Result<std::vector<RetryPart>> SelectRetryParts(Connection* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT shard_id, seq, output_file, rows FROM retry_parts "
                                    "WHERE run_id = ?1 ORDER BY shard_id, seq"));
  select.Bind(1, run_id);
  std::vector<RetryPart> parts;
  for (;;) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    RetryPart p;
    p.shard_id = select.Int(0);
    p.seq = static_cast<int32_t>(select.Int(1));
    p.output_file = select.Text(2);
    p.rows = select.Int(3);
    parts.push_back(std::move(p));
  }
  return parts;
}

Result<std::vector<ItemFailure>> SelectFailures(Connection* conn, const std::string& run_id,
                                                int64_t limit) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT i.shard_id, i.\"row\" - ((i.file_index - "
                                    "s.file_index) << 32), i.key_json, i.error, "
                                    "i.attempts, i.file_index, COALESCE(f.path, '') "
                                    "FROM item_failures i JOIN shards s USING (run_id, "
                                    "shard_id) LEFT JOIN files f ON f.run_id = i.run_id "
                                    "AND f.idx = i.file_index WHERE i.run_id = ?1 "
                                    "ORDER BY i.shard_id, i.\"row\" LIMIT ?2"));
  // SQLite reads a negative LIMIT as "no limit".
  select.Bind(1, run_id).Bind(2, limit < 0 ? int64_t{-1} : limit);
  std::vector<ItemFailure> failures;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return failures;
    failures.push_back({.shard_id = select.Int(0),
                        .row = select.Int(1),
                        .key_json = select.Text(2),
                        .error = select.Text(3),
                        .attempts = static_cast<int32_t>(select.Int(4)),
                        .file_index = static_cast<int32_t>(select.Int(5)),
                        .file = select.Text(6)});
  }
}

}  // namespace nightshift::sqlite
