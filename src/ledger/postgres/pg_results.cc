#include "ledger/postgres/pg_results.h"

#include <fmt/format.h>

#include <cstdint>

#include "ledger/postgres/pg_claims.h"
#include "ledger/postgres/pg_records.h"

namespace nightshift::pgledger {
namespace {

using std::to_string;

std::vector<std::string> OwnerParams(const std::string& run_id, const RunOwner& me) {
  return {run_id, me.host, to_string(me.pid), to_string(me.start_time)};
}

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

Result<std::optional<RunOwner>> SelectOwner(PgConn* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("SELECT host, pid, start_time, acquired_at_ms, heartbeat_at_ms "
                                 "FROM nightshift.run_owners WHERE run_id = $1::text",
                                 "reading a run's owner", {run_id}));
  if (r.rows() == 0) return std::optional<RunOwner>();
  return std::optional<RunOwner>(RunOwner{.host = r.Text(0, 0),
                                          .pid = r.Int(0, 1),
                                          .start_time = r.Int(0, 2),
                                          .acquired_at_ms = r.Int(0, 3),
                                          .heartbeat_at_ms = r.Int(0, 4)});
}

Result<RunAcquisition> TakeOwner(PgConn* conn, const std::string& run_id, const RunOwner& me,
                                 const std::function<bool(const RunOwner&)>& owner_gone) {
  NS_ASSIGN_OR_RETURN(std::optional<RunOwner> current, SelectOwner(conn, run_id));
  if (current.has_value() && !current->SameProcess(me) && !owner_gone(*current)) {
    return RunAcquisition{.acquired = false, .holder = *current};
  }
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("INSERT INTO nightshift.run_owners (run_id, host, pid, start_time, "
                 "acquired_at_ms, heartbeat_at_ms) VALUES ($1::text, $2::text, $3::bigint, "
                 "$4::bigint, nightshift.now_ms(), nightshift.now_ms()) ON CONFLICT (run_id) DO "
                 "UPDATE SET host = excluded.host, pid = excluded.pid, start_time = "
                 "excluded.start_time, acquired_at_ms = excluded.acquired_at_ms, "
                 "heartbeat_at_ms = excluded.heartbeat_at_ms RETURNING acquired_at_ms",
                 "taking a run", OwnerParams(run_id, me)));
  RunOwner taken = me;
  taken.acquired_at_ms = r.Int(0, 0);
  taken.heartbeat_at_ms = taken.acquired_at_ms;
  return RunAcquisition{.acquired = true, .holder = taken};
}

Status TouchOwner(PgConn* conn, const std::string& run_id, const RunOwner& me) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("UPDATE nightshift.run_owners SET heartbeat_at_ms = "
                                 "nightshift.now_ms() WHERE run_id = $1::text AND host = "
                                 "$2::text AND pid = $3::bigint AND start_time = $4::bigint",
                                 "renewing a run's heartbeat", OwnerParams(run_id, me)));
  if (r.Affected() > 0) return Status::Ok();
  return Status(Code::kFailed,
                fmt::format("run '{}' is no longer owned by pid {} on host {}: another process "
                            "took it over",
                            run_id, me.pid, me.host));
}

Status DeleteOwner(PgConn* conn, const std::string& run_id, const RunOwner& me) {
  return conn->Run(
      "DELETE FROM nightshift.run_owners WHERE run_id = $1::text AND host = "
      "$2::text AND pid = $3::bigint AND start_time = $4::bigint",
      "releasing a run", OwnerParams(run_id, me));
}

}  // namespace nightshift::pgledger
