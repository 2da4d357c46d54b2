// The PostgreSQL implementation of Ledger (run.ledger: postgresql://...):
// any number of worker processes, on any hosts, share one run through it.
// Tables live in the schema `nightshift` of the database the URL names (see
// pg_schema.h); every timestamp and lease is on the database's clock.
// Credentials come from the URL, PGPASSWORD or ~/.pgpass; no error names the
// password.
#pragma once

#include <memory>
#include <string>

#include "nightshift/ledger.h"

namespace nightshift {

// Connects to `url` and migrates the schema (safe when many workers start at
// once). IoError naming the URL (without its password) on failure.
Result<std::unique_ptr<Ledger>> OpenPgLedger(const std::string& url);

// Connects read-only (the server refuses every write of the session) and
// migrates nothing. NotFound when the database has no nightshift schema yet.
Result<std::unique_ptr<Ledger>> OpenPgLedgerForReading(const std::string& url);

}  // namespace nightshift
