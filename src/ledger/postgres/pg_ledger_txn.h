// The PostgreSQL ledger's statements for a sink that commits a shard's rows
// and its ledger record in one transaction (io/postgres/pg_ledger_txn.h).
#pragma once

#include <memory>
#include <string>

#include "io/postgres/pg_ledger_txn.h"

namespace nightshift::pgledger {

// For the ledger at `location` (run.ledger).
std::unique_ptr<io::pg::LedgerInTxn> MakeLedgerInTxn(std::string location);

}  // namespace nightshift::pgledger
