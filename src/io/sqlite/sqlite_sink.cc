#include "io/sqlite/sqlite_sink.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>

#include "env/crash_point.h"
#include "io/db_columns.h"
#include "io/db_sink.h"
#include "io/duck.h"

namespace nightshift::io {
namespace {

// A prepared statement, finalized when it goes.
struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, Finalize>;

// The output database: one connection, used by the sink's one writer thread.
class SqliteDb {
 public:
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    std::unique_ptr<SqliteDb> out(new SqliteDb(db, path));
    if (rc != SQLITE_OK) {
      return Error(Code::kInvalidJob, fmt::format("output.url: cannot open the SQLite database "
                                                  "'{}': {}",
                                                  path, db ? sqlite3_errmsg(db) : "out of memory"));
    }
    sqlite3_busy_timeout(db, 10000);
    // Not a database, or unreadable: refused before the run starts.
    if (Status s = out->Exec("PRAGMA synchronous = FULL; SELECT count(*) FROM sqlite_master",
                             "reading the database");
        !s.ok()) {
      return Error(Code::kInvalidJob, "output.url: " + s.message());
    }
    return out;
  }
  ~SqliteDb() { sqlite3_close_v2(db_); }

  Status Fail(int rc, std::string_view what) const {
    const Code code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? Code::kTransient : Code::kIoError;
    return Status(code,
                  fmt::format("{} in SQLite database '{}': {}", what, path_, sqlite3_errmsg(db_)));
  }
  Status Exec(const std::string& sql, std::string_view what) {
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : Fail(rc, what);
  }
  Result<Stmt> Prepare(const std::string& sql, std::string_view what) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
    if (rc != SQLITE_OK) return Error(Fail(rc, what));
    return Stmt(s);
  }
  // Steps `s`: true while it has a row.
  Result<bool> Step(sqlite3_stmt* s, std::string_view what) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(Fail(rc, what));
  }
  // Steps `s` once, discarding any row.
  Status Run(sqlite3_stmt* s, std::string_view what) {
    auto r = Step(s, what);
    return r.has_value() ? Status::Ok() : r.error();
  }
  // Rolls back the open transaction, if any.
  void Rollback() {
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK", "rolling back");
  }
  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string Text(sqlite3_stmt* s, int col) {
  const auto* t = sqlite3_column_text(s, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}

// SQLite's type affinity of a declared column type (its documented rules).
enum class Affinity { kInteger, kText, kBlob, kReal, kNumeric };
Affinity AffinityOf(std::string decl) {
  std::transform(decl.begin(), decl.end(), decl.begin(), ::toupper);
  auto has = [&](const char* s) { return decl.find(s) != std::string::npos; };
  if (has("INT")) return Affinity::kInteger;
  if (has("CHAR") || has("CLOB") || has("TEXT")) return Affinity::kText;
  if (has("BLOB") || decl.empty()) return Affinity::kBlob;
  if (has("REAL") || has("FLOA") || has("DOUB")) return Affinity::kReal;
  return Affinity::kNumeric;
}

// How a value of `c` is bound: numbers as numbers, bytes as a BLOB,
// everything else as text (dates and timestamps in ISO form, lists as JSON).
bool BoundAsText(const DbColumn& c) {
  return c.kind != DbKind::kInt64 && c.kind != DbKind::kFloat32 && c.kind != DbKind::kFloat64 &&
         c.kind != DbKind::kBool && c.kind != DbKind::kBlob;
}

std::string DeclType(const DbColumn& c) {
  switch (c.kind) {
    case DbKind::kInt64: return "INTEGER";
    case DbKind::kFloat32:
    case DbKind::kFloat64: return "REAL";
    case DbKind::kBool: return "BOOLEAN";
    case DbKind::kDate: return "DATE";
    case DbKind::kTimestamp: return "TIMESTAMP";
    case DbKind::kTimestampTz: return "TIMESTAMPTZ";
    case DbKind::kText: return c.pg_type.starts_with("numeric") ? "NUMERIC" : "TEXT";
    case DbKind::kBlob: return "BLOB";
    default: return "TEXT";  // lists, as JSON
  }
}

bool Fits(const DbColumn& c, const std::string& decl) {
  const Affinity a = AffinityOf(decl);
  if (a == Affinity::kBlob) return true;  // no declared type: holds anything as given
  switch (c.kind) {
    case DbKind::kInt64: return a != Affinity::kText;
    case DbKind::kFloat32:
    case DbKind::kFloat64: return a == Affinity::kReal || a == Affinity::kNumeric;
    case DbKind::kBool: return a == Affinity::kInteger || a == Affinity::kNumeric;
    case DbKind::kDate:
    case DbKind::kTimestamp:
    case DbKind::kTimestampTz: return a == Affinity::kText || a == Affinity::kNumeric;
    case DbKind::kText: return a == Affinity::kText || (c.as_text && a == Affinity::kNumeric);
    case DbKind::kBlob: return false;      // bytes only where the affinity is BLOB (above)
    default: return a == Affinity::kText;  // lists: JSON text
  }
}

struct ColumnInfo {
  std::string type;
  int pk = 0;  // position in the primary key, 0 when not in it
};

class SqliteSink final : public DbSink {
 public:
  SqliteSink(SinkLayout layout, std::unique_ptr<SqliteDb> db)
      : DbSink(std::move(layout)), db_(std::move(db)) {}

  Status Open();
  Result<int64_t> CommitShard(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                              const BeforeCommit& before_commit) override;
  Status WriteSuccess(const std::string& manifest_json) override;
  Result<std::vector<HeldShard>> HeldShards() override;

 private:
  Status ResolveNames();
  Result<std::map<std::string, ColumnInfo>> TableColumns(const std::string& table);
  Status CheckColumns(const std::map<std::string, ColumnInfo>& have);
  // The columns of the primary key (maybe none) and of each unique index.
  Result<std::vector<std::vector<std::string>>> UniqueKeys(
      const std::map<std::string, ColumnInfo>& have);
  Status CreateTables(bool target_exists);
  Result<int64_t> CommitShardTx(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                                const BeforeCommit& before_commit);
  // Inserts the rows, one prepared statement per row: a row SQLite refuses
  // (a constraint; a STRICT column's type) fails only its own statement, and
  // is added to `rejected` with SQLite's reason.
  Status InsertRows(const ShardRows& rows, DuckConnection* duck,
                    std::vector<RejectedRow>* rejected);
  Result<bool> SwapTx();

  std::unique_ptr<SqliteDb> db_;
  std::vector<DbColumn> cols_;
  std::string table_, target_, commits_, swap_, write_;  // quoted, but table_
  std::string key_list_, insert_sql_, select_sql_;
};

Status SqliteSink::ResolveNames() {
  table_ = layout_.table;
  if (const auto dot = table_.find('.'); dot != std::string::npos) {
    const std::string schema = table_.substr(0, dot);
    if (schema != "main") {
      return Status(Code::kInvalidJob,
                    fmt::format("output.table: schema '{}' does not exist in SQLite database "
                                "'{}' (a SQLite file has one schema, main)",
                                schema, db_->path()));
    }
    table_ = table_.substr(dot + 1);
  }
  target_ = QuoteIdent(table_);
  commits_ = QuoteIdent(CommitTableName(table_));
  swap_ = QuoteIdent(SwapTableName(table_, layout_.run_id));
  write_ = layout_.mode == OutputMode::kSwap ? swap_ : target_;
  for (const auto& c : cols_) {
    if (c.is_key) key_list_ += (key_list_.empty() ? "" : ", ") + QuoteIdent(c.name);
  }
  return Status::Ok();
}

Result<std::map<std::string, ColumnInfo>> SqliteSink::TableColumns(const std::string& table) {
  NS_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT name, type, pk FROM pragma_table_info(?)",
                                           "reading the table's columns"));
  BindText(s.get(), 1, table);
  std::map<std::string, ColumnInfo> cols;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, db_->Step(s.get(), "reading the table's columns"));
    if (!row) break;
    cols[NameInOutput(cols_, Text(s.get(), 0))] =
        ColumnInfo{Text(s.get(), 1), sqlite3_column_int(s.get(), 2)};
  }
  return cols;
}

