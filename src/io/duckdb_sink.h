// The DuckDB sink (output.format: duckdb; output.url is the database file).
// The file is attached to the in-memory DuckDB that holds the shards' rows
// (DbSink), so a shard is written by one statement inside one transaction:
// INSERT INTO <table> SELECT ... FROM ns_chunks(<id>), which hands DuckDB the
// shard's data chunks by reference (chunk_table.h), the same vectorized bulk
// path as the appender without copying the rows into it first, and which
// also gives upsert its ON CONFLICT (key) DO UPDATE. The commit row
// (<table>__nightshift_commits) is written in the same transaction; mode
// swap and a second commit of a shard behave as in io/db_sink.h. Lists are
// FLOAT[] (DOUBLE[] for float64 outputs); kept columns keep their types.
#pragma once

#include <memory>

#include "nightshift/sink.h"

namespace nightshift::io {

// Opens (creating when missing) the database file, checks or creates the
// table and the commit table, before any row is read. InvalidJob: the file
// cannot be opened (not a DuckDB file, locked by another process), a schema
// that does not exist; SchemaMismatch: a column that does not fit, naming it,
// or upsert into a table without a unique key on input.key.
Result<std::unique_ptr<Sink>> OpenDuckdbSink(const SinkLayout& layout);

}  // namespace nightshift::io
