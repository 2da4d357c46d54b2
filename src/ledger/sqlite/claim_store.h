// Shard claims of the SQLite ledger: the queries behind Ledger::ClaimNextShard,
// RenewLeases, CheckClaim, CompleteRunIfDone and ListWorkers (shards.claimed_by
// and shards.lease_expires_ms, table workers; schema version 6).
//
// One process owns a run at a time (AcquireRun), so a shard `running` under
// another process's identity is claimable whatever its lease says: that
// process is gone. Leases still expire for this process's own claims, and the
// clock is the ledger's Env.
//
// REQUIRES for all: the caller holds the ledger's connection exclusively;
// for the writes, inside a write transaction; the run exists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

// ClaimNextShard: nullopt when no shard of the run is claimable.
Result<std::optional<ShardRecord>> ClaimNext(Connection* conn, const std::string& run_id,
                                             const RunOwner& me, const ClaimPolicy& policy,
                                             int64_t now_ms);

// RenewLeases: extends `me`'s live claims and records `me` as a worker.
Status RenewClaims(Connection* conn, const std::string& run_id, const RunOwner& me,
                   const ClaimPolicy& policy, int64_t now_ms);

// CheckClaim: kConflict unless `epoch` is the shard's running claim with at
// least `margin_ms` of lease left at `now_ms`.
Status CheckShardClaim(Connection* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                       int64_t margin_ms, int64_t now_ms);

// CompleteRunIfDone: true when this call completed the run.
Result<bool> CompleteIfDone(Connection* conn, const std::string& run_id, int64_t now_ms);

// ListWorkers, newest heartbeat first; shards_held counts leases live at `now_ms`.
Result<std::vector<WorkerRecord>> SelectWorkers(Connection* conn, const std::string& run_id,
                                                int64_t now_ms);

}  // namespace nightshift::sqlite