Status SqliteSink::CheckColumns(const std::map<std::string, ColumnInfo>& have) {
  std::string bad;
  for (const auto& c : cols_) {
    auto it = have.find(c.name);
    std::string why;
    if (it == have.end()) {
      why = fmt::format("'{}' is missing (want {})", c.name, DeclType(c));
    } else if (!Fits(c, it->second.type)) {
      why = fmt::format("'{}' is {} but the output is {}", c.name, it->second.type, DeclType(c));
    }
    if (!why.empty()) bad += (bad.empty() ? "" : "; ") + why;
  }
  if (bad.empty()) return Status::Ok();
  return Status(Code::kSchemaMismatch,
                fmt::format("output.table '{}' in SQLite database '{}' does not fit the output: "
                            "column {}",
                            layout_.table, db_->path(), bad));
}

Result<std::vector<std::vector<std::string>>> SqliteSink::UniqueKeys(
    const std::map<std::string, ColumnInfo>& have) {
  std::vector<std::vector<std::string>> keys(1);
  for (const auto& [name, info] : have) {
    if (info.pk > 0) keys[0].push_back(name);
  }
  // Unique indexes and UNIQUE constraints (SQLite keeps both as indexes).
  NS_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT u.idx, c.name FROM (SELECT i.name AS idx FROM "
                                           "pragma_index_list(?1) i WHERE i.[unique]) u JOIN "
                                           "pragma_index_info(u.idx) c ORDER BY u.idx, c.seqno",
                                           "reading the table's keys"));
  BindText(s.get(), 1, table_);
  std::string index;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, db_->Step(s.get(), "reading the table's keys"));
    if (!row) break;
    if (keys.size() == 1 || Text(s.get(), 0) != index) keys.emplace_back();
    index = Text(s.get(), 0);
    keys.back().push_back(NameInOutput(cols_, Text(s.get(), 1)));
  }
  return keys;
}

