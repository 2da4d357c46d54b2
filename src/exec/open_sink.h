// OpenSink: the Sink of a job, chosen by output.format: part files in an
// output folder (claimed for the run: exec/output_folders.h), or a table in
// PostgreSQL, SQLite or DuckDB (io/db_sink.h).
#pragma once

#include <future>
#include <memory>
#include <string>

#include "io/duck.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/sink.h"

namespace nightshift::exec {

// What a run's record says it writes to for database output:
// "<format>:<table>", e.g. "postgres:analytics.churn_scores" (never the URL,
// which may hold a password).
std::string DatabaseOutputPath(const OutputSpec& output);

// A file sink's DuckDB database, being opened on a thread of its own.
using SinkDatabaseAhead = std::future<Result<std::shared_ptr<io::DuckDatabase>>>;

// Opens the sink of `job` for `run` (PostgreSQL: io/postgres/pg_sink.h, SQLite:
// io/sqlite/sqlite_sink.h, DuckDB: io/duckdb_sink.h). File output: claims the folders
// (ClaimOutputFolders) and opens the file sink. Database output: a table is
// not owned by a run (upsert rewrites rows by key, insert appends, swap
// replaces the table), so nothing is claimed; dead letters go to
// errors.dead_letter with {run_id} substituted. `adding`: a retry, which
// never empties a folder.
// `ahead`: the file sink's database, opening (OpenSinkDatabaseAhead); null
// or not valid: opened here.
Result<std::unique_ptr<Sink>> OpenSink(const JobSpec& job, const RunRecord& run, SinkLayout layout,
                                       Ledger* ledger, SinkDatabaseAhead* ahead = nullptr);

// For file output, starts opening the file sink's DuckDB database (about
// 20 ms) on a thread of its own, so that it opens while the run reads its
// ledger and plans; for database output, a future that is not valid.
SinkDatabaseAhead OpenSinkDatabaseAhead(const JobSpec& job);

// Records in the ledger, as committed, every shard of `run` that `sink`
// holds and the ledger does not (a kill between the database's commit and
// the ledger's), so that it is not written again.
Status AdoptHeldShards(Sink* sink, Ledger* ledger, const RunRecord& run);

}  // namespace nightshift::exec
