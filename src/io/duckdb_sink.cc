#include "io/duckdb_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "env/crash_point.h"
#include "io/db_columns.h"
#include "io/db_sink.h"
#include "io/duck.h"

namespace nightshift::io {
namespace {

// The name the output file is attached under.
constexpr const char* kAlias = "ns_out";

bool OneOf(const std::string& t, std::initializer_list<const char*> types) {
  return std::any_of(types.begin(), types.end(), [&](const char* x) { return t == x; });
}

// Whether a DuckDB column of type `t` holds `c`'s values without loss of kind.
bool Fits(const DbColumn& c, const std::string& t) {
  if (t == c.duck_type || c.as_text) return true;  // as_text: cast, a bad value fails the shard
  const bool decimal = t.starts_with("DECIMAL");
  switch (c.kind) {
    case DbKind::kInt64:
      return decimal ||
             OneOf(t, {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE"});
    case DbKind::kFloat32:
    case DbKind::kFloat64: return decimal || OneOf(t, {"FLOAT", "DOUBLE"});
    case DbKind::kBool: return t == "BOOLEAN";
    case DbKind::kDate: return t == "DATE" || t.starts_with("TIMESTAMP");
    case DbKind::kTimestamp:
    case DbKind::kTimestampTz: return t.starts_with("TIMESTAMP");
    case DbKind::kText: return t == "VARCHAR";
    case DbKind::kBlob: return t == "BLOB";
    case DbKind::kFloat32List:
    case DbKind::kFloat64List: return OneOf(t, {"FLOAT[]", "DOUBLE[]"});
    case DbKind::kInt64List: return OneOf(t, {"BIGINT[]", "INTEGER[]"});
  }
  return false;
}

class DuckdbSink final : public DbSink {
 public:
  explicit DuckdbSink(SinkLayout layout) : DbSink(std::move(layout)) {}

  Status Open();
  Result<int64_t> CommitShard(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                              const BeforeCommit& before_commit) override;
  Status WriteSuccess(const std::string& manifest_json) override;
  Result<std::vector<HeldShard>> HeldShards() override;

 private:
  Status Attach();
  Status ResolveNames();
  Result<std::map<std::string, std::string>> TableColumns(const std::string& table);
  Status CheckColumns(const std::map<std::string, std::string>& have);
  // The columns of each primary key and unique constraint of the table.
  Result<std::vector<std::vector<std::string>>> UniqueKeys();
  Status CreateTables(bool target_exists);
  // The transaction of CommitShard, leaving out the rows in `rejected`.
  Result<int64_t> CommitShardTx(const ShardRows& rows, const ShardAttempt& a, DuckConnection* duck,
                                const BeforeCommit& before_commit,
                                const std::vector<RejectedRow>& rejected);
  // The rows of [begin, end) DuckDB refuses: DuckDB has no savepoints, so
  // each range is tried in a transaction that is rolled back, halving a
  // refused range until each refused row stands alone.
  Status FindRejected(const ShardRows& rows, DuckConnection* duck, int64_t begin, int64_t end,
                      std::vector<RejectedRow>* rejected);
  // The commit row of (shard, part) in this run: its epoch and rows.
  Result<std::optional<std::pair<int64_t, int64_t>>> CommitRow(DuckConnection* conn,
                                                               int64_t shard_id, int32_t part);
  Result<bool> SwapTx();
  std::string Qualified(const std::string& name) const {
    return fmt::format("{}.{}.{}", kAlias, QuoteIdent(schema_), QuoteIdent(name));
  }

  std::unique_ptr<DuckConnection> conn_;
  std::vector<DbColumn> cols_;
  std::string schema_, table_, swap_name_;
  std::string target_, commits_, swap_, write_;  // qualified and quoted
  std::string key_list_, insert_sql_;
};

Status DuckdbSink::Attach() {
  NS_ASSIGN_OR_RETURN(conn_, DuckConnection::Open(duck_db()));
  Status s = conn_->Exec(fmt::format("ATTACH {} AS {}", QuoteString(layout_.url), kAlias));
  if (!s.ok()) {
    return Status(Code::kInvalidJob,
                  fmt::format("output.url: cannot open the DuckDB database '{}': {}", layout_.url,
                              s.message()));
  }
  return Status::Ok();
}

Status DuckdbSink::ResolveNames() {
  table_ = layout_.table;
  schema_ = "main";
  if (const auto dot = table_.find('.'); dot != std::string::npos) {
    schema_ = table_.substr(0, dot);
    table_ = table_.substr(dot + 1);
  }
  NS_ASSIGN_OR_RETURN(DuckResult r, conn_->Query(fmt::format("SELECT 1 FROM duckdb_schemas() "
                                                             "WHERE database_name = '{}' AND "
                                                             "schema_name = {}",
                                                             kAlias, QuoteString(schema_)),
                                                 "checking the schema"));
  if (r.row_count() == 0) {
    return Status(Code::kInvalidJob,
                  fmt::format("output.table: schema '{}' does not exist in DuckDB database '{}' "
                              "(nightshift creates tables, not schemas: CREATE SCHEMA {} first)",
                              schema_, layout_.url, QuoteIdent(schema_)));
  }
  swap_name_ = SwapTableName(table_, layout_.run_id);
  target_ = Qualified(table_);
  commits_ = Qualified(CommitTableName(table_));
  swap_ = Qualified(swap_name_);
  write_ = layout_.mode == OutputMode::kSwap ? swap_ : target_;
  for (const auto& c : cols_) {
    if (c.is_key) key_list_ += (key_list_.empty() ? "" : ", ") + QuoteIdent(c.name);
  }
  return Status::Ok();
}

Result<std::map<std::string, std::string>> DuckdbSink::TableColumns(const std::string& table) {
  NS_ASSIGN_OR_RETURN(
      DuckResult r,
      conn_->Query(fmt::format("SELECT column_name, data_type FROM duckdb_columns() WHERE "
                               "database_name = '{}' AND schema_name = {} AND table_name = {}",
                               kAlias, QuoteString(schema_), QuoteString(table)),
                   "reading the table's columns"));
  std::map<std::string, std::string> cols;
  for (idx_t i = 0; i < r.row_count(); ++i) cols[NameInOutput(cols_, r.Text(0, i))] = r.Text(1, i);
  return cols;
}

Status DuckdbSink::CheckColumns(const std::map<std::string, std::string>& have) {
  std::string bad;
  for (const auto& c : cols_) {
    auto it = have.find(c.name);
    std::string why;
    if (it == have.end()) {
      why = fmt::format("'{}' is missing (want {})", c.name, c.duck_type);
    } else if (!Fits(c, it->second)) {
      why = fmt::format("'{}' is {} but the output is {}", c.name, it->second, c.duck_type);
    }
    if (!why.empty()) bad += (bad.empty() ? "" : "; ") + why;
  }
  if (bad.empty()) return Status::Ok();
  return Status(Code::kSchemaMismatch,
                fmt::format("output.table '{}' in DuckDB database '{}' does not fit the output: "
                            "column {}",
                            layout_.table, layout_.url, bad));
}

Result<std::vector<std::vector<std::string>>> DuckdbSink::UniqueKeys() {
  NS_ASSIGN_OR_RETURN(
      DuckResult r,
      conn_->Query(fmt::format("SELECT unnest(constraint_column_names), constraint_index FROM "
                               "duckdb_constraints() WHERE database_name = '{}' AND "
                               "schema_name = {} AND table_name = {} AND constraint_type IN "
                               "('PRIMARY KEY', 'UNIQUE') ORDER BY constraint_index",
                               kAlias, QuoteString(schema_), QuoteString(table_)),
                   "reading the table's keys"));
  std::vector<std::vector<std::string>> keys;
  for (idx_t i = 0; i < r.row_count(); ++i) {
    if (i == 0 || r.Int(1, i) != r.Int(1, i - 1)) keys.emplace_back();
    keys.back().push_back(NameInOutput(cols_, r.Text(0, i)));
  }
  return keys;
}

Status DuckdbSink::CreateTables(bool target_exists) {
  std::string defs, existing;
  for (const auto& c : cols_) {
    defs += fmt::format("{}{} {}", defs.empty() ? "" : ", ", QuoteIdent(c.name), c.duck_type);
  }
  if (target_exists && layout_.mode == OutputMode::kSwap) {
    NS_ASSIGN_OR_RETURN(DuckResult r,
                        conn_->Query(fmt::format("SELECT sql FROM duckdb_tables() WHERE "
                                                 "database_name = '{}' AND schema_name = {} AND "
                                                 "table_name = {}",
                                                 kAlias, QuoteString(schema_), QuoteString(table_)),
                                     "reading the table's definition"));
    if (r.row_count() > 0) existing = r.Text(0, 0);
  }
  for (const CreateStatement& c : CreateTablesSql(
           {target_, swap_, commits_, key_list_}, layout_.mode, target_exists, defs, existing,
           "run_id VARCHAR NOT NULL, shard_id BIGINT NOT NULL, part INTEGER NOT NULL, epoch "
           "BIGINT NOT NULL, rows BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL DEFAULT "
           "current_timestamp, PRIMARY KEY (run_id, shard_id, part)")) {
    NS_RETURN_IF_ERROR(conn_->Exec(c.sql, c.what));
  }
  return Status::Ok();
}

Status DuckdbSink::Open() {
  cols_ = DbColumns(layout_);
  NS_RETURN_IF_ERROR(OpenShardRows());
  NS_RETURN_IF_ERROR(Attach());
  NS_RETURN_IF_ERROR(ResolveNames());
  NS_ASSIGN_OR_RETURN(auto have, TableColumns(table_));
  const bool exists = !have.empty();
  if (exists) {
    NS_RETURN_IF_ERROR(CheckColumns(have));
    NS_ASSIGN_OR_RETURN(auto keys, UniqueKeys());
    NS_RETURN_IF_ERROR(
        CheckTableKeys(layout_, keys, fmt::format("output.table '{}'", layout_.table)));
  }
  NS_RETURN_IF_ERROR(CreateTables(exists));
  NS_ASSIGN_OR_RETURN(auto types,
                      TableColumns(layout_.mode == OutputMode::kSwap ? swap_name_ : table_));
  std::string names, select, update;
  for (const auto& c : cols_) {
    const std::string q = QuoteIdent(c.name);
    names += (names.empty() ? "" : ", ") + q;
    select += fmt::format("{}CAST({} AS {})", select.empty() ? "" : ", ", q, types[c.name]);
    if (!c.is_key) update += fmt::format("{}{} = EXCLUDED.{}", update.empty() ? "" : ", ", q, q);
  }
  // "{}" is where the shard's rows (ShardRows::RowsSql()) go.
  insert_sql_ = fmt::format("INSERT INTO {} ({}) SELECT {} FROM {{}}", write_, names, select);
  if (layout_.mode == OutputMode::kUpsert) {
    insert_sql_ += fmt::format(" ON CONFLICT ({}) DO {}", key_list_,
                               update.empty() ? "NOTHING" : "UPDATE SET " + update);
  }
  return Status::Ok();
}

Result<std::optional<std::pair<int64_t, int64_t>>> DuckdbSink::CommitRow(DuckConnection* conn,
                                                                         int64_t shard_id,
                                                                         int32_t part) {
  NS_ASSIGN_OR_RETURN(
      DuckResult r,
      conn->Query(fmt::format("SELECT epoch, rows FROM {} WHERE run_id = {} AND shard_id = {} AND "
                              "part = {}",
                              commits_, QuoteString(layout_.run_id), shard_id, part),
                  "reading the commit table"));
  if (r.row_count() == 0) return std::optional<std::pair<int64_t, int64_t>>();
  return std::optional<std::pair<int64_t, int64_t>>(std::pair{r.Int(0, 0), r.Int(1, 0)});
}

// DuckDB's refusals of a row (its error types): a constraint (CHECK, NOT
// NULL, a key), a value its column type cannot hold. The position of the
// reason in `message`, or npos.
size_t RowRefusal(const std::string& message) {
  for (const char* kind : {"Constraint Error:", "Conversion Error:", "Out of Range Error:"}) {
    if (auto at = message.find(kind); at != std::string::npos) return at;
  }
  return std::string::npos;
}

Result<int64_t> DuckdbSink::CommitShard(const ShardRows& rows, const ShardAttempt& a,
                                        DuckConnection* duck, const BeforeCommit& before_commit) {
  auto r = CommitShardTx(rows, a, duck, before_commit, {});
  if (r.has_value()) return r;
  (void)duck->Exec("ROLLBACK");  // none open: an error we ignore
  if (RowRefusal(r.error().message()) == std::string::npos) return r;
  std::vector<RejectedRow> rejected;
  NS_RETURN_IF_ERROR(FindRejected(rows, duck, 0, rows.rows(), &rejected));
  r = CommitShardTx(rows, a, duck, before_commit, rejected);
  if (!r.has_value()) (void)duck->Exec("ROLLBACK");
  return r;
}

Status DuckdbSink::FindRejected(const ShardRows& rows, DuckConnection* duck, int64_t begin,
                                int64_t end, std::vector<RejectedRow>* rejected) {
  const std::string what = fmt::format("checking rows for table '{}'", layout_.table);
  NS_RETURN_IF_ERROR(duck->Exec("BEGIN TRANSACTION", what));
  Status s = duck->Exec(fmt::format(fmt::runtime(insert_sql_), rows.RowsSql(begin, end)), what);
  NS_RETURN_IF_ERROR(duck->Exec("ROLLBACK", what));
  if (s.ok()) return s;
  const size_t at = RowRefusal(s.message());
  if (at == std::string::npos) return s;
  if (end - begin == 1) {
    rejected->push_back(
        RejectedRow{begin, "the database refused the row: " + s.message().substr(at)});
    return Status::Ok();
  }
  const int64_t mid = begin + (end - begin) / 2;
  NS_RETURN_IF_ERROR(FindRejected(rows, duck, begin, mid, rejected));
  return FindRejected(rows, duck, mid, end, rejected);
}

Result<int64_t> DuckdbSink::CommitShardTx(const ShardRows& rows, const ShardAttempt& a,
                                          DuckConnection* duck, const BeforeCommit& before_commit,
                                          const std::vector<RejectedRow>& rejected) {
  const std::string what =
      fmt::format("writing shard {} into table '{}'", a.shard_id, layout_.table);
  NS_RETURN_IF_ERROR(duck->Exec("BEGIN TRANSACTION", what));
  NS_ASSIGN_OR_RETURN(auto had, CommitRow(duck, a.shard_id, a.part));
  if (had) {
    NS_RETURN_IF_ERROR(duck->Exec("ROLLBACK", what));
    return AlreadyCommitted(layout_, a, had->first, had->second);
  }
  const auto written = rows.rows() - static_cast<int64_t>(rejected.size());
  NS_RETURN_IF_ERROR(duck->Exec(
      fmt::format("INSERT INTO {} (run_id, shard_id, part, epoch, rows) VALUES ({}, {}, "
                  "{}, {}, {})",
                  commits_, QuoteString(layout_.run_id), a.shard_id, a.part, a.epoch, written),
      what));
  if (written > 0) {
    NS_RETURN_IF_ERROR(
        duck->Exec(fmt::format(fmt::runtime(insert_sql_), rows.RowsSqlExcept(rejected)), what));
  }
  NS_RETURN_IF_ERROR(StatusOf(before_commit(rejected)));
  MaybeCrash("db_before_commit");
  NS_RETURN_IF_ERROR(duck->Exec("COMMIT", what));
  MaybeCrash("db_after_commit");
  return written;
}

Result<std::vector<HeldShard>> DuckdbSink::HeldShards() {
  NS_ASSIGN_OR_RETURN(DuckResult r,
                      conn_->Query(fmt::format("SELECT shard_id, part, rows FROM {} WHERE run_id "
                                               "= {} AND shard_id >= 0",
                                               commits_, QuoteString(layout_.run_id)),
                                   "reading the commit table"));
  std::vector<HeldShard> held;
  for (idx_t i = 0; i < r.row_count(); ++i) {
    held.push_back(HeldShard{r.Int(0, i), static_cast<int32_t>(r.Int(1, i)), r.Int(2, i)});
  }
  return held;
}

// The swap's transaction; false when an earlier attempt already made it.
Result<bool> DuckdbSink::SwapTx() {
  const std::string what = fmt::format("replacing table '{}' with the run's table", layout_.table);
  NS_RETURN_IF_ERROR(conn_->Exec("BEGIN TRANSACTION", what));
  NS_ASSIGN_OR_RETURN(auto had, CommitRow(conn_.get(), -1, 0));
  if (had) return false;
  NS_RETURN_IF_ERROR(conn_->Exec(fmt::format("INSERT INTO {} (run_id, shard_id, part, epoch, rows) "
                                             "VALUES ({}, -1, 0, 0, 0)",
                                             commits_, QuoteString(layout_.run_id)),
                                 what));
  NS_RETURN_IF_ERROR(conn_->Exec(fmt::format("DROP TABLE IF EXISTS {}", target_), what));
  NS_RETURN_IF_ERROR(
      conn_->Exec(fmt::format("ALTER TABLE {} RENAME TO {}", swap_, QuoteIdent(table_)), what));
  MaybeCrash("db_before_swap");
  NS_RETURN_IF_ERROR(conn_->Exec("COMMIT", what));
  MaybeCrash("db_after_swap");
  return true;
}

Status DuckdbSink::WriteSuccess(const std::string& /*manifest_json*/) {
  if (layout_.mode != OutputMode::kSwap) return Status::Ok();
  auto r = SwapTx();
  if (!r.has_value() || !*r) (void)conn_->Exec("ROLLBACK");
  return r.has_value() ? Status::Ok() : r.error();
}

}  // namespace

Result<std::unique_ptr<Sink>> OpenDuckdbSink(const SinkLayout& layout) {
  auto sink = std::make_unique<DuckdbSink>(layout);
  NS_RETURN_IF_ERROR(sink->Open());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace nightshift::io