Status SqliteSink::CreateTables(bool target_exists) {
  std::string defs, existing;
  for (const auto& c : cols_) {
    defs += fmt::format("{}{} {}", defs.empty() ? "" : ", ", QuoteIdent(c.name), DeclType(c));
  }
  if (target_exists && layout_.mode == OutputMode::kSwap) {
    NS_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT sql FROM sqlite_master WHERE type = "
                                             "'table' AND name = ?",
                                             "reading the table's definition"));
    BindText(s.get(), 1, table_);
    NS_ASSIGN_OR_RETURN(bool row, db_->Step(s.get(), "reading the table's definition"));
    if (row) existing = Text(s.get(), 0);
  }
  for (const CreateStatement& c : CreateTablesSql(
           {target_, swap_, commits_, key_list_}, layout_.mode, target_exists, defs, existing,
           "run_id TEXT NOT NULL, shard_id INTEGER NOT NULL, part INTEGER NOT NULL, "
           "epoch INTEGER NOT NULL, rows INTEGER NOT NULL, committed_at TEXT NOT NULL "
           "DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (run_id, shard_id, part)")) {
    NS_RETURN_IF_ERROR(db_->Exec(c.sql, c.what));
  }
  return Status::Ok();
}

Status SqliteSink::Open() {
  cols_ = DbColumns(layout_);
  NS_RETURN_IF_ERROR(ResolveNames());
  NS_ASSIGN_OR_RETURN(auto have, TableColumns(table_));
  const bool exists = !have.empty();
  if (exists) {
    NS_RETURN_IF_ERROR(CheckColumns(have));
    NS_ASSIGN_OR_RETURN(auto keys, UniqueKeys(have));
    NS_RETURN_IF_ERROR(
        CheckTableKeys(layout_, keys, fmt::format("output.table '{}'", layout_.table)));
  }
  NS_RETURN_IF_ERROR(CreateTables(exists));
  std::string names, params, update, select;
  for (const auto& c : cols_) {
    const std::string q = QuoteIdent(c.name);
    names += (names.empty() ? "" : ", ") + q;
    params += params.empty() ? "?" : ", ?";
    if (!c.is_key) update += fmt::format("{}{} = excluded.{}", update.empty() ? "" : ", ", q, q);
    select += (select.empty() ? "" : ", ") +
              (BoundAsText(c) ? fmt::format("CAST({} AS VARCHAR)", ScanSelect({c}, true))
                              : ScanSelect({c}));
  }
  insert_sql_ = fmt::format("INSERT INTO {} ({}) VALUES ({})", write_, names, params);
  if (layout_.mode == OutputMode::kUpsert) {
    insert_sql_ += fmt::format(" ON CONFLICT ({}) DO {}", key_list_,
                               update.empty() ? "NOTHING" : "UPDATE SET " + update);
  }
  select_sql_ = select;
  return OpenShardRows();
}

// One column of a DuckDB chunk, bound into the insert for each row.
struct BindColumn {
  DbKind kind;
  bool text;
  void* data;
  uint64_t* validity;

