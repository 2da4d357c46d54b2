// The PostgreSQL Source (input.format postgres): input.query on input.url,
// cut into shards by ranges of input.key.
//
// Planning (PlanKeyRanges) numbers the query's rows by key (in one snapshot,
// streamed through a cursor) and keeps every run.shard_rows-th key as a range
// boundary. That is one ordered pass over the keys (an index-only scan when
// the key is indexed) when the run is planned, paid once per run; in return
// the shards are the same for the same data, are stored in the ledger as
// plain bounds, duplicate and NULL keys are refused before any shard runs,
// and each worker reads its own shard with an indexed `key > $1 AND key <=
// $2` instead of an OFFSET that would read every row before it.
//
// Reading (Read) opens a read-only transaction per shard and a server-side
// cursor over the range, in key order, and FETCHes blocks of rows: at most
// two blocks are held at a time (the one being cut and the next, fetched
// ahead to know whether this one ends the shard). Each block is put, as
// text, into DuckDB chunks (ChunkTable) and read back by the ShardScanner
// that the DuckDB source uses: the same casts (TRY_CAST for model inputs, so
// a value that does not convert is a dead letter naming its key), the same
// packing of model inputs per ReadLayout, the same carried columns, batches
// and bucketing. Going through DuckDB costs one more copy of each value, but
// keeps one implementation of every rule about turning rows into batches.
#include "io/postgres/pg_source.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <cctype>

#include "io/chunk_table.h"
#include "io/duck.h"
#include "io/multi_file.h"
#include "io/postgres/pg_block.h"
#include "io/postgres/pg_conn.h"
#include "io/postgres/pg_key_ranges.h"
#include "io/postgres/pg_types.h"
#include "io/shard_scan.h"
#include "io/sql_types.h"

namespace nightshift::io::pg {
namespace {

// Rows per FETCH: whole batches, so that a block boundary does not cut a
// batch short (ShardScanner ends the open batch with each block).
int64_t BlockRows(int64_t batch_rows) {
  constexpr int64_t kTarget = 16384;
  const int64_t b = std::max<int64_t>(1, batch_rows);
  return std::max<int64_t>(1, (kTarget + b - 1) / b) * b;
}

// Ends the shard's read-only transaction (ROLLBACK: it changed nothing), also
// when the read stops early or fails.
struct ReadTransaction {
  PgConn* pg;
  bool open = false;
  ~ReadTransaction() {
    if (open) (void)pg->Run("ROLLBACK", "ending the read");
  }
};

class PgSource final : public Source {
 public:
  PgSource(Env* env, InputSpec spec, std::unique_ptr<PgConn> pg, std::shared_ptr<DuckDatabase> db,
           std::unique_ptr<DuckConnection> duck, std::shared_ptr<ChunkScanRegistry> registry)
      : env_(env),
        spec_(std::move(spec)),
        query_(AsSubquery(spec_.query)),
        pg_(std::move(pg)),
        db_(std::move(db)),
        duck_(std::move(duck)),
        registry_(std::move(registry)) {
    InputFile f;
    f.format = InputFormat::kPostgres;
    files_.push_back(f);
  }

  // Describes the query's columns and checks the key among them.
  Status Init() {
    // Text forms DuckDB reads back exactly: ISO dates, UTC offsets, floats
    // with every digit.
    for (const char* set :
         {"SET DateStyle = ISO", "SET TimeZone = 'UTC'", "SET extra_float_digits = 3"}) {
      NS_RETURN_IF_ERROR(pg_->Run(set, "setting up the session"));
    }
    auto described = pg_->Exec("SELECT * FROM " + query_ + " q LIMIT 0", "running input.query");
    if (!described.has_value()) return Status(Code::kInvalidJob, described.error().message());
    PGresult* r = described->get();
    bool has_key = false;
    std::vector<std::string> names;
    for (int c = 0; c < PQnfields(r); ++c) {
      PgColumnType t = MapPgType(PQftype(r, c), PQfmod(r, c));
      InputColumn col;
      col.name = PQfname(r, c);
      col.sql_type = t.sql_type;
      col.numeric = IsNumericType(t.sql_type);
      col.numeric_list = t.array && t.sql_type != "BOOLEAN[]";
      has_key |= col.name == spec_.key[0];
      if (col.name == spec_.key[0]) key_integer_ = t.integer;
      names.push_back(col.name);
      columns_.push_back(std::move(col));
      types_.push_back(std::move(t));
    }
    if (!has_key) {
      return Status(Code::kInvalidJob,
                    fmt::format("input.key '{}' is not a column of input.query on input.url ({}); "
                                "its columns are: {}",
                                spec_.key[0], pg_->described(), fmt::join(names, ", ")));
    }
    return Status::Ok();
  }

