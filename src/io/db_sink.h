// DbSink: what the database sinks (PostgreSQL, SQLite, DuckDB) share. A
// shard's rows are collected in an in-memory DuckDB (ShardRows); Finish()
// writes the shard's dead letters, then hands the rows to the sink's
// CommitShard, which makes them visible together with a row of the commit
// table (<table>__nightshift_commits: run_id, shard_id, part, epoch, rows)
// in one database transaction. The commit row's primary key (run_id,
// shard_id, part) refuses a second commit of a shard: a repeat by the same
// epoch (a retried commit whose acknowledgement was lost) reports the rows
// recorded; another epoch (another worker's, or a stale one) is kConflict.
// (The PostgreSQL sink with the PostgreSQL ledger in the same database uses
// the ledger's shard row in place of the commit row: io/postgres/pg_sink.h.)
//
// A row the database refuses (a CHECK or NOT NULL constraint, a value its
// column type cannot hold) is a dead letter, not a failed shard: the sink
// finds the refused rows (its own way, see each sink) and commits the others
// with the commit row, recording the good rows only. Just before COMMIT it
// calls BeforeCommit with the refused rows, which publishes the shard's dead
// letters (the model's failures and the refused rows): a crash before COMMIT
// leaves a file the next attempt rewrites.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/duck.h"
#include "io/shard_rows.h"
#include "nightshift/sink.h"

namespace nightshift::io {

// One attempt at a shard (or a retry part of it).
struct ShardAttempt {
  int64_t shard_id = 0;
  int64_t epoch = 0;
  int32_t part = 0;  // the retry sequence; 0 for the shard itself
};

// The names of the tables kept beside `table` (the unqualified name).
std::string CommitTableName(const std::string& table);
// Mode swap's staging table of run `run_id`: <table>__ns_swap_<12 hex digits>.
std::string SwapTableName(const std::string& table, const std::string& run_id);

// `create_sql` (a table's CREATE TABLE statement, as SQLite's sqlite_master
// or DuckDB's duckdb_tables() keep it) creating `new_name` instead: the
// staging table of mode swap, with the same columns and constraints.
std::string RetargetCreateTable(const std::string& create_sql, const std::string& new_name);

// The statements (and what each does, for its error) that create, when
// missing, the tables a run writes, in order: the table (not in mode swap;
// with a primary key on `key_list` in mode upsert only, so that later runs
// of insert can append to it); in mode swap the run's table `swap`: the
// table's own CREATE TABLE `existing_sql` (as the database keeps it)
// retargeted when there is one, so that it has the same columns and
// constraints, else `defs` and the key; then the commit table `commits`
// with `commit_defs`. Names are quoted. For the SQLite and DuckDB sinks
// (PostgreSQL copies a table with LIKE, under a lock).
struct CreateStatement {
  std::string sql;
  const char* what;
};
struct DbTableNames {
  std::string target, swap, commits, key_list;
};
std::vector<CreateStatement> CreateTablesSql(const DbTableNames& names, OutputMode mode,
                                             bool target_exists, const std::string& defs,
                                             const std::string& existing_sql,
                                             const std::string& commit_defs);

// What a commit transaction does when the commit table already has a row for
// `a`, committed by `their_epoch`: the rows it recorded when it is the same
// epoch (a repeat), kConflict (final) saying another worker committed the
// shard otherwise. The caller rolled its transaction back.
Result<int64_t> AlreadyCommitted(const SinkLayout& layout, const ShardAttempt& a,
                                 int64_t their_epoch, int64_t their_rows);

// The Status of a step that returns a Status or a Result.
inline const Status& StatusOf(const Status& s) {
  return s;
}
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.has_value() ? Status::Ok() : r.error();
}

// Publishes the shard's dead letters, with `rejected` among them; returns
// what it published (dead_letter_file, failures), which a sink whose ledger
// commits in its transaction records there (io/postgres/pg_ledger_txn.h).
using BeforeCommit = std::function<Result<ShardOutput>(const std::vector<RejectedRow>& rejected)>;

// True for a database error that is about the rows, not the connection or
// the table: SQLSTATE class 22 (data exception: a value out of range, too
// long, not a number the column takes) or 23 (a constraint: CHECK, NOT NULL,
// unique, foreign key).
bool IsRowRejection(std::string_view sqlstate);

class DbSink : public Sink {
 public:
  explicit DbSink(SinkLayout layout) : layout_(std::move(layout)) {}

  Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t shard_id, int64_t epoch,
                                                  int32_t retry_seq) final;

  // Makes `rows` visible with the commit row of `a`, in one transaction (see
  // above), calling `before_commit` just before its COMMIT (not when the
  // shard was already committed); returns the rows recorded. `duck` reads
  // the rows (RowsSql()).
  virtual Result<int64_t> CommitShard(const ShardRows& rows, const ShardAttempt& a,
                                      DuckConnection* duck, const BeforeCommit& before_commit) = 0;

  const SinkLayout& layout() const { return layout_; }
  Env* env() const { return layout_.env != nullptr ? layout_.env : Env::Default(); }
  const std::shared_ptr<DuckDatabase>& duck_db() const { return db_; }

 protected:
  // Opens the in-memory DuckDB that holds the shards' rows (one thread: a
  // shard's rows are read once, by its commit).
  Status OpenShardRows();

  SinkLayout layout_;

 private:
  std::shared_ptr<DuckDatabase> db_;
  std::shared_ptr<ChunkScanRegistry> registry_;
  ShardRowSchemas schemas_;
};

}  // namespace nightshift::io