  void Bind(sqlite3_stmt* s, int i, idx_t r) const {
    if (validity != nullptr && !duckdb_validity_row_is_valid(validity, r)) {
      sqlite3_bind_null(s, i);
    } else if (text || kind == DbKind::kBlob) {
      auto* v = &static_cast<duckdb_string_t*>(data)[r];
      // The chunk outlives the step that reads the text or bytes.
      const int n = static_cast<int>(duckdb_string_t_length(*v));
      if (text) {
        sqlite3_bind_text(s, i, duckdb_string_t_data(v), n, SQLITE_STATIC);
      } else {
        sqlite3_bind_blob(s, i, duckdb_string_t_data(v), n, SQLITE_STATIC);
      }
    } else if (kind == DbKind::kInt64) {
      sqlite3_bind_int64(s, i, static_cast<int64_t*>(data)[r]);
    } else if (kind == DbKind::kFloat32) {
      sqlite3_bind_double(s, i, static_cast<float*>(data)[r]);
    } else if (kind == DbKind::kFloat64) {
      sqlite3_bind_double(s, i, static_cast<double*>(data)[r]);
    } else {
      sqlite3_bind_int(s, i, static_cast<bool*>(data)[r] ? 1 : 0);
    }
  }
};

// SQLite's refusals of one row: a constraint (CHECK, NOT NULL, UNIQUE, a
// STRICT column's type), a type mismatch, a value too big.
bool RowRefused(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH || primary == SQLITE_TOOBIG;
}

Status SqliteSink::InsertRows(const ShardRows& rows, DuckConnection* duck,
                              std::vector<RejectedRow>* rejected) {
  const std::string what = fmt::format("writing rows into table '{}'", layout_.table);
  NS_ASSIGN_OR_RETURN(Stmt ins, db_->Prepare(insert_sql_, what));
  NS_ASSIGN_OR_RETURN(DuckResult res,
                      duck->Stream(fmt::format("SELECT {} FROM {}", select_sql_, rows.RowsSql()),
                                   "reading the shard's rows"));
  std::vector<BindColumn> bind(cols_.size());
  int64_t index = 0;  // the row's position in the shard
  while (true) {
    NS_ASSIGN_OR_RETURN(DuckChunk chunk, res.Next());
    if (!chunk) break;
    for (size_t c = 0; c < cols_.size(); ++c) {
      duckdb_vector v = chunk.column(c);
      bind[c] = BindColumn{cols_[c].kind, BoundAsText(cols_[c]), duckdb_vector_get_data(v),
                           duckdb_vector_get_validity(v)};
    }
    for (idx_t r = 0; r < chunk.size(); ++r, ++index) {
      for (size_t c = 0; c < bind.size(); ++c) bind[c].Bind(ins.get(), static_cast<int>(c) + 1, r);
      const int rc = sqlite3_step(ins.get());
      if (rc != SQLITE_DONE && RowRefused(rc)) {
        rejected->push_back(
            RejectedRow{index, fmt::format("the database refused the row: {} ({})",
                                           sqlite3_errmsg(db_->get()), sqlite3_errstr(rc))});
      } else if (rc != SQLITE_DONE) {
        return db_->Fail(rc, what);
      }
      sqlite3_reset(ins.get());
    }
  }
  return Status::Ok();
}

Result<int64_t> SqliteSink::CommitShard(const ShardRows& rows, const ShardAttempt& a,
                                        DuckConnection* duck, const BeforeCommit& before_commit) {
  auto r = CommitShardTx(rows, a, duck, before_commit);
  if (!r.has_value()) db_->Rollback();
  return r;
}