  Env* env() const override { return env_; }
  const std::vector<InputFile>& files() const override { return files_; }
  // No files: the run is fingerprinted by the query, the described URL and
  // the key (plan::JobDefinition), not by the rows (docs/database-input.md).
  const std::vector<InputFile>& read_files() const override { return no_files_; }
  bool seekable() const override { return false; }

  Result<std::vector<InputColumn>> Describe(int32_t) override { return columns_; }

  Result<int64_t> CountRows(int32_t) override {
    NS_ASSIGN_OR_RETURN(PgResult r, pg_->Exec("SELECT count(*) FROM " + query_ + " q",
                                              "counting the rows of input.query"));
    return r.Int(0, 0);
  }

  // Text values that look like numbers, among the first 1000 non-null ones.
  Result<double> ParsableFraction(int32_t, const std::string& column, DType) override {
    NS_ASSIGN_OR_RETURN(
        PgResult r,
        pg_->Exec(fmt::format("SELECT count(v), count(*) FILTER (WHERE v ~ "
                              "'^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$') "
                              "FROM (SELECT q.{0}::text AS v FROM {1} q WHERE q.{0} IS NOT NULL "
                              "LIMIT 1000) s",
                              QuoteIdent(column), query_),
                  "sampling input.query"));
    const int64_t present = r.Int(0, 0);
    return present == 0 ? 1.0 : static_cast<double>(r.Int(0, 1)) / static_cast<double>(present);
  }

  Result<std::vector<int64_t>> RowGroups(int32_t f) override {
    NS_ASSIGN_OR_RETURN(int64_t rows, CountRows(f));
    return std::vector<int64_t>{rows};
  }

  Result<std::vector<std::string>> CarriedTypes(const ReadLayout& layout) override {
    std::vector<std::string> out;
    for (const std::string& name : layout.carried) {
      const InputColumn* c = Column(name);
      if (c == nullptr) {
        return Error(Code::kSchemaMismatch, fmt::format("input.query has no column '{}'", name));
      }
      out.push_back(c->sql_type);
    }
    return out;
  }

  Result<std::string> CommonType(const std::string& a, const std::string& b) override {
    return CommonSqlType(duck_.get(), a, b);
  }

  Result<std::vector<KeyRange>> PlanKeyRanges(int64_t shard_rows) override;
  Result<std::vector<KeyRange>> PlanKeyRangesIn(int64_t shard_rows);

  Status Read(const ReadLayout& in, std::span<const ShardTask> shards,
              const std::function<std::unique_ptr<RowBatch>()>& next_batch,
              const std::function<bool(std::unique_ptr<RowBatch>)>& emit) override;

  void Interrupt() override {
    interrupted_.store(true);
    pg_->Cancel();
    duck_->Interrupt();
  }

