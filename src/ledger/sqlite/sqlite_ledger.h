// The SQLite implementation of Ledger: one database file, shared safely by
// the threads of one process (calls are serialized on one connection) and by
// several processes (WAL journal, BEGIN IMMEDIATE for writes, a busy timeout).
//
// Commits are durable when they return (synchronous=FULL): resume trusts a
// committed shard. Every public method is one transaction.
#pragma once

#include <memory>
#include <string>

#include "nightshift/ledger.h"
#include "nightshift/status.h"

namespace nightshift {

struct SqliteLedgerOptions {
  // How long a call waits for another process's write lock before it fails
  // with Code::kTransient.
  int busy_timeout_ms = 10000;
};

// Opens the ledger file at `path`, creating its parent directories and the
// file if missing and migrating an older schema. On failure: IoError naming
// `path` (including when the file is not a SQLite database or was written by
// a newer nightshift), Transient when another process held the database
// locked for longer than the busy timeout.
Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path,
                                                 const SqliteLedgerOptions& options = {});

// Opens the existing ledger file at `path` for reading (`status`): creates,
// migrates and writes nothing, also on a read-only file system. NotFound when
// there is no file at `path` (or an empty one, not yet set up); IoError when it cannot be read.
Result<std::unique_ptr<Ledger>> OpenSqliteLedgerForReading(const std::string& path);

}  // namespace nightshift
