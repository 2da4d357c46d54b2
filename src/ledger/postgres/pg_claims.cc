#include "ledger/postgres/pg_claims.h"

#include <fmt/format.h>

#include <algorithm>

#include "ledger/postgres/pg_records.h"

namespace nightshift::pgledger {
namespace {

using std::to_string;

// The parts of a shard row that claims and commits decide on.
struct ShardLease {
  ShardState state = ShardState::kPending;
  int64_t epoch = 0;
  std::string output_file;
  int64_t lease_left_ms = 0;  // until the lease lapses, by the database's clock
};

Result<ShardLease> FindShard(PgConn* conn, const std::string& run_id, int64_t shard_id) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("SELECT state, epoch, output_file, "
                                 "lease_until_ms - nightshift.now_ms() FROM nightshift.shards "
                                 "WHERE run_id = $1::text AND shard_id = $2::bigint",
                                 "reading a shard's claim", {run_id, to_string(shard_id)}));
  if (r.rows() == 0) {
    return Error(Code::kNotFound, fmt::format("no shard {} of run '{}' in ledger {}", shard_id,
                                              run_id, conn->described()));
  }
  ShardLease lease;
  auto state = ParseShardState(r.Text(0, 0));
  if (!state.has_value()) return Error(BadRow(fmt::format("shard {}", shard_id), state.error()));
  lease.state = *state;
  lease.epoch = r.Int(0, 1);
  lease.output_file = r.Text(0, 2);
  lease.lease_left_ms = r.Int(0, 3);
  return lease;
}

// Final (another worker won): never retried, and not the job's fault.
Status AlreadyCommitted(const std::string& run_id, int64_t shard_id) {
  return Status(Code::kConflict,
                fmt::format("shard {} of run '{}' is already committed", shard_id, run_id));
}

Status StaleEpoch(const std::string& run_id, int64_t shard_id, int64_t epoch, int64_t current) {
  return Status(Code::kConflict,
                fmt::format("stale epoch {} for shard {} of run '{}' (current epoch {}); "
                            "another worker claimed it",
                            epoch, shard_id, run_id, current));
}

Status NotClaimed(const std::string& run_id, int64_t shard_id, const ShardLease& lease) {
  return Status(Code::kConflict,
                fmt::format("shard {} of run '{}' is not claimed (state {}, epoch {})", shard_id,
                            run_id, ShardStateName(lease.state), lease.epoch));
}

// Why a commit that matched no row was refused (or OK: the same commit again).
Status WhyNotCommitted(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                       const std::string& output_file) {
  NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(conn, run_id, shard_id));
  if (lease.state == ShardState::kCommitted) {
    // The same commit repeated (e.g. after the reply was lost): nothing to do.
    if (lease.epoch == epoch && lease.output_file == output_file) return Status::Ok();
    if (lease.epoch != epoch) return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
    return Status(Code::kConflict,
                  fmt::format("shard {} of run '{}' is already committed with output '{}'",
                              shard_id, run_id, lease.output_file));
  }
  if (lease.epoch != epoch) return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
  return NotClaimed(run_id, shard_id, lease);
}

// Records worker $2/$3/$4 of run $1 ($5 workers, index $6) with a heartbeat
// now; t is the statement's "now" on the database's clock. Nothing for a run
// that does not exist.
#define NS_PG_WORKER_UPSERT                                                                  \
  "t AS (SELECT nightshift.now_ms() AS ms), "                                                \
  "w AS (INSERT INTO nightshift.workers (run_id, host, pid, start_time, worker_index, "      \
  "workers, started_at_ms, heartbeat_at_ms) SELECT $1::text, $2::text, $3::bigint, "         \
  "$4::bigint, $6::integer, $5::integer, t.ms, t.ms FROM t WHERE EXISTS (SELECT 1 FROM "     \
  "nightshift.runs WHERE run_id = $1::text) ON CONFLICT (run_id, host, pid, start_time) DO " \
  "UPDATE SET worker_index = excluded.worker_index, workers = excluded.workers, "            \
  "heartbeat_at_ms = excluded.heartbeat_at_ms) "

