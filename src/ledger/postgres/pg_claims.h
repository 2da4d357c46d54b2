// The PostgreSQL ledger's shard claims: leases on the database's clock, an
// epoch per claim, and commits fenced by that epoch (see docs/scale-out.md).
// Each function is one atomic statement or transaction on `conn`; the
// contracts are Ledger's (include/nightshift/ledger.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ledger/postgres/pg_session.h"
#include "nightshift/ledger.h"

namespace nightshift::pgledger {

Result<int64_t> ClaimShard(PgConn* conn, const std::string& run_id, int64_t shard_id);
Result<std::optional<ShardRecord>> ClaimNextShard(PgConn* conn, const std::string& run_id,
                                                  const RunOwner& me, const ClaimPolicy& policy);
Status RenewLeases(PgConn* conn, const std::string& run_id, const RunOwner& me,
                   const ClaimPolicy& policy);
Status CheckClaim(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                  int64_t margin_ms);
// What a shard's commit records.
struct ShardCommitRecord {
  int64_t rows_written = 0;
  std::string output_file;
  std::string dead_letter_file;
  std::vector<ItemFailure> failures;
};
Status CommitShard(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                   const ShardCommitRecord& rec);
// The fenced statement of CommitShard: marks the shard committed by `epoch`
// with `rec` (and its failures) when `epoch` holds its claim, in the
// transaction open on `conn` (if any). True when it did; false when the row
// did not match (already committed, or another epoch's): nothing changed.
Result<bool> MarkCommitted(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                           const ShardCommitRecord& rec);
// Locks the shard's row for the rest of the open transaction (a claim by
// another worker waits, and SKIP LOCKED passes over it) and says whether
// `epoch` may commit it: nullopt when it holds the claim; the rows recorded
// when `epoch` already committed it (a repeat); kConflict for a stale epoch
// or a shard not claimed.
Result<std::optional<int64_t>> LockForCommit(PgConn* conn, const std::string& run_id,
                                             int64_t shard_id, int64_t epoch);
Status FailShard(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                 const std::string& message);
Result<bool> CompleteRunIfDone(PgConn* conn, const std::string& run_id);
Result<std::vector<WorkerRecord>> ListWorkers(PgConn* conn, const std::string& run_id);

// NotFound naming the run and the ledger.
Status NoSuchRun(PgConn* conn, const std::string& run_id);
// NotFound unless run `run_id` exists.
Status RequireRun(PgConn* conn, const std::string& run_id);

}  // namespace nightshift::pgledger
