// The PostgreSQL ledger's part in a shard's transaction, when the ledger
// (run.ledger) is the database of the PostgreSQL output table: the sink runs
// the ledger's own statements on its connection, inside the transaction that
// writes the shard's rows, so that the rows and the ledger's epoch-fenced
// shard commit become visible together, in one transaction (pg_sink.h). The
// statements stay the ledger's (ledger/postgres/pg_claims.h); the exec layer
// hands an implementation to the sink (ns_io does not link the ledger).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/postgres/pg_conn.h"
#include "nightshift/sink.h"
#include "nightshift/status.h"

namespace nightshift::io::pg {

class LedgerInTxn {
 public:
  virtual ~LedgerInTxn() = default;
  // run.ledger, compared with output.url (SameDatabase).
  virtual const std::string& location() const = 0;
  // First in the transaction: locks the shard's ledger row until COMMIT or
  // ROLLBACK and says whether `epoch` may commit the shard: nullopt when it
  // holds the claim; the rows recorded when `epoch` already committed it (a
  // repeat whose acknowledgement was lost); kConflict for a stale epoch.
  virtual Result<std::optional<int64_t>> Lock(PgConn* conn, const std::string& run_id,
                                              int64_t shard_id, int64_t epoch) = 0;
  // Last before COMMIT: the ledger's fenced commit of the shard with `out`
  // (rows, dead letters, failures); kConflict when `epoch` no longer holds it.
  virtual Status Commit(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                        const ShardOutput& out) = 0;
};

}  // namespace nightshift::io::pg
