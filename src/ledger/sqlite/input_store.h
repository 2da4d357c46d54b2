// What a run was planned from, in the SQLite ledger: the queries behind
// Ledger::SetRunInputs, Ledger::GetRunInputs and Ledger::ReplanRun.
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

// Replaces the recorded job keys and input files of `run_id`.
Status StoreRunInputs(Connection* conn, const std::string& run_id, const RunInputs& inputs);

// nullopt when nothing was recorded (a run from before schema version 4).
Result<std::optional<RunInputs>> LoadRunInputs(Connection* conn, const std::string& run_id);

// The files-and-shards half of Ledger::ReplanRun (its contract).
Status ReplaceRunPlan(Connection* conn, const std::string& run_id,
                      const std::vector<InputFileRecord>& files,
                      const std::vector<ShardRecord>& shards, int64_t now_ms);

}  // namespace nightshift::sqlite