Result<int64_t> SqliteSink::CommitShardTx(const ShardRows& rows, const ShardAttempt& a,
                                          DuckConnection* duck, const BeforeCommit& before_commit) {
  const std::string what =
      fmt::format("writing shard {} into table '{}'", a.shard_id, layout_.table);
  // IMMEDIATE: the write lock up front, so that the check below holds.
  NS_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE", what));
  NS_ASSIGN_OR_RETURN(Stmt had, db_->Prepare(fmt::format("SELECT epoch, rows FROM {} WHERE run_id "
                                                         "= ? AND shard_id = ? AND part = ?",
                                                         commits_),
                                             what));
  BindText(had.get(), 1, layout_.run_id);
  sqlite3_bind_int64(had.get(), 2, a.shard_id);
  sqlite3_bind_int(had.get(), 3, a.part);
  NS_ASSIGN_OR_RETURN(bool found, db_->Step(had.get(), what));
  if (found) {
    const int64_t epoch = sqlite3_column_int64(had.get(), 0),
                  n = sqlite3_column_int64(had.get(), 1);
    had.reset();
    db_->Rollback();
    return AlreadyCommitted(layout_, a, epoch, n);
  }
  NS_ASSIGN_OR_RETURN(Stmt rec, db_->Prepare(fmt::format("INSERT INTO {} (run_id, shard_id, part, "
                                                         "epoch, rows) VALUES (?, ?, ?, ?, ?)",
                                                         commits_),
                                             what));
  BindText(rec.get(), 1, layout_.run_id);
  sqlite3_bind_int64(rec.get(), 2, a.shard_id);
  sqlite3_bind_int(rec.get(), 3, a.part);
  sqlite3_bind_int64(rec.get(), 4, a.epoch);
  sqlite3_bind_int64(rec.get(), 5, rows.rows());
  NS_RETURN_IF_ERROR(db_->Run(rec.get(), what));
  std::vector<RejectedRow> rejected;
  if (rows.rows() > 0) NS_RETURN_IF_ERROR(InsertRows(rows, duck, &rejected));
  const auto written = rows.rows() - static_cast<int64_t>(rejected.size());
  if (!rejected.empty()) {
    NS_RETURN_IF_ERROR(
        db_->Exec(fmt::format("UPDATE {} SET rows = {} WHERE run_id = {} AND "
                              "shard_id = {} AND part = {}",
                              commits_, written, QuoteString(layout_.run_id), a.shard_id, a.part),
                  what));
  }
  NS_RETURN_IF_ERROR(StatusOf(before_commit(rejected)));
  MaybeCrash("db_before_commit");
  NS_RETURN_IF_ERROR(db_->Exec("COMMIT", what));
  MaybeCrash("db_after_commit");
  return written;
}

Result<std::vector<HeldShard>> SqliteSink::HeldShards() {
  NS_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(fmt::format("SELECT shard_id, part, rows FROM {} WHERE "
                                                       "run_id = ? AND shard_id >= 0",
                                                       commits_),
                                           "reading the commit table"));
  BindText(s.get(), 1, layout_.run_id);
  std::vector<HeldShard> held;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, db_->Step(s.get(), "reading the commit table"));
    if (!row) break;
    held.push_back(HeldShard{sqlite3_column_int64(s.get(), 0), sqlite3_column_int(s.get(), 1),
                             sqlite3_column_int64(s.get(), 2)});
  }
  return held;
}

// The swap's transaction; false when an earlier attempt already made it.
Result<bool> SqliteSink::SwapTx() {
  const std::string what = fmt::format("replacing table '{}' with the run's table", layout_.table);
  NS_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE", what));
  NS_ASSIGN_OR_RETURN(Stmt rec,
                      db_->Prepare(fmt::format("INSERT OR IGNORE INTO {} (run_id, shard_id, part, "
                                               "epoch, rows) VALUES (?, -1, 0, 0, 0)",
                                               commits_),
                                   what));
  BindText(rec.get(), 1, layout_.run_id);
  NS_RETURN_IF_ERROR(db_->Run(rec.get(), what));
  if (sqlite3_changes(db_->get()) == 0) return false;
  NS_RETURN_IF_ERROR(db_->Exec(fmt::format("DROP TABLE IF EXISTS {}", target_), what));
  NS_RETURN_IF_ERROR(db_->Exec(fmt::format("ALTER TABLE {} RENAME TO {}", swap_, target_), what));
  MaybeCrash("db_before_swap");
  NS_RETURN_IF_ERROR(db_->Exec("COMMIT", what));
  MaybeCrash("db_after_swap");
  return true;
}

Status SqliteSink::WriteSuccess(const std::string& /*manifest_json*/) {
  if (layout_.mode != OutputMode::kSwap) return Status::Ok();
  auto r = SwapTx();
  db_->Rollback();  // open only when the swap failed or had been made
  return r.has_value() ? Status::Ok() : r.error();
}

}  // namespace

Result<std::unique_ptr<Sink>> OpenSqliteSink(const SinkLayout& layout) {
  NS_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(layout.url));
  auto sink = std::make_unique<SqliteSink>(layout, std::move(db));
  NS_RETURN_IF_ERROR(sink->Open());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace nightshift::io