std::vector<std::string> WorkerParams(const std::string& run_id, const RunOwner& me,
                                      const ClaimPolicy& policy) {
  const int32_t workers = std::max(policy.workers, 1);
  return {run_id,
          me.host,
          to_string(me.pid),
          to_string(me.start_time),
          to_string(workers),
          to_string(((policy.worker_index % workers) + workers) % workers),
          to_string(std::max<int64_t>(policy.lease_ms, 0))};
}

}  // namespace

Status NoSuchRun(PgConn* conn, const std::string& run_id) {
  return Status(Code::kNotFound,
                fmt::format("no run '{}' in ledger {}", run_id, conn->described()));
}

Status RequireRun(PgConn* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("SELECT 1 FROM nightshift.runs WHERE run_id = $1::text",
                                 "reading a run", {run_id}));
  return r.rows() > 0 ? Status::Ok() : NoSuchRun(conn, run_id);
}

Result<int64_t> ClaimShard(PgConn* conn, const std::string& run_id, int64_t shard_id) {
  // A claim by id (not by a worker's policy) holds for the default lease.
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("UPDATE nightshift.shards SET state = 'running', attempts = attempts + 1, "
                 "epoch = epoch + 1, started_at_ms = nightshift.now_ms(), "
                 "lease_until_ms = nightshift.now_ms() + $3::bigint, holder_host = '', "
                 "holder_pid = 0, holder_start = 0 WHERE run_id = $1::text AND "
                 "shard_id = $2::bigint AND state <> 'committed' RETURNING epoch",
                 "claiming a shard",
                 {run_id, to_string(shard_id), to_string(ClaimPolicy{}.lease_ms)}));
  if (r.rows() == 1) return r.Int(0, 0);
  NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(conn, run_id, shard_id));
  (void)lease;  // it exists, so it is committed
  return Error(AlreadyCommitted(run_id, shard_id));
}

Result<std::optional<ShardRecord>> ClaimNextShard(PgConn* conn, const std::string& run_id,
                                                  const RunOwner& me, const ClaimPolicy& policy) {
  // One statement: SKIP LOCKED passes over a shard another claimer is taking
  // right now, and the WHERE is checked again on the row once locked, so two
  // claimers never get one shard. The lease ends by the database's clock.
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("WITH " NS_PG_WORKER_UPSERT
                 ", pick AS (SELECT shard_id FROM nightshift.shards WHERE run_id = $1::text "
                 "AND state <> 'committed' AND (state <> 'running' OR lease_until_ms <= "
                 "nightshift.now_ms()) ORDER BY (shard_id % $5::integer = $6::integer) DESC, "
                 "shard_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                 "UPDATE nightshift.shards s SET state = 'running', attempts = s.attempts + 1, "
                 "epoch = s.epoch + 1, started_at_ms = t.ms, lease_until_ms = t.ms + "
                 "$7::bigint, holder_host = $2::text, holder_pid = $3::bigint, holder_start = "
                 "$4::bigint FROM pick, t WHERE s.run_id = $1::text AND s.shard_id = "
                 "pick.shard_id RETURNING s." NS_PG_SHARD_COLUMNS,
                 "claiming the next shard", WorkerParams(run_id, me, policy)));
  if (r.rows() == 0) {
    NS_RETURN_IF_ERROR(RequireRun(conn, run_id));
    return std::optional<ShardRecord>();
  }
  NS_ASSIGN_OR_RETURN(ShardRecord shard, ReadShard(r, 0));
  return std::optional<ShardRecord>(std::move(shard));
}

