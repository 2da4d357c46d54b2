// Named locks in the PostgreSQL ledger (Ledger::AcquireLock, RenewLock,
// ReleaseLock; table nightshift.locks, schema version 2). A holder is a
// process (host, pid, start time) with a heartbeat on the database's clock;
// whether a holder is gone is the caller's decision, as for run owners.
#pragma once

#include <functional>
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

}  // namespace nightshift::pgledger
