#include "io/postgres/pg_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "env/crash_point.h"
#include "io/chunk_table.h"
#include "io/db_columns.h"
#include "io/db_sink.h"
#include "io/duck.h"
#include "io/postgres/pg_conn.h"
#include "io/postgres/pg_copy.h"
#include "io/postgres/pg_ledger_txn.h"
#include "io/postgres/pg_shard_write.h"
#include "io/postgres/pg_target.h"
#include "io/shard_rows.h"
#include "nightshift/env.h"

namespace nightshift::io {
namespace {

using pg::PgConn;
using pg::QuoteQualified;

// PostgreSQL truncates longer identifiers silently: refused instead.
constexpr size_t kMaxIdentifier = 63;

struct Names {
  std::string schema, table;
  std::string target;           // quoted schema.table
  std::string commits;          // quoted commit table
  std::string swap_name, swap;  // the run's table in mode swap
  std::string write;            // the table rows go to: target, or swap
};

// format_type's spelling of the staging type of `kind` (pg_copy.h): a column
// of exactly this type takes the binary COPY as it is.
std::string StageFormatType(DbKind kind) {
  switch (kind) {
    case DbKind::kInt64: return "bigint";
    case DbKind::kFloat32: return "real";
    case DbKind::kFloat64: return "double precision";
    case DbKind::kBool: return "boolean";
    case DbKind::kDate: return "date";
    case DbKind::kTimestamp: return "timestamp without time zone";
    case DbKind::kTimestampTz: return "timestamp with time zone";
    case DbKind::kText: return "text";
    case DbKind::kBlob: return "bytea";
    case DbKind::kFloat32List: return "real[]";
    case DbKind::kFloat64List: return "double precision[]";
    case DbKind::kInt64List: return "bigint[]";
  }
  return "";
}

std::string ColumnList(const std::vector<DbColumn>& cols) {
  std::string s;
  for (const auto& c : cols) s += (s.empty() ? "" : ", ") + pg::QuoteIdent(c.name);
  return s;
}

std::string KeyList(const std::vector<DbColumn>& cols) {
  std::string s;
  for (const auto& c : cols) {
    if (c.is_key) s += (s.empty() ? "" : ", ") + pg::QuoteIdent(c.name);
  }
  return s;
}

class PgSink final : public DbSink {
 public:
  PgSink(SinkLayout layout, std::unique_ptr<PgConn> pg, std::unique_ptr<pg::LedgerInTxn> ledger)
      : DbSink(std::move(layout)), pg_(std::move(pg)), ledger_(std::move(ledger)) {}

  Status Open();
  Status WriteSuccess(const std::string& manifest_json) override;
  Result<std::vector<HeldShard>> HeldShards() override;

  // One shard's transaction; see pg_sink.h.
  Result<int64_t> CommitShard(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                              const BeforeCommit& before_commit) override;

