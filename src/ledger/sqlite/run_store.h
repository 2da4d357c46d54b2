// The runs of the SQLite ledger as rows: the insert behind
// Ledger::CreateOrAttachRun and the reads behind LatestRun, ListRuns,
// ListFiles and ListShards (tables runs, files, shards). The ledger class
// keeps the locking, the transactions and the checks that a run exists.
//
// REQUIRES for all: the caller holds the ledger's connection exclusively;
// for InsertRun, inside a write transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

// Inserts `run` as pending with `shard_count` shards; its total_rows, when
// not set, is `planned_rows`.
Status InsertRun(Connection* conn, const RunRecord& run, int64_t planned_rows, int64_t shard_count,
                 int64_t now_ms);

// The runs of `job_name`, newest first, at most `limit` (all when negative).
Result<std::vector<RunRecord>> SelectRuns(Connection* conn, const std::string& job_name,
                                          int64_t limit);

// The files and the shards of a run's plan, by index and by shard id.
Result<std::vector<InputFileRecord>> SelectFiles(Connection* conn, const std::string& run_id);
Result<std::vector<ShardRecord>> SelectShards(Connection* conn, const std::string& run_id);

}  // namespace nightshift::sqlite
