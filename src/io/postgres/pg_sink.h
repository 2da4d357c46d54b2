// The PostgreSQL sink (output.format: postgres). Per shard, in one
// transaction: a row in <table>__nightshift_commits (run_id, shard_id, part,
// epoch, rows, committed_at; primary key run_id, shard_id, part), then the
// rows by binary COPY: straight into the table in modes insert and swap when
// its column types are the staging types (a table the sink created), else
// into a temporary staging table followed by one INSERT ... SELECT (with ON
// CONFLICT (key) DO UPDATE for upsert) that casts to the table's types. The commit row's primary
// key refuses a second commit of a shard: that attempt rolls back, and reports the rows recorded
// when it is a repeat of the same epoch (a retried commit that had
// succeeded), or kConflict when another worker (another epoch) committed the
// shard first (io/db_sink.h). So every input row of a run is written exactly
// once across kills, resumes and workers.
//
// When the PostgreSQL ledger (run.ledger) is this same database (same
// server, port, database and user: pg_target.h), a shard's transaction holds
// the ledger's commit instead of a commit row: it first locks the shard's
// ledger row (a stale epoch is refused there, before any row is written; a
// repeat of this epoch's commit finds the shard committed and writes
// nothing), then writes the rows and the dead letters, then runs the ledger's
// epoch-fenced commit of the shard, and COMMITs: rows and ledger record in one
// transaction. The engine's own ledger commit afterwards finds the shard
// committed by this epoch: the same commit again, a success. Retry parts keep
// the commit table.
//
// Mode swap writes to <table>__ns_swap_<hash of the run id> (created like
// the table, keeping its primary key), which replaces the table in one
// transaction when the run completes (WriteSuccess); a swap row (shard -1) in
// the commit table records it. Until then readers see the old table.
#pragma once

#include <memory>

#include "io/postgres/pg_ledger_txn.h"
#include "nightshift/sink.h"

namespace nightshift::io {

// Connects, checks (or creates) the table and the commit table, before any
// row is read. InvalidJob: the server cannot be reached or refuses the login,
// the schema does not exist; SchemaMismatch: a column of the table that does
// not fit, naming it, or upsert into a table without a unique key on input.key.
// `ledger`: the PostgreSQL ledger's statements (nullptr for another ledger),
// used when it is the output's database.
Result<std::unique_ptr<Sink>> OpenPostgresSink(const SinkLayout& layout,
                                               std::unique_ptr<pg::LedgerInTxn> ledger = nullptr);

}  // namespace nightshift::io
