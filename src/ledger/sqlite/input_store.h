// What a run was planned from, in the SQLite ledger: the queries behind
// Ledger::SetRunInputs, Ledger::GetRunInputs and Ledger::ReplanRun, and the
// inserts of a plan's files and shards (CreateOrAttachRun too).
//
// REQUIRES for all: the caller holds the ledger's connection exclusively, has
// begun a transaction (write for Store/Replace) and checked that the run
// exists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

// Inserts the files of a run's plan.
Status InsertFiles(Connection* conn, const std::string& run_id,
                   const std::vector<InputFileRecord>& files);
// Inserts shard `s` of a run's plan as pending (its range, file_last).
Status InsertPendingShard(Connection* conn, const std::string& run_id, const ShardRecord& s);

// Replaces the recorded job keys and input files of `run_id`.
Status StoreRunInputs(Connection* conn, const std::string& run_id, const RunInputs& inputs);

// nullopt when nothing was recorded (a run from before schema version 4).
Result<std::optional<RunInputs>> LoadRunInputs(Connection* conn, const std::string& run_id);

// The files-and-shards half of Ledger::ReplanRun (its contract).
Status ReplaceRunPlan(Connection* conn, const std::string& run_id,
                      const std::vector<InputFileRecord>& files,
                      const std::vector<ShardRecord>& shards, int64_t now_ms);

}  // namespace nightshift::sqlite
