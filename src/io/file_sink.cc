// The file Sink: Parquet, CSV or JSONL part files written by DuckDB.
//
// Each shard attempt copies its rows into a ChunkTable (DuckDB data chunks in
// memory: carried columns copied with a selection vector, model outputs by
// strided copies), then COPYs them with one query reading the table function
// ns_chunks(id) to a hidden temp file, fsyncs it and renames it to
// part-<shard>.<ext>. Memory is bounded by one shard's output. Nothing is
// created in DuckDB's catalog per shard.
#include "io/file_sink.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstring>

#include "io/chunk_table.h"
#include "io/duck.h"
#include "io/duckdb_carried.h"
#include "io/shard_rows.h"
#include "io/sql_types.h"
#include "nightshift/env.h"
#include "nightshift/sink.h"

namespace nightshift::io {
namespace {

std::string Extension(OutputFormat f) {
  switch (f) {
    case OutputFormat::kParquet: return "parquet";
    case OutputFormat::kCsv: return "csv";
    case OutputFormat::kJsonl: return "jsonl";
    case OutputFormat::kPostgres:
    case OutputFormat::kSqlite:
    case OutputFormat::kDuckdb: break;  // no part files
  }
  return "parquet";
}

std::string CopyOptions(OutputFormat f) {
  switch (f) {
    case OutputFormat::kParquet: return "FORMAT parquet";
    case OutputFormat::kCsv: return "FORMAT csv, HEADER true";
    case OutputFormat::kJsonl: return "FORMAT json";
    case OutputFormat::kPostgres:
    case OutputFormat::kSqlite:
    case OutputFormat::kDuckdb: break;  // no part files
  }
  return "FORMAT parquet";
}

class FileShardWriter;

class FileSink final : public Sink {
 public:
  FileSink(SinkLayout layout, std::shared_ptr<DuckDatabase> db,
           std::shared_ptr<ChunkScanRegistry> registry, ShardRowSchemas schemas)
      : layout_(std::move(layout)),
        db_(std::move(db)),
        registry_(std::move(registry)),
        schemas_(std::move(schemas)) {}

  Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t shard_id, int64_t epoch,
                                                  int32_t retry_seq) override;

  Status WriteSuccess(const std::string& manifest_json) override;

  const SinkLayout& layout() const { return layout_; }
  Env* env() const { return layout_.env != nullptr ? layout_.env : Env::Default(); }
  const std::shared_ptr<DuckDatabase>& db() const { return db_; }
  const std::shared_ptr<ChunkScanRegistry>& registry() const { return registry_; }
  const ShardRowSchemas* schemas() const { return &schemas_; }

 private:
  SinkLayout layout_;
  std::shared_ptr<DuckDatabase> db_;
  std::shared_ptr<ChunkScanRegistry> registry_;
  ShardRowSchemas schemas_;
};

class FileShardWriter final : public ShardWriter {
 public:
  FileShardWriter(const FileSink* sink, int64_t shard_id, int64_t epoch, int32_t retry_seq,
                  std::unique_ptr<DuckConnection> conn)
      : sink_(sink),
        layout_(sink->layout()),
        shard_id_(shard_id),
        epoch_(epoch),
        retry_seq_(retry_seq),
        conn_(std::move(conn)),
        rows_(layout_, sink->schemas(), sink->registry()) {}

  ~FileShardWriter() override {
    if (!finished_) {
      for (const auto& tmp : temps_) (void)sink_->env()->RemoveFile(tmp);
    }
  }

  Status Append(const RowBatch& batch) override { return rows_.Append(batch); }

  Result<ShardOutput> Finish(const ClaimCheck& still_ours) override {
    Env* env = sink_->env();
    ShardOutput out;
    rows_.WithholdItemsOfFailedRows();
    out.rows_written = rows_.rows();
    std::string name = PartFileName(shard_id_, layout_.format, retry_seq_);
    std::string tmp = JoinPath(layout_.output_dir, fmt::format(".{}.tmp-{}", name, epoch_));
    temps_.push_back(tmp);
    NS_RETURN_IF_ERROR(
        conn_->Exec(fmt::format("COPY (SELECT {} FROM {}{}) TO {} ({})", CopySelect(),
                                rows_.RowsSql(), layout_.restore_order ? " ORDER BY __ns_row" : "",
                                QuoteString(tmp), CopyOptions(layout_.format)),
                    fmt::format("writing output of shard {}", shard_id_)));
    NS_RETURN_IF_ERROR(env->PublishFileFenced(tmp, JoinPath(layout_.output_dir, name), still_ours));
    // Dead letters after the data: a writer whose claim was lost stops at the
    // data file above, before publishing anything else.
    NS_RETURN_IF_ERROR(
        rows_.WriteDeadLetters(conn_.get(), env, shard_id_, epoch_, {}, still_ours, &out, &temps_));
    out.output_file = name;
    finished_ = true;
    return out;
  }

 private:
  // Parquet has no 128-bit integer: DuckDB would write HUGEINT as DOUBLE and
  // round large keys, so such columns are written as DECIMAL(38,0), exact.
  // JSONL writes NaN and infinity as null (FiniteOrNull) instead of DuckDB's
  // NaN/Infinity, which no JSON reader accepts.
  std::string CopySelect() const {
    std::string star = layout_.restore_order ? "* EXCLUDE (__ns_row)" : "*";
    std::vector<std::string> replace;
    for (size_t i = 0; i < layout_.keep_count && i < layout_.carried_types.size(); ++i) {
      std::string c = QuoteIdent(layout_.carried[i]);
      std::string e = ReplaceCarried(layout_.carried_types[i], c);
      if (!e.empty()) replace.push_back(fmt::format("{} AS {}", e, c));
    }
    for (const auto& o : layout_.outputs) {
      if (layout_.format != OutputFormat::kJsonl || !IsFloatColumn(o)) continue;
      std::string c = QuoteIdent(o.name);
      replace.push_back(fmt::format("{} AS {}", FiniteOrNull(c, o.is_list), c));
    }
    return replace.empty() ? star : fmt::format("{} REPLACE ({})", star, fmt::join(replace, ", "));
  }