 private:
  const InputColumn* Column(const std::string& name) const {
    for (const auto& c : columns_) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  const PgColumnType& TypeOf(const std::string& name) const {
    return types_[static_cast<size_t>(Column(name) - columns_.data())];
  }
  std::string Where() const {
    return fmt::format("input.query on input.url ({})", pg_->described());
  }
  std::string RangeQuery(const std::vector<std::string>& columns, const ShardTask& s,
                         std::vector<std::string>* params) const;
  Status ReadShard(const ShardTask& s, const std::vector<std::string>& columns,
                   const DuckSchema& schema, int64_t block_rows, ShardScanner* scanner);
  Result<PgResult> Fetch(int64_t rows);

  Env* const env_;
  InputSpec spec_;
  std::string query_;
  std::unique_ptr<PgConn> pg_;
  std::shared_ptr<DuckDatabase> db_;
  std::unique_ptr<DuckConnection> duck_;
  std::shared_ptr<ChunkScanRegistry> registry_;
  std::vector<InputFile> files_;
  std::vector<InputFile> no_files_;
  std::vector<InputColumn> columns_;
  std::vector<PgColumnType> types_;
  bool key_integer_ = false;
  std::atomic<bool> interrupted_{false};
};

Result<std::vector<KeyRange>> PgSource::PlanKeyRanges(int64_t shard_rows) {
  auto planned = PlanKeyRangesIn(shard_rows);
  if (planned.has_value() || planned.error().code() != Code::kIoError) return planned;
  // The server's complaint (a key type without an order, ...): the job is wrong.
  return Error(Code::kInvalidJob, planned.error().message());
}

// In one read-only snapshot: the row count, then the rows numbered in key
// order, streamed through a cursor, of which the server sends only every
// shard_rows-th (a boundary), a key equal to the one before it (a
// duplicate) and NULL keys (sorted last; never in a range, as key > x is
// not true for NULL). The first duplicate or NULL stops the plan.
Result<std::vector<KeyRange>> PgSource::PlanKeyRangesIn(int64_t shard_rows) {
  const std::string key = "q." + QuoteIdent(spec_.key[0]);
  const std::string what =
      fmt::format("cutting input.query into ranges of input.key '{}'", spec_.key[0]);
  NS_RETURN_IF_ERROR(pg_->EnsureConnected());
  ReadTransaction txn{pg_.get()};
  NS_RETURN_IF_ERROR(pg_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what));
  txn.open = true;
  NS_ASSIGN_OR_RETURN(PgResult count, pg_->Exec("SELECT count(*) FROM " + query_ + " q", what));
  const int64_t total = count.Int(0, 0);
  NS_RETURN_IF_ERROR(pg_->Run(
      fmt::format("DECLARE ns_plan NO SCROLL CURSOR FOR SELECT k::text, dup, k IS NULL FROM "
                  "(SELECT {0} AS k, row_number() OVER w AS n, {0} = lag({0}) OVER w AS dup "
                  "FROM {1} q WINDOW w AS (ORDER BY {0})) s "
                  "WHERE n % {2} = 0 OR dup OR k IS NULL",
                  key, query_, shard_rows),
      what));
  std::vector<std::string> boundaries;
  for (;;) {
    NS_ASSIGN_OR_RETURN(PgResult block, pg_->Exec("FETCH FORWARD 10000 FROM ns_plan", what));
    if (block.rows() == 0) break;
    for (int i = 0; i < block.rows(); ++i) {
      if (block.Text(i, 2) == "t") {
        return Error(Code::kInvalidData,
                     fmt::format("input.key '{}' is NULL on some rows of input.query on "
                                 "input.url ({}): every row needs a key",
                                 spec_.key[0], pg_->described()));
      }
      if (block.Text(i, 1) == "t") {
        return Error(Code::kInvalidData,
                     fmt::format("input.key '{}' is not unique in input.query on input.url ({}): "
                                 "key {} is on more than one row (shards are ranges of the key, "
                                 "so each key must name one row)",
                                 spec_.key[0], pg_->described(), block.Text(i, 0)));
      }
      boundaries.push_back(KeyJson(block.Text(i, 0), key_integer_));
    }
  }
  return CutKeyRanges(boundaries, total, shard_rows);
}

std::string PgSource::RangeQuery(const std::vector<std::string>& columns, const ShardTask& s,
                                 std::vector<std::string>* params) const {
  std::string select;
  for (const std::string& name : columns) {
    const std::string c = "q." + QuoteIdent(name);
    if (!select.empty()) select += ", ";
    select += BlockSelect(c, TypeOf(name));
  }
  const std::string key = "q." + QuoteIdent(spec_.key[0]);
  std::string where;
  if (!s.key_after.empty()) {
    params->push_back(KeyText(s.key_after));
    where = fmt::format(" WHERE {} > ${}", key, params->size());
  }
  if (!s.key_upto.empty()) {
    params->push_back(KeyText(s.key_upto));
    where += fmt::format("{} {} <= ${}", where.empty() ? " WHERE" : " AND", key, params->size());
  }
  if (!s.keys.empty()) {
    // The server types the parameter as an array of the key's type (an
    // index lookup per key when the key is indexed).
    params->push_back(KeyArray(s.keys));
    where +=
        fmt::format("{} {} = ANY(${})", where.empty() ? " WHERE" : " AND", key, params->size());
  }
  return fmt::format("SELECT {} FROM {} q{} ORDER BY {}", select, query_, where, key);
}

Result<PgResult> PgSource::Fetch(int64_t rows) {
  return pg_->Exec(fmt::format("FETCH FORWARD {} FROM ns_read", rows), "reading input.query", {},
                   /*binary=*/true);
}

Status PgSource::ReadShard(const ShardTask& s, const std::vector<std::string>& columns,
                           const DuckSchema& schema, int64_t block_rows, ShardScanner* scanner) {
  NS_RETURN_IF_ERROR(pg_->EnsureConnected());
  ReadTransaction txn{pg_.get()};
  NS_RETURN_IF_ERROR(
      pg_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting the read"));
  txn.open = true;
  std::vector<std::string> params;
  const std::string declare =
      "DECLARE ns_read NO SCROLL CURSOR FOR " + RangeQuery(columns, s, &params);
  NS_RETURN_IF_ERROR(pg_->Run(declare, "reading input.query", params));
  NS_ASSIGN_OR_RETURN(PgResult block, Fetch(block_rows));
  if (block.rows() == 0) {
    scanner->EmitEmptyShard(s);
    return Status::Ok();
  }
  const std::string select = ShardScanner::SelectList(scanner->layout());
  std::vector<PgColumnType> types;
  for (const auto& c : columns) types.push_back(TypeOf(c));
  for (int64_t row = s.row_begin;;) {
    PgResult next;
    if (block.rows() == block_rows) {
      NS_ASSIGN_OR_RETURN(next, Fetch(block_rows));
    }
    const bool last = next.rows() == 0;
    ChunkTable table(&schema);
    FillBlock(block, types, &table);
    ChunkScanRegistry::Handle handle = ChunkScanRegistry::Register(registry_, &table);
    ShardTask piece = s;
    piece.row_begin = row;
    piece.row_end = row + block.rows();
    piece.shard_ends = last;
    piece.file_end = false;
    NS_RETURN_IF_ERROR(scanner->Scan("SELECT " + select + " FROM " + handle.Sql(), files_[0],
                                     Where(), std::span(&piece, 1), row, /*check_end=*/false));
    if (scanner->stopped() || last) break;
    row = piece.row_end;
    block = std::move(next);
  }
  return Status::Ok();
}

Status PgSource::Read(const ReadLayout& in, std::span<const ShardTask> shards,
                      const std::function<std::unique_ptr<RowBatch>()>& next_batch,
                      const std::function<bool(std::unique_ptr<RowBatch>)>& emit) {
  interrupted_.store(false);
  for (const ShardTask& s : shards) {
    if (!s.rows.empty() || !s.packed.empty()) {
      return Status(Code::kInternal,
                    "a postgres input is read by key ranges: its rows are re-read by key "
                    "(ShardTask::keys), not by number");
    }
  }
  ReadLayout layout = in;
  // Kept columns of most types arrive as text (BlockSelect) and are cast by
  // the scanner: a value DuckDB's type cannot hold is its row's dead letter.
  layout.carried_as_text = true;
  if (layout.carried_types.empty()) {
    NS_ASSIGN_OR_RETURN(layout.carried_types, CarriedTypes(in));
  }
  // The columns the layout reads, each once, as text.
  std::vector<std::string> columns;
  auto need = [&](const std::string& name) {
    if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
  };
  for (const auto& input : layout.inputs) {
    if (input.filler) {
      // A preprocess step reads its raw column (image, pdf_pages), or an
      // expression over the columns it quotes (crop: boxes and image).
      const std::string raw = input.filler->select_sql();
      need(input.filler->column());
      for (const auto& c : columns_) {
        if (raw.find(QuoteIdent(c.name)) != std::string::npos) need(c.name);
      }
      continue;
    }
    for (const auto& c : input.columns) need(c);
  }
  for (const auto& c : layout.carried) need(c);
  for (const auto& c : columns) {
    if (Column(c) == nullptr) {
      return Status(Code::kSchemaMismatch, fmt::format("input.query has no column '{}'", c));
    }
  }
  std::vector<std::string> block_types;
  for (const auto& c : columns) block_types.push_back(BlockType(TypeOf(c)));
  NS_ASSIGN_OR_RETURN(DuckSchema schema, DuckSchema::FromSql(duck_.get(), columns, block_types));
  ShardScanner scanner(duck_.get(), &interrupted_, layout, next_batch, emit);
  const int64_t block_rows = BlockRows(layout.batch_rows);
  for (const ShardTask& s : shards) {
    Status st = ReadShard(s, columns, schema, block_rows, &scanner);
    if (interrupted_.load()) return Status::Ok();  // a cancelled statement is not an error
    NS_RETURN_IF_ERROR(st);
    if (scanner.stopped()) return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Source>> OpenPgSource(const InputSpec& spec, int duckdb_threads, Env* env) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> pg, PgConn::Connect(spec.url, "input.url"));
  NS_ASSIGN_OR_RETURN(auto db, DuckDatabase::OpenInMemory(duckdb_threads));
  NS_ASSIGN_OR_RETURN(auto duck, DuckConnection::Open(db));
  NS_ASSIGN_OR_RETURN(auto registry, ChunkScanRegistry::Install(duck.get()));
  auto source = std::make_unique<PgSource>(env, spec, std::move(pg), std::move(db), std::move(duck),
                                           std::move(registry));
  NS_RETURN_IF_ERROR(source->Init());
  return std::unique_ptr<Source>(std::move(source));
}

}  // namespace nightshift::io::pg
