// The PostgreSQL ledger's runs and their plans: creating, reading and
// re-planning a run, what it was planned from, and its results (counts,
// failures, retry parts). Each function is one statement or runs inside the
// caller's transaction; the contracts are Ledger's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ledger/postgres/pg_session.h"
#include "nightshift/ledger.h"

namespace nightshift::pgledger {

// nullopt when there is no such run.
Result<std::optional<RunRecord>> FindRun(PgConn* conn, const std::string& run_id);
// Runs of `job_name`, newest first; at most `limit` (-1: all).
Result<std::vector<RunRecord>> SelectRuns(PgConn* conn, const std::string& job_name, int64_t limit);
// Its own transaction.
Result<RunRecord> CreateOrAttachRun(PgConn* conn, const RunRecord& run,
                                    const std::vector<InputFileRecord>& files,
                                    const std::vector<ShardRecord>& shards);
Result<std::vector<InputFileRecord>> SelectFiles(PgConn* conn, const std::string& run_id);
Result<std::vector<ShardRecord>> SelectShards(PgConn* conn, const std::string& run_id);
Status UpdateRunState(PgConn* conn, const std::string& run_id, RunState state,
                      const std::string& message);
Status UpdateRunModel(PgConn* conn, const std::string& run_id, const std::string& model_path,
                      const std::string& model_sha256);

// Inside a transaction.
Status StoreRunInputs(PgConn* conn, const std::string& run_id, const RunInputs& inputs);
Result<std::optional<RunInputs>> LoadRunInputs(PgConn* conn, const std::string& run_id);
Status ReplaceRunPlan(PgConn* conn, const std::string& run_id,
                      const std::vector<InputFileRecord>& files,
                      const std::vector<ShardRecord>& shards);

}  // namespace nightshift::pgledger
