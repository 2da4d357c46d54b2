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
Status CommitShard(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                   int64_t rows_written, const std::string& output_file,
                   const std::string& dead_letter_file, const std::vector<ItemFailure>& failures);
Status FailShard(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                 const std::string& message);
Result<bool> CompleteRunIfDone(PgConn* conn, const std::string& run_id);
Result<std::vector<WorkerRecord>> ListWorkers(PgConn* conn, const std::string& run_id);

// NotFound naming the run and the ledger.
Status NoSuchRun(PgConn* conn, const std::string& run_id);
// NotFound unless run `run_id` exists.
Status RequireRun(PgConn* conn, const std::string& run_id);

}  // namespace nightshift::pgledger