Status RenewLeases(PgConn* conn, const std::string& run_id, const RunOwner& me,
                   const ClaimPolicy& policy) {
  // holder_* names the worker of the shard's current epoch: a shard another
  // worker claimed since is not ours to renew. A locked row is passed over:
  // a shard being committed in an output transaction (LockForCommit) cannot
  // be claimed while it is locked, and waiting for that transaction would
  // hold up every other call of this worker's ledger session.
  return conn->Run("WITH " NS_PG_WORKER_UPSERT
                   ", mine AS (SELECT shard_id FROM nightshift.shards WHERE run_id = $1::text AND "
                   "state = 'running' AND holder_host = $2::text AND holder_pid = $3::bigint AND "
                   "holder_start = $4::bigint FOR UPDATE SKIP LOCKED) "
                   "UPDATE nightshift.shards s SET lease_until_ms = t.ms + $7::bigint FROM t, mine "
                   "WHERE s.run_id = $1::text AND s.shard_id = mine.shard_id",
                   "renewing leases", WorkerParams(run_id, me, policy));
}

Status CheckClaim(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                  int64_t margin_ms) {
  NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(conn, run_id, shard_id));
  if (lease.state == ShardState::kCommitted) {
    return Status(Code::kConflict,
                  fmt::format("shard {} of run '{}' is already committed (epoch {}; ours {})",
                              shard_id, run_id, lease.epoch, epoch));
  }
  if (lease.epoch != epoch) return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
  if (lease.state != ShardState::kRunning) return NotClaimed(run_id, shard_id, lease);
  if (lease.lease_left_ms < margin_ms) {
    return Status(Code::kConflict,
                  fmt::format("the lease of shard {} of run '{}' (epoch {}) has {} ms left, "
                              "under the {} ms needed to publish",
                              shard_id, run_id, epoch, lease.lease_left_ms, margin_ms));
  }
  return Status::Ok();
}

Result<bool> MarkCommitted(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                           const ShardCommitRecord& rec) {
  // The shard's row changes only while `epoch` is its current claim (the
  // fence), and its failures go in with it: one statement.
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("WITH c AS (UPDATE nightshift.shards SET state = 'committed', rows_written = "
                 "$4::bigint, rows_failed = $7::bigint, output_file = $5::text, "
                 "dead_letter_file = $6::text, committed_at_ms = nightshift.now_ms(), "
                 "message = '' WHERE run_id = $1::text AND shard_id = $2::bigint AND epoch = "
                 "$3::bigint AND state = 'running' RETURNING file_index), "
                 "f AS (INSERT INTO nightshift.item_failures (run_id, shard_id, \"row\", "
                 "key_json, error, attempts, file_index) SELECT $1::text, $2::bigint, "
                 "((x.file_index - c.file_index)::bigint << 32) + x.\"row\", x.key_json, "
                 "x.error, x.attempts, x.file_index FROM c, " NS_PG_FAILURES_RECORDSET(
                     "$8") ") SELECT count(*) FROM c",
                 "committing a shard",
                 {run_id, to_string(shard_id), to_string(epoch), to_string(rec.rows_written),
                  rec.output_file, rec.dead_letter_file, to_string(rec.failures.size()),
                  FailuresJson(rec.failures)}));
  return r.Int(0, 0) == 1;
}

Status CommitShard(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                   const ShardCommitRecord& rec) {
  NS_ASSIGN_OR_RETURN(bool now, MarkCommitted(conn, run_id, shard_id, epoch, rec));
  if (now) return Status::Ok();
  return WhyNotCommitted(conn, run_id, shard_id, epoch, rec.output_file);
}

