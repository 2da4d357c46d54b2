#include "ledger/sqlite/claim_store.h"

#include <fmt/format.h>

#include "ledger/sqlite/records.h"

namespace nightshift::sqlite {
namespace {

// How a worker is named in shards.claimed_by and workers.worker: the three
// fields that tell processes apart, also across a reused pid.
std::string WorkerKey(const RunOwner& me) {
  return fmt::format("{}/{}/{}", me.host, me.pid, me.start_time);
}

Status UpsertWorker(Connection* conn, const std::string& run_id, const RunOwner& me,
                    const ClaimPolicy& policy, int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(Statement upsert,
                      conn->Prepare("INSERT INTO workers (run_id, worker, host, pid, start_time, "
                                    "worker_index, workers, heartbeat_at_ms) VALUES (?1, ?2, ?3, "
                                    "?4, ?5, ?6, ?7, ?8) ON CONFLICT (run_id, worker) DO UPDATE "
                                    "SET worker_index = excluded.worker_index, "
                                    "workers = excluded.workers, "
                                    "heartbeat_at_ms = excluded.heartbeat_at_ms"));
  upsert.Bind(1, run_id)
      .Bind(2, WorkerKey(me))
      .Bind(3, me.host)
      .Bind(4, me.pid)
      .Bind(5, me.start_time)
      .Bind(6, int64_t{policy.worker_index})
      .Bind(7, int64_t{policy.workers})
      .Bind(8, now_ms);
  return upsert.Run();
}

// The claimable shard to take: not committed, and not held by `me` under a
// live lease (another process's hold is void: AcquireRun proved it gone).
// This worker's own shards first, then the lowest id.
Result<std::optional<int64_t>> PickShard(Connection* conn, const std::string& run_id,
                                         const RunOwner& me, const ClaimPolicy& policy,
                                         int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT shard_id FROM shards WHERE run_id = ?1 "
                                    "AND state <> 'committed' AND (state <> 'running' OR "
                                    "claimed_by <> ?2 OR lease_expires_ms <= ?3) "
                                    "ORDER BY (shard_id % ?4 = ?5) DESC, shard_id LIMIT 1"));
  select.Bind(1, run_id)
      .Bind(2, WorkerKey(me))
      .Bind(3, now_ms)
      .Bind(4, int64_t{std::max(1, policy.workers)})
      .Bind(5, int64_t{policy.worker_index});
  NS_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(select.Int(0));
}

}  // namespace

Result<std::optional<ShardRecord>> ClaimNext(Connection* conn, const std::string& run_id,
                                             const RunOwner& me, const ClaimPolicy& policy,
                                             int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(std::optional<int64_t> shard_id, PickShard(conn, run_id, me, policy, now_ms));
  if (!shard_id.has_value()) return std::optional<ShardRecord>();
  {
    NS_ASSIGN_OR_RETURN(Statement update,
                        conn->Prepare("UPDATE shards SET state = 'running', attempts = attempts "
                                      "+ 1, epoch = epoch + 1, started_at_ms = ?3, "
                                      "claimed_by = ?4, lease_expires_ms = ?5 "
                                      "WHERE run_id = ?1 AND shard_id = ?2"));
    update.Bind(1, run_id)
        .Bind(2, *shard_id)
        .Bind(3, now_ms)
        .Bind(4, WorkerKey(me))
        .Bind(5, now_ms + policy.lease_ms);
    NS_RETURN_IF_ERROR(update.Run());
  }
  NS_RETURN_IF_ERROR(UpsertWorker(conn, run_id, me, policy, now_ms));
  NS_ASSIGN_OR_RETURN(
      Statement select,
      conn->Prepare("SELECT " NS_SHARD_COLUMNS " FROM shards WHERE run_id = ?1 AND shard_id = ?2"));
  select.Bind(1, run_id).Bind(2, *shard_id);
  NS_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return Error(Code::kInternal, fmt::format("shard {} vanished", *shard_id));
  NS_ASSIGN_OR_RETURN(ShardRecord shard, ReadShard(select, *conn));
  return std::optional<ShardRecord>(std::move(shard));
}

