// Holder rows in the PostgreSQL ledger: run owners (nightshift.run_owners,
// Ledger::AcquireRun...) and named locks (nightshift.locks, schema version 2;
// Ledger::AcquireLock, RenewLock, ReleaseLock). A holder is a process (host,
// pid, start time) with a heartbeat on the database's clock; whether a holder
// is gone is the caller's decision. Both kinds share one set of statements.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "ledger/postgres/pg_session.h"
#include "nightshift/ledger.h"

namespace nightshift::pgledger {

// One transaction of its own: acquirers of one name queue on an advisory
// lock (the row may not exist yet, so there is no row to lock FOR UPDATE).
Result<RunAcquisition> TakeLock(PgConn* conn, const std::string& name, const RunOwner& me,
                                const std::function<bool(const RunOwner&)>& holder_gone);
// kFailed when `me` no longer holds it.
Status TouchLock(PgConn* conn, const std::string& name, const RunOwner& me);
Status DeleteLock(PgConn* conn, const std::string& name, const RunOwner& me);

Result<std::optional<RunOwner>> SelectOwner(PgConn* conn, const std::string& run_id);
// Inside a transaction that has locked the run's row.
Result<RunAcquisition> TakeOwner(PgConn* conn, const std::string& run_id, const RunOwner& me,
                                 const std::function<bool(const RunOwner&)>& owner_gone);
Status TouchOwner(PgConn* conn, const std::string& run_id, const RunOwner& me);
Status DeleteOwner(PgConn* conn, const std::string& run_id, const RunOwner& me);

}  // namespace nightshift::pgledger