 private:
  // Runs `fn` (one transaction) on a live connection; when the connection
  // breaks, again on a fresh one (pg::kReconnectTries, with backoff): a
  // dropped session or a database restart costs a retry, not the shard. A
  // repeat is safe: the commit row (or the ledger's row) makes a shard's
  // transaction idempotent.
  template <typename Fn>
  auto OnFreshConnection(Fn&& fn) -> decltype(fn()) {
    for (int attempt = 0;; ++attempt) {
      Status up = pg_->EnsureConnected();
      if (up.ok()) {
        auto result = fn();
        if (StatusOf(result).code() != Code::kTransient || attempt >= pg::kReconnectTries) {
          return result;
        }
      } else if (attempt >= pg::kReconnectTries) {
        return Error(up);
      }
      env()->SleepMicros(pg::ReconnectPauseMicros(attempt));
    }
  }
  Result<int64_t> CommitOnce(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                             const BeforeCommit& before_commit);
  Status SwapOnce();
  Status ResolveNames();
  // The statements of a shard's write (pg_shard_write.h), from types_.
  Status MakeWriteSql();
  // The table's columns and types (format_type); empty when it does not exist.
  Result<std::map<std::string, std::string>> TableColumns(const std::string& table);
  Status CheckColumns(const std::map<std::string, std::string>& have);
  // The columns of each unique index of the table (its primary key's too).
  Result<std::vector<std::vector<std::string>>> UniqueKeys();
  Status CreateTables(bool target_exists);
  Status CreateTablesUnlocked(bool target_exists);
  // The transaction of CommitShard; with `rejecting`, the rows the server
  // refuses are found and left out instead of failing the shard.
  Result<int64_t> CommitShardTx(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                                const BeforeCommit& before_commit, bool rejecting);
  // A shard (not a retry part) whose ledger is this database commits there,
  // in its own transaction; the others through the commit table.
  bool InLedger(const ShardAttempt& a) const { return same_db_ && a.part == 0; }
  // The first step of a shard's transaction: nullopt to go on writing; the
  // rows recorded (the transaction rolled back) when this epoch already
  // committed the shard; kConflict when another epoch did (or holds it).
  Result<std::optional<int64_t>> InsertCommitRow(const ShardRows& rows, const ShardAttempt& a,
                                                 const std::string& what);
  Result<std::optional<int64_t>> LockLedgerShard(const ShardAttempt& a, const std::string& what);
  // run_id, shard_id, part, rows: a commit row's key and its rows.
  std::vector<std::string> CommitKey(const ShardAttempt& a, int64_t rows) const;
  // Whether the ledger (run.ledger) is the output's database.
  Status FindLedger();
  std::string Table() const { return fmt::format("table '{}'", layout_.table); }

