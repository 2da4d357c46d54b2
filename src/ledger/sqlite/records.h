// Records: how run and shard rows are read back from the SQLite ledger
// (the columns and their mapping are the PostgreSQL ledger's too:
// ledger/record_columns.h).
#pragma once

#include <fmt/format.h>

#include "ledger/record_columns.h"
#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

// The shard columns with the SQLite ledger's worker column (claimed_by).
#define NS_SHARD_COLUMNS NS_LEDGER_SHARD_COLUMNS("claimed_by")

// A state name read back from the file; anything unknown means the file was
// damaged or written by something else: IoError naming the ledger.
template <typename T>
Result<T> Checked(Result<T> parsed, const Connection& conn) {
  if (parsed.has_value()) return parsed;
  return Error(Code::kIoError,
               fmt::format("ledger '{}' is corrupt: {}", conn.path(), parsed.error().message()));
}

// A row selected with NS_LEDGER_RUN_COLUMNS / NS_SHARD_COLUMNS.
Result<RunRecord> ReadRun(const Statement& s, const Connection& conn);
Result<ShardRecord> ReadShard(const Statement& s, const Connection& conn);

}  // namespace nightshift::sqlite
