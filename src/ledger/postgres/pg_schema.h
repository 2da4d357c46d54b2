// The PostgreSQL ledger's tables, all in the schema `nightshift`, and their
// versioned migrations (nightshift.schema_version holds one row per version
// applied). Timestamps are unix epoch milliseconds from the database's clock
// (nightshift.now_ms()), so that every worker reads leases on one clock.
#pragma once

#include <cstdint>

#include "ledger/postgres/pg_session.h"

namespace nightshift::pgledger {

// The newest schema version this nightshift knows.
int64_t LatestSchemaVersion();

// The schema version of the database (0: no nightshift schema yet). Writes
// nothing.
Result<int64_t> SchemaVersion(PgConn* conn);

// Applies the migrations the database lacks, in one transaction under an
// advisory lock, so that many workers starting at once migrate it once and
// none sees a half-made schema. IoError when the database was migrated by a
// newer nightshift.
Status MigrateSchema(PgConn* conn);

}  // namespace nightshift::pgledger