Result<std::optional<int64_t>> LockForCommit(PgConn* conn, const std::string& run_id,
                                             int64_t shard_id, int64_t epoch) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("SELECT state, epoch, rows_written FROM nightshift.shards WHERE "
                                 "run_id = $1::text AND shard_id = $2::bigint FOR UPDATE",
                                 "locking a shard's claim", {run_id, to_string(shard_id)}));
  if (r.rows() == 0) {
    return Error(Code::kNotFound, fmt::format("no shard {} of run '{}' in ledger {}", shard_id,
                                              run_id, conn->described()));
  }
  auto state = ParseShardState(r.Text(0, 0));
  if (!state.has_value()) return Error(BadRow(fmt::format("shard {}", shard_id), state.error()));
  const int64_t current = r.Int(0, 1);
  if (current != epoch) return Error(StaleEpoch(run_id, shard_id, epoch, current));
  if (*state == ShardState::kCommitted) return std::optional<int64_t>(r.Int(0, 2));
  if (*state != ShardState::kRunning) {
    ShardLease lease;
    lease.state = *state;
    lease.epoch = current;
    return Error(NotClaimed(run_id, shard_id, lease));
  }
  return std::optional<int64_t>();
}

Status FailShard(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                 const std::string& message) {
  // Failed is claimable again at once: the lease no longer matters.
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("UPDATE nightshift.shards SET state = 'failed', message = $4::text "
                 "WHERE run_id = $1::text AND shard_id = $2::bigint AND epoch = $3::bigint "
                 "AND state <> 'committed' RETURNING 1",
                 "failing a shard", {run_id, to_string(shard_id), to_string(epoch), message}));
  if (r.rows() == 1) return Status::Ok();
  NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(conn, run_id, shard_id));
  if (lease.state == ShardState::kCommitted) return AlreadyCommitted(run_id, shard_id);
  return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
}

Result<bool> CompleteRunIfDone(PgConn* conn, const std::string& run_id) {
  // Concurrent callers queue on the run's row; each re-checks the WHERE on
  // the row as the previous one left it, so exactly one sees "not completed".
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("WITH u AS (UPDATE nightshift.runs SET state = 'completed', message = '', "
                 "updated_at_ms = nightshift.now_ms(), finished_at_ms = nightshift.now_ms() "
                 "WHERE run_id = $1::text AND state <> 'completed' AND NOT EXISTS (SELECT 1 "
                 "FROM nightshift.shards WHERE run_id = $1::text AND state <> 'committed') "
                 "RETURNING 1) SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM "
                 "nightshift.runs WHERE run_id = $1::text)",
                 "completing a run", {run_id}));
  if (r.Text(0, 1) != "t") return Error(NoSuchRun(conn, run_id));
  return r.Int(0, 0) == 1;
}

Result<std::vector<WorkerRecord>> ListWorkers(PgConn* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec(
          "SELECT w.host, w.pid, w.start_time, w.started_at_ms, w.heartbeat_at_ms, "
          "w.worker_index, w.workers, "
          "count(*) FILTER (WHERE s.state = 'running' AND s.lease_until_ms > "
          "nightshift.now_ms()), count(*) FILTER (WHERE s.state = 'committed') "
          "FROM nightshift.workers w LEFT JOIN nightshift.shards s ON s.run_id = "
          "w.run_id AND s.holder_host = w.host AND s.holder_pid = w.pid AND "
          "s.holder_start = w.start_time WHERE w.run_id = $1::text GROUP BY w.run_id, w.host, "
          "w.pid, w.start_time ORDER BY w.heartbeat_at_ms DESC, w.host, w.pid",
          "listing a run's workers", {run_id}));
  std::vector<WorkerRecord> workers;
  for (int i = 0; i < r.rows(); ++i) {
    WorkerRecord w;
    w.who = {.host = r.Text(i, 0),
             .pid = r.Int(i, 1),
             .start_time = r.Int(i, 2),
             .acquired_at_ms = r.Int(i, 3),
             .heartbeat_at_ms = r.Int(i, 4)};
    w.worker_index = static_cast<int32_t>(r.Int(i, 5));
    w.workers = static_cast<int32_t>(r.Int(i, 6));
    w.shards_held = r.Int(i, 7);
    w.shards_committed = r.Int(i, 8);
    workers.push_back(std::move(w));
  }
  return workers;
}

}  // namespace nightshift::pgledger
