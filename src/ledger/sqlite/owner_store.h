// The run owners of the SQLite ledger: the queries behind Ledger::AcquireRun,
// Heartbeat, ReleaseRun and GetRunOwner (table run_owners, schema version 3),
// and the same for named locks (AcquireLock, RenewLock, ReleaseLock; table
// locks, schema version 8).
//
// REQUIRES for all: the caller holds the ledger's connection exclusively;
// for the writes, inside a write transaction.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

// nullopt when the run has no owner row.
Result<std::optional<RunOwner>> SelectOwner(Connection* conn, const std::string& run_id);

// AcquireRun's decision and write (the caller checked that the run exists).
Result<RunAcquisition> TakeOwner(Connection* conn, const std::string& run_id, const RunOwner& me,
                                 const std::function<bool(const RunOwner&)>& owner_gone,
                                 int64_t now_ms);

// Heartbeat: kFailed when `me` is not the owner.
Status TouchOwner(Connection* conn, const std::string& run_id, const RunOwner& me, int64_t now_ms);

// ReleaseRun: deletes the owner row if it is `me`'s.
Status DeleteOwner(Connection* conn, const std::string& run_id, const RunOwner& me);

// The same for the named lock `name` (it need not exist).
Result<RunAcquisition> TakeLock(Connection* conn, const std::string& name, const RunOwner& me,
                                const std::function<bool(const RunOwner&)>& holder_gone,
                                int64_t now_ms);
Status TouchLock(Connection* conn, const std::string& name, const RunOwner& me, int64_t now_ms);
Status DeleteLock(Connection* conn, const std::string& name, const RunOwner& me);

}  // namespace nightshift::sqlite