  // An output column of floats (scalars or a list), not one written from
  // labels, text, page numbers or images.
  static bool IsFloatColumn(const OutputColumn& o) {
    const bool floats = o.dtype == DType::kFloat32 || o.dtype == DType::kFloat64 ||
                        o.dtype == DType::kFloat16 || o.dtype == DType::kBFloat16;
    return floats && !o.is_text && !o.labels && !o.item_number && !o.kept_image;
  }

  // A carried column's replacement ("" when written as it is).
  std::string ReplaceCarried(const std::string& type, const std::string& c) const {
    if (layout_.format == OutputFormat::kParquet && (type == "HUGEINT" || type == "UHUGEINT")) {
      return fmt::format("CAST({} AS DECIMAL(38,0))", c);
    }
    if (layout_.format != OutputFormat::kJsonl) return "";
    if (type == "FLOAT" || type == "DOUBLE") return FiniteOrNull(c, false);
    if (type == "FLOAT[]" || type == "DOUBLE[]") return FiniteOrNull(c, true);
    return "";
  }

  const FileSink* sink_;
  const SinkLayout& layout_;
  int64_t shard_id_;
  int64_t epoch_;
  int32_t retry_seq_;
  std::unique_ptr<DuckConnection> conn_;
  ShardRows rows_;
  bool finished_ = false;
  std::vector<std::string> temps_;
};

Result<std::unique_ptr<ShardWriter>> FileSink::BeginShard(int64_t shard_id, int64_t epoch,
                                                          int32_t retry_seq) {
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db_));
  return std::unique_ptr<ShardWriter>(
      std::make_unique<FileShardWriter>(this, shard_id, epoch, retry_seq, std::move(conn)));
}

// Temp files of parts, dead letters and _SUCCESS (Env::WriteFileAtomic's
// "._SUCCESS.tmp-<pid>": a process killed while writing it leaves one).
Status RemoveTemps(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir);
  if (!names.has_value()) return Status::Ok();
  for (const auto& n : *names) {
    const bool ours = n.rfind(".part-", 0) == 0 || n.rfind("._SUCCESS.", 0) == 0;
    if (ours && n.find(".tmp-") != std::string::npos) {
      NS_RETURN_IF_ERROR(env->RemoveFile(JoinPath(dir, n)));
    }
  }
  return Status::Ok();
}

// The run is complete: no worker may publish any more, so temp files left by
// workers that died are removed before _SUCCESS says the folder is final.
Status FileSink::WriteSuccess(const std::string& manifest_json) {
  NS_RETURN_IF_ERROR(RemoveTemps(env(), layout_.output_dir));
  NS_RETURN_IF_ERROR(RemoveTemps(env(), layout_.dead_letter_dir));
  return env()->WriteFileAtomic(JoinPath(layout_.output_dir, "_SUCCESS"), manifest_json);
}

}  // namespace
}  // namespace nightshift::io

namespace nightshift {
using io::DuckDatabase;
using io::FileSink;

std::string PartFileName(int64_t shard_id, OutputFormat format, int32_t retry_seq) {
  if (retry_seq > 0)
    return fmt::format("part-{:06d}-r{}.{}", shard_id, retry_seq, io::Extension(format));
  return fmt::format("part-{:06d}.{}", shard_id, io::Extension(format));
}

Result<std::unique_ptr<Sink>> io::OpenFileSinkOn(const SinkLayout& layout,
                                                 std::shared_ptr<DuckDatabase> db) {
  Env* env = layout.env != nullptr ? layout.env : Env::Default();
  Status s = env->CreateDirs(layout.output_dir);
  if (!s.ok()) return Error(Code::kIoError, "output.path: " + s.message());
  if (Status w = env->CheckAccess(layout.output_dir, Env::Access::kWrite); !w.ok()) {
    return Error(Code::kIoError, fmt::format("output.path '{}' is not writable ({})",
                                             layout.output_dir, w.message()));
  }
  if (!layout.shared) {  // one writer: any temp file is a dead attempt's
    NS_RETURN_IF_ERROR(io::RemoveTemps(env, layout.output_dir));
    NS_RETURN_IF_ERROR(io::RemoveTemps(env, layout.dead_letter_dir));
  }
  NS_ASSIGN_OR_RETURN(auto conn, io::DuckConnection::Open(db));
  NS_ASSIGN_OR_RETURN(auto registry, io::ChunkScanRegistry::Install(conn.get()));
  NS_ASSIGN_OR_RETURN(auto schemas, io::MakeShardRowSchemas(conn.get(), layout));
  return std::unique_ptr<Sink>(
      new FileSink(layout, std::move(db), std::move(registry), std::move(schemas)));
}

Result<std::unique_ptr<Sink>> OpenFileSink(const SinkLayout& layout, int duckdb_threads) {
  NS_ASSIGN_OR_RETURN(auto db, DuckDatabase::OpenInMemory(duckdb_threads));
  return io::OpenFileSinkOn(layout, std::move(db));
}

}  // namespace nightshift
