// The SQLite ledger's schema and its migrations.
//
// The schema version lives in `PRAGMA user_version`. Migrations are an
// ordered list; a database at version N gets migrations N+1.. applied, all in
// one write transaction, so concurrent openers migrate exactly once and a
// crash mid-migration leaves the old version intact. Later versions add
// migrations at the end of the list; existing ones are never edited.
#pragma once

#include <cstdint>

#include "ledger/sqlite/connection.h"
#include "nightshift/status.h"

namespace nightshift::sqlite {

// The schema version this binary writes and reads.
int64_t LatestSchemaVersion();

// The version the database on `conn` is at (0 for a new file).
Result<int64_t> SchemaVersion(Connection* conn);

// Brings the database on `conn` to LatestSchemaVersion(). IoError naming the
// file when it was written by a newer nightshift (unknown, later version).
Status MigrateSchema(Connection* conn);

}  // namespace nightshift::sqlite
