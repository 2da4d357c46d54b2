// The SQLite sink (output.format: sqlite; output.url is the database file).
// Per shard, one BEGIN IMMEDIATE transaction: a row in
// <table>__nightshift_commits (run_id, shard_id, part, epoch, rows,
// committed_at; primary key run_id, shard_id, part), then the shard's rows by
// one prepared INSERT (INSERT ... ON CONFLICT (key) DO UPDATE for upsert)
// stepped once per row: no SQL is parsed per row and nothing is written
// outside the transaction. Mode swap writes to <table>__ns_swap_<hash of the
// run id>, renamed over the table in one transaction when the run completes.
// The commit row makes a second commit of a shard a repeat (same epoch) or
// kConflict (another epoch), as in io/db_sink.h.
//
// Types: the table the sink creates has INTEGER, REAL, BOOLEAN, DATE,
// TIMESTAMP and TEXT columns (list outputs as JSON text); an existing table
// fits when each column's declared type has an affinity that holds the
// output's values (a column without a type holds anything).
#pragma once

#include <memory>

#include "nightshift/sink.h"

namespace nightshift::io {

// Opens (creating when missing) the database file, checks or creates the
// table and the commit table, before any row is read. InvalidJob: the file
// cannot be opened or is not a SQLite database, a schema other than main;
// SchemaMismatch: a column that does not fit, naming it, or upsert into a
// table without a unique key on input.key.
Result<std::unique_ptr<Sink>> OpenSqliteSink(const SinkLayout& layout);

}  // namespace nightshift::io