  std::unique_ptr<PgConn> pg_;
  std::unique_ptr<pg::LedgerInTxn> ledger_;
  bool same_db_ = false;  // the ledger is this database: InLedger()
  std::vector<DbColumn> cols_;
  Names n_;
  std::map<std::string, std::string> types_;  // column -> the table's type
  pg::ShardWriteSql sql_;
};

Status PgSink::ResolveNames() {
  const auto dot = layout_.table.find('.');
  if (dot != std::string::npos) {
    n_.schema = layout_.table.substr(0, dot);
    n_.table = layout_.table.substr(dot + 1);
  } else {
    n_.table = layout_.table;
    NS_ASSIGN_OR_RETURN(auto r, pg_->Exec("SELECT current_schema()", "finding the schema"));
    n_.schema = r.rows() > 0 && !r.IsNull(0, 0) ? r.Text(0, 0) : "public";
  }
  NS_ASSIGN_OR_RETURN(auto ns, pg_->Exec("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                         "checking the schema", {n_.schema}));
  if (ns.rows() == 0) {
    return Status(Code::kInvalidJob,
                  fmt::format("output.table: schema '{}' does not exist in {} (nightshift creates "
                              "tables, not schemas: CREATE SCHEMA {} first)",
                              n_.schema, pg_->described(), pg::QuoteIdent(n_.schema)));
  }
  const std::string commits = CommitTableName(n_.table);
  n_.swap_name = SwapTableName(n_.table, layout_.run_id);
  for (const std::string* name : {&commits, const_cast<const std::string*>(&n_.swap_name)}) {
    if (name->size() > kMaxIdentifier) {
      return Status(Code::kInvalidJob,
                    fmt::format("output.table: '{}' is too long: nightshift keeps a table '{}' "
                                "beside it, longer than PostgreSQL's {} bytes",
                                n_.table, *name, kMaxIdentifier));
    }
  }
  n_.target = QuoteQualified(n_.schema, n_.table);
  n_.commits = QuoteQualified(n_.schema, commits);
  n_.swap = QuoteQualified(n_.schema, n_.swap_name);
  n_.write = layout_.mode == OutputMode::kSwap ? n_.swap : n_.target;
  return Status::Ok();
}

Result<std::map<std::string, std::string>> PgSink::TableColumns(const std::string& table) {
  NS_ASSIGN_OR_RETURN(
      auto r, pg_->Exec("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute "
                        "a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace s ON s.oid = "
                        "c.relnamespace WHERE s.nspname = $1 AND c.relname = $2 AND a.attnum > 0 "
                        "AND NOT a.attisdropped",
                        "reading the table's columns", {n_.schema, table}));
  std::map<std::string, std::string> cols;
  for (int i = 0; i < r.rows(); ++i) cols[r.Text(i, 0)] = r.Text(i, 1);
  return cols;
}

Status PgSink::CheckColumns(const std::map<std::string, std::string>& have) {
  std::vector<std::string> bad;
  for (const auto& c : cols_) {
    auto it = have.find(c.name);
    if (it == have.end()) {
      bad.push_back(fmt::format("'{}' is missing (want {})", c.name, c.pg_type));
    } else if (!PgTypeFits(c, it->second)) {
      bad.push_back(fmt::format("'{}' is {} but the output is {}", c.name, it->second, c.pg_type));
    }
  }
  if (bad.empty()) return Status::Ok();
  std::string list;
  for (const auto& b : bad) list += (list.empty() ? "" : "; ") + b;
  return Status(
      Code::kSchemaMismatch,
      fmt::format("output.table '{}' does not fit the output: column {}", layout_.table, list));
}

Result<std::vector<std::vector<std::string>>> PgSink::UniqueKeys() {
  NS_ASSIGN_OR_RETURN(
      auto r, pg_->Exec("SELECT i.indexrelid::bigint, a.attname::text FROM pg_index i, "
                        "unnest(i.indkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON "
                        "a.attnum = k.attnum WHERE a.attrelid = i.indrelid AND i.indrelid = "
                        "$1::regclass AND i.indisunique ORDER BY 1, k.n",
                        "reading the table's keys", {n_.target}));
  std::vector<std::vector<std::string>> keys;
  for (int i = 0; i < r.rows(); ++i) {
    if (i == 0 || r.Text(i, 0) != r.Text(i - 1, 0)) keys.emplace_back();
    keys.back().push_back(r.Text(i, 1));
  }
  return keys;
}

// Workers of one run open the sink together: CREATE TABLE IF NOT EXISTS is
// not safe against itself (both may try to create the table's row type), so
// the creations take turns under a transaction-scoped advisory lock.
Status PgSink::CreateTables(bool target_exists) {
  NS_RETURN_IF_ERROR(pg_->Run("BEGIN", "creating the tables"));
  Status s =
      pg_->Run("SELECT pg_advisory_xact_lock(hashtext($1))", "creating the tables", {n_.commits});
  if (s.ok()) s = CreateTablesUnlocked(target_exists);
  if (s.ok()) return pg_->Run("COMMIT", "creating the tables");
  (void)pg_->Run("ROLLBACK", "rolling back");
  return s;
}

Status PgSink::CreateTablesUnlocked(bool target_exists) {
  std::string defs;
  for (const auto& c : cols_) {
    defs += fmt::format("{}{} {}", defs.empty() ? "" : ", ", pg::QuoteIdent(c.name), c.pg_type);
  }
  const std::string pk = fmt::format(", PRIMARY KEY ({})", KeyList(cols_));
  if (!target_exists && layout_.mode != OutputMode::kSwap) {
    // A table insert creates has no key, so later runs can append to it.
    NS_RETURN_IF_ERROR(pg_->Run(fmt::format("CREATE TABLE IF NOT EXISTS {} ({}{})", n_.target, defs,
                                            layout_.mode == OutputMode::kUpsert ? pk : ""),
                                "creating the table"));
  }
  if (layout_.mode == OutputMode::kSwap) {
    std::string like = target_exists ? fmt::format("(LIKE {} INCLUDING ALL)", n_.target)
                                     : fmt::format("({}{})", defs, pk);
    NS_RETURN_IF_ERROR(pg_->Run(fmt::format("CREATE TABLE IF NOT EXISTS {} {}", n_.swap, like),
                                "creating the run's swap table"));
  }
  return pg_->Run(
      fmt::format("CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, shard_id bigint NOT "
                  "NULL, part integer NOT NULL, epoch bigint NOT NULL, rows bigint NOT NULL, "
                  "committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, "
                  "shard_id, part))",
                  n_.commits),
      "creating the commit table");
}

Status PgSink::MakeWriteSql() {
  std::string stage, select, update;
  for (const auto& c : cols_) {
    const std::string q = pg::QuoteIdent(c.name);
    stage += fmt::format("{}{} {}", stage.empty() ? "" : ", ", q, pg::StageType(c.kind));
    // An explicit CAST to varchar(n) or char(n) cuts a longer text short
    // silently; the INSERT's own (assignment) cast refuses it instead.
    const bool chars = types_[c.name].starts_with("character");
    select += fmt::format("{}{}", select.empty() ? "" : ", ",
                          chars ? q : fmt::format("CAST({} AS {})", q, types_[c.name]));
    if (!c.is_key) update += fmt::format("{}{} = EXCLUDED.{}", update.empty() ? "" : ", ", q, q);
  }
  sql_.columns = cols_;
  sql_.stage = fmt::format("CREATE TEMP TABLE ns_stage ({}) ON COMMIT DROP", stage);
  sql_.stage_numbered =
      fmt::format("CREATE TEMP TABLE ns_stage_n ({}, __ns_i int8) ON COMMIT DROP", stage);
  const std::string insert =
      fmt::format("INSERT INTO {} ({}) SELECT {} FROM ", n_.write, ColumnList(cols_), select);
  std::string conflict;
  if (layout_.mode == OutputMode::kUpsert) {
    conflict = fmt::format(" ON CONFLICT ({}) DO {}", KeyList(cols_),
                           update.empty() ? "NOTHING" : "UPDATE SET " + update);
  }
  sql_.insert = insert + "ns_stage" + conflict;
  sql_.insert_range = insert + "ns_stage_n WHERE __ns_i >= $1 AND __ns_i < $2" + conflict;
  // Insert and swap need no ON CONFLICT: when every column of the table has
  // the staging type, the rows are copied straight into it, which halves the
  // server's work (no temporary table, no INSERT ... SELECT).
  sql_.direct = layout_.mode != OutputMode::kUpsert &&
                std::all_of(cols_.begin(), cols_.end(), [&](const DbColumn& c) {
                  return types_[c.name] == StageFormatType(c.kind);
                });
  sql_.copy = sql_.direct ? fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", n_.write,
                                        ColumnList(cols_))
                          : "COPY ns_stage FROM STDIN (FORMAT binary)";
  return Status::Ok();
}

Status PgSink::Open() {
  cols_ = DbColumns(layout_);
  NS_RETURN_IF_ERROR(ResolveNames());
  NS_ASSIGN_OR_RETURN(auto have, TableColumns(n_.table));
  const bool exists = !have.empty();
  if (exists) {
    NS_RETURN_IF_ERROR(CheckColumns(have));
    NS_ASSIGN_OR_RETURN(auto keys, UniqueKeys());
    NS_RETURN_IF_ERROR(
        CheckTableKeys(layout_, keys, fmt::format("output.table '{}'", layout_.table)));
  }
  NS_RETURN_IF_ERROR(CreateTables(exists));
  NS_ASSIGN_OR_RETURN(types_,
                      TableColumns(layout_.mode == OutputMode::kSwap ? n_.swap_name : n_.table));
  NS_RETURN_IF_ERROR(MakeWriteSql());
  NS_RETURN_IF_ERROR(FindLedger());
  return OpenShardRows();
}

Status PgSink::FindLedger() {
  if (ledger_ == nullptr || !pg::SameDatabase(layout_.url, ledger_->location())) {
    return Status::Ok();
  }
  // The ledger migrated its schema when it opened, before the sink; checked
  // all the same, so that a mistake falls back to the commit table.
  NS_ASSIGN_OR_RETURN(auto r, pg_->Exec("SELECT to_regclass('nightshift.shards') IS NOT NULL",
                                        "finding the ledger's tables"));
  same_db_ = r.rows() == 1 && r.Text(0, 0) == "t";
  return Status::Ok();
}

Result<int64_t> PgSink::CommitShard(const ShardRows& rows, const ShardAttempt& a,
                                    DuckConnection* duck, const BeforeCommit& before_commit) {
  return OnFreshConnection([&] { return CommitOnce(rows, a, duck, before_commit); });
}

Result<int64_t> PgSink::CommitOnce(const ShardRows& rows, const ShardAttempt& a,
                                   DuckConnection* duck, const BeforeCommit& before_commit) {
  // The fast path: the whole shard in one COPY. Only when the server refuses
  // a row is the shard written again, finding the refused rows.
  auto r = CommitShardTx(rows, a, duck, before_commit, false);
  if (!r.has_value() && IsRowRejection(pg_->sqlstate())) {
    (void)pg_->Run("ROLLBACK", "rolling back");
    r = CommitShardTx(rows, a, duck, before_commit, true);
  }
  if (!r.has_value()) (void)pg_->Run("ROLLBACK", "rolling back");
  return r;
}

Result<int64_t> PgSink::CommitShardTx(const ShardRows& rows, const ShardAttempt& a,
                                      DuckConnection* duck, const BeforeCommit& before_commit,
                                      bool rejecting) {
  const std::string what = fmt::format("writing shard {} into {}", a.shard_id, Table());
  NS_RETURN_IF_ERROR(pg_->Run("BEGIN", what));
  // First the shard's commit record (the ledger's row, or a commit row): it
  // locks the shard (a concurrent commit of it waits for this transaction),
  // and finds a commit that already happened (a repeat after a lost
  // acknowledgement, another worker).
  NS_ASSIGN_OR_RETURN(std::optional<int64_t> had,
                      InLedger(a) ? LockLedgerShard(a, what) : InsertCommitRow(rows, a, what));
  if (had.has_value()) return *had;
  std::vector<RejectedRow> rejected;
  if (rows.rows() > 0 && !rejecting)
    NS_RETURN_IF_ERROR(pg::WriteShard(pg_.get(), sql_, rows, duck, what));
  if (rows.rows() > 0 && rejecting) {
    NS_RETURN_IF_ERROR(pg::WriteShardRejecting(pg_.get(), sql_, rows, duck, what, &rejected));
  }
  const auto written = rows.rows() - static_cast<int64_t>(rejected.size());
  if (!InLedger(a) && !rejected.empty()) {
    NS_RETURN_IF_ERROR(pg_->Run(fmt::format("UPDATE {} SET rows = $4 WHERE run_id = $1 AND "
                                            "shard_id = $2 AND part = $3",
                                            n_.commits),
                                what, CommitKey(a, written)));
  }
  NS_ASSIGN_OR_RETURN(ShardOutput published, before_commit(rejected));
  if (InLedger(a)) {
    // The ledger's own fenced commit, in this transaction: the rows and the
    // record that the shard is done become visible together.
    published.rows_written = written;
    NS_RETURN_IF_ERROR(ledger_->Commit(pg_.get(), layout_.run_id, a.shard_id, a.epoch, published));
  }
  MaybeCrash("db_before_commit");
  NS_RETURN_IF_ERROR(pg_->Run("COMMIT", what));
  MaybeCrash("db_after_commit");
  return written;
}

std::vector<std::string> PgSink::CommitKey(const ShardAttempt& a, int64_t rows) const {
  return {layout_.run_id, std::to_string(a.shard_id), std::to_string(a.part), std::to_string(rows)};
}

Result<std::optional<int64_t>> PgSink::InsertCommitRow(const ShardRows& rows, const ShardAttempt& a,
                                                       const std::string& what) {
  std::vector<std::string> key = CommitKey(a, rows.rows());
  key.insert(key.begin() + 3, std::to_string(a.epoch));
  NS_ASSIGN_OR_RETURN(
      auto ins,
      pg_->Exec(fmt::format("INSERT INTO {} (run_id, shard_id, part, epoch, rows) VALUES ($1, $2, "
                            "$3, $4, $5) ON CONFLICT DO NOTHING",
                            n_.commits),
                what, key));
  if (ins.Affected() == 1) return std::optional<int64_t>();
  NS_RETURN_IF_ERROR(pg_->Run("ROLLBACK", what));
  key.resize(3);
  NS_ASSIGN_OR_RETURN(
      auto had,
      pg_->Exec(fmt::format("SELECT epoch, rows FROM {} WHERE run_id = $1 AND shard_id = $2 "
                            "AND part = $3",
                            n_.commits),
                what, key));
  if (had.rows() == 0) return Error(Code::kTransient, what + ": the commit row vanished");
  NS_ASSIGN_OR_RETURN(int64_t recorded, AlreadyCommitted(layout_, a, had.Int(0, 0), had.Int(0, 1)));
  return std::optional<int64_t>(recorded);
}

Result<std::optional<int64_t>> PgSink::LockLedgerShard(const ShardAttempt& a,
                                                       const std::string& what) {
  // A stale epoch is kConflict here, before any row is written; the caller
  // rolls back.
  NS_ASSIGN_OR_RETURN(std::optional<int64_t> had,
                      ledger_->Lock(pg_.get(), layout_.run_id, a.shard_id, a.epoch));
  if (had.has_value()) NS_RETURN_IF_ERROR(pg_->Run("ROLLBACK", what));
  return had;
}

Result<std::vector<HeldShard>> PgSink::HeldShards() {
  NS_ASSIGN_OR_RETURN(auto r, OnFreshConnection([&] {
                        return pg_->Exec(fmt::format("SELECT shard_id, part, rows FROM {} WHERE "
                                                     "run_id = $1 AND shard_id >= 0",
                                                     n_.commits),
                                         "reading the commit table", {layout_.run_id});
                      }));
  std::vector<HeldShard> held;
  for (int i = 0; i < r.rows(); ++i) {
    held.push_back(HeldShard{r.Int(i, 0), static_cast<int32_t>(r.Int(i, 1)), r.Int(i, 2)});
  }
  return held;
}

Status PgSink::WriteSuccess(const std::string& /*manifest_json*/) {
  if (layout_.mode != OutputMode::kSwap) return Status::Ok();
  return OnFreshConnection([&] { return SwapOnce(); });
}

Status PgSink::SwapOnce() {
  const std::string what = fmt::format("replacing {} with the run's table", Table());
  NS_RETURN_IF_ERROR(pg_->Run("BEGIN", what));
  auto swap = [&]() -> Status {
    NS_ASSIGN_OR_RETURN(
        auto ins,
        pg_->Exec(fmt::format("INSERT INTO {} (run_id, shard_id, part, epoch, rows) VALUES ($1, "
                              "-1, 0, 0, 0) ON CONFLICT DO NOTHING",
                              n_.commits),
                  what, {layout_.run_id}));
    if (ins.Affected() == 0) return pg_->Run("ROLLBACK", what);
    NS_RETURN_IF_ERROR(pg_->Run(fmt::format("DROP TABLE IF EXISTS {}", n_.target), what));
    NS_RETURN_IF_ERROR(pg_->Run(
        fmt::format("ALTER TABLE {} RENAME TO {}", n_.swap, pg::QuoteIdent(n_.table)), what));
    MaybeCrash("db_before_swap");
    NS_RETURN_IF_ERROR(pg_->Run("COMMIT", what));
    MaybeCrash("db_after_swap");
    return Status::Ok();
  };
  Status s = swap();
  if (!s.ok()) (void)pg_->Run("ROLLBACK", "rolling back");
  return s;
}

}  // namespace

Result<std::unique_ptr<Sink>> OpenPostgresSink(const SinkLayout& layout,
                                               std::unique_ptr<pg::LedgerInTxn> ledger) {
  NS_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(layout.url, "output.url"));
  auto sink = std::make_unique<PgSink>(layout, std::move(conn), std::move(ledger));
  NS_RETURN_IF_ERROR(sink->Open());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace nightshift::io