Status RenewClaims(Connection* conn, const std::string& run_id, const RunOwner& me,
                   const ClaimPolicy& policy, int64_t now_ms) {
  {
    NS_ASSIGN_OR_RETURN(Statement update,
                        conn->Prepare("UPDATE shards SET lease_expires_ms = ?3 WHERE run_id = ?1 "
                                      "AND claimed_by = ?2 AND state = 'running'"));
    update.Bind(1, run_id).Bind(2, WorkerKey(me)).Bind(3, now_ms + policy.lease_ms);
    NS_RETURN_IF_ERROR(update.Run());
  }
  return UpsertWorker(conn, run_id, me, policy, now_ms);
}

Status CheckShardClaim(Connection* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                       int64_t margin_ms, int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT state, epoch, lease_expires_ms FROM shards "
                                    "WHERE run_id = ?1 AND shard_id = ?2"));
  select.Bind(1, run_id).Bind(2, shard_id);
  NS_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) {
    return Status(Code::kNotFound, fmt::format("no shard {} of run '{}' in ledger '{}'", shard_id,
                                               run_id, conn->path()));
  }
  const std::string state = select.Text(0);
  const int64_t current = select.Int(1);
  const int64_t left_ms = select.Int(2) - now_ms;
  if (state == "running" && current == epoch && left_ms >= margin_ms) return Status::Ok();
  std::string why =
      current != epoch ? fmt::format("current epoch {}", current)
      : state != "running"
          ? fmt::format("it is {}", state)
          : fmt::format("its lease has {} ms left, under the {} ms margin", left_ms, margin_ms);
  return Status(Code::kConflict, fmt::format("claim of shard {} of run '{}' at epoch {} is "
                                             "lost ({})",
                                             shard_id, run_id, epoch, why));
}

Result<bool> CompleteIfDone(Connection* conn, const std::string& run_id, int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(Statement update,
                      conn->Prepare("UPDATE runs SET state = 'completed', message = '', "
                                    "updated_at_ms = ?2, finished_at_ms = ?2 WHERE run_id = ?1 "
                                    "AND state <> 'completed' AND NOT EXISTS (SELECT 1 FROM "
                                    "shards WHERE run_id = ?1 AND state <> 'committed')"));
  update.Bind(1, run_id).Bind(2, now_ms);
  NS_RETURN_IF_ERROR(update.Run());
  return sqlite3_changes(conn->handle()) > 0;
}

Result<std::vector<WorkerRecord>> SelectWorkers(Connection* conn, const std::string& run_id,
                                                int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(
      Statement select,
      conn->Prepare("SELECT w.host, w.pid, w.start_time, w.heartbeat_at_ms, w.worker_index, "
                    "w.workers, COALESCE(SUM(s.state = 'running' AND s.lease_expires_ms > ?2), "
                    "0), COALESCE(SUM(s.state = 'committed'), 0) FROM workers w LEFT JOIN "
                    "shards s ON s.run_id = w.run_id AND s.claimed_by = w.worker "
                    "WHERE w.run_id = ?1 GROUP BY w.worker "
                    "ORDER BY w.heartbeat_at_ms DESC, w.worker"));
  select.Bind(1, run_id).Bind(2, now_ms);
  std::vector<WorkerRecord> workers;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return workers;
    WorkerRecord w;
    w.who = RunOwner{.host = select.Text(0),
                     .pid = select.Int(1),
                     .start_time = select.Int(2),
                     .heartbeat_at_ms = select.Int(3)};
    w.worker_index = static_cast<int32_t>(select.Int(4));
    w.workers = static_cast<int32_t>(select.Int(5));
    w.shards_held = select.Int(6);
    w.shards_committed = select.Int(7);
    workers.push_back(std::move(w));
  }
}

}  // namespace nightshift::sqlite
