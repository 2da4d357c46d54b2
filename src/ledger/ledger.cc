// Ledger::Open (choosing the implementation from the location) and the state
// names shared by all implementations.
#include "nightshift/ledger.h"

#include <fmt/format.h>

#include "ledger/postgres/pg_ledger.h"
#include "ledger/sqlite/sqlite_ledger.h"
#include "nightshift/pg_location.h"

namespace nightshift {
namespace {

// A URL or a libpq key=value string.
bool IsPostgresUrl(std::string_view location) {
  return IsPostgresLocation(location);
}

}  // namespace

std::string_view RunStateName(RunState s) {
  switch (s) {
    case RunState::kPending: return "pending";
    case RunState::kRunning: return "running";
    case RunState::kCompleted: return "completed";
    case RunState::kFailed: return "failed";
    case RunState::kInterrupted: return "interrupted";
  }
  return "unknown";
}

std::string_view ShardStateName(ShardState s) {
  switch (s) {
    case ShardState::kPending: return "pending";
    case ShardState::kRunning: return "running";
    case ShardState::kCommitted: return "committed";
    case ShardState::kFailed: return "failed";
  }
  return "unknown";
}

Result<RunState> ParseRunState(std::string_view s) {
  for (RunState state : {RunState::kPending, RunState::kRunning, RunState::kCompleted,
                         RunState::kFailed, RunState::kInterrupted}) {
    if (RunStateName(state) == s) return state;
  }
  return Error(Code::kInvalidJob, fmt::format("unknown run state '{}'", s));
}

Result<ShardState> ParseShardState(std::string_view s) {
  for (ShardState state :
       {ShardState::kPending, ShardState::kRunning, ShardState::kCommitted, ShardState::kFailed}) {
    if (ShardStateName(state) == s) return state;
  }
  return Error(Code::kInvalidJob, fmt::format("unknown shard state '{}'", s));
}

Status CheckFailuresOfShard(const std::string& run_id, int64_t shard_id,
                            const std::vector<ItemFailure>& failures) {
  for (const ItemFailure& f : failures) {
    if (f.shard_id != shard_id) {
      return Status(Code::kInternal,
                    fmt::format("failure of row {} of shard {} passed to the commit of shard "
                                "{} of run '{}'",
                                f.row, f.shard_id, shard_id, run_id));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& location, Env* env) {
  // The database keeps time for a shared ledger: `env` is not used there.
  if (IsPostgresUrl(location)) return OpenPgLedger(location);
  SqliteLedgerOptions options;
  options.env = env;
  return OpenSqliteLedger(location, options);
}

Result<std::unique_ptr<Ledger>> Ledger::OpenForReading(const std::string& location, Env* env) {
  if (IsPostgresUrl(location)) return OpenPgLedgerForReading(location);
  return OpenSqliteLedgerForReading(location, env);
}

}  // namespace nightshift
