// The file Sink: Parquet, CSV or JSONL part files written by DuckDB.
//
// Each shard attempt appends its rows into a temporary DuckDB table through
// the Appender (bulk chunks: carried columns copied with a selection vector,
// model outputs by strided copies), then COPYs the table to a hidden temp
// file, fsyncs it and renames it to part-<shard>.<ext>. Memory is bounded by
// one shard's output; DuckDB spills to disk beyond its memory limit.
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>

#include "io/duck.h"
#include "io/duckdb_carried.h"
#include "nightshift/env.h"
#include "nightshift/sink.h"

namespace nightshift::io {
namespace {

std::string Extension(OutputFormat f) {
  switch (f) {
    case OutputFormat::kParquet: return "parquet";
    case OutputFormat::kCsv: return "csv";
    case OutputFormat::kJsonl: return "jsonl";
  }
  return "parquet";
}

std::string CopyOptions(OutputFormat f) {
  switch (f) {
    case OutputFormat::kParquet: return "FORMAT parquet";
    case OutputFormat::kCsv: return "FORMAT csv, HEADER true";
    case OutputFormat::kJsonl: return "FORMAT json";
  }
  return "FORMAT parquet";
}

std::string SqlType(const OutputColumn& c) {
  std::string t;
  switch (c.dtype) {
    case DType::kFloat64: t = "DOUBLE"; break;
    case DType::kInt64: t = "BIGINT"; break;
    case DType::kInt32: t = "INTEGER"; break;
    case DType::kInt8: t = "TINYINT"; break;
    case DType::kUInt8: t = "UTINYINT"; break;
    case DType::kBool: t = "BOOLEAN"; break;
    default: t = "FLOAT"; break;
  }
  return c.is_list ? t + "[]" : t;
}

// Copies element `element` of each selected row of a [rows, width] tensor into
// a flat vector of the same C type.
template <typename T>
void GatherScalar(const Tensor& t, int64_t element, const sel_t* rows, idx_t n, void* dst) {
  int64_t width = t.shape().size() > 1 ? t.NumElements() / t.shape()[0] : 1;
  const T* src = t.data_as<T>();
  T* out = static_cast<T*>(dst);
  for (idx_t i = 0; i < n; ++i) out[i] = src[static_cast<int64_t>(rows[i]) * width + element];
}

class FileShardWriter;

class FileSink final : public Sink {
 public:
  FileSink(SinkLayout layout, std::shared_ptr<DuckDatabase> db)
      : layout_(std::move(layout)), db_(std::move(db)) {}

  Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t shard_id, int64_t epoch,
                                                  int32_t retry_seq) override;

  Status WriteSuccess(const std::string& manifest_json) override {
    return env()->WriteFileAtomic(JoinPath(layout_.output_dir, "_SUCCESS"), manifest_json);
  }

  const SinkLayout& layout() const { return layout_; }
  Env* env() const { return layout_.env != nullptr ? layout_.env : Env::Default(); }
  const std::shared_ptr<DuckDatabase>& db() const { return db_; }

 private:
  SinkLayout layout_;
  std::shared_ptr<DuckDatabase> db_;
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
        conn_(std::move(conn)) {
    table_ = fmt::format("ns_out_{}_{}_{}", shard_id, epoch, retry_seq);
    dl_table_ = fmt::format("ns_dl_{}_{}_{}", shard_id, epoch, retry_seq);
  }

  ~FileShardWriter() override {
    CloseAppenders();
    if (!finished_) {
      (void)conn_->Exec("DROP TABLE IF EXISTS " + table_);
      (void)conn_->Exec("DROP TABLE IF EXISTS " + dl_table_);
      for (const auto& tmp : temps_) (void)sink_->env()->RemoveFile(tmp);
    }
    if (out_chunk_) duckdb_destroy_data_chunk(&out_chunk_);
    if (dl_chunk_) duckdb_destroy_data_chunk(&dl_chunk_);
    if (sel_) duckdb_destroy_selection_vector(sel_);
  }

  Status Init() {
    std::string cols;
    for (size_t i = 0; i < layout_.keep_count; ++i) {
      cols += fmt::format("{}{} {}", i ? ", " : "", QuoteIdent(layout_.carried[i]),
                          layout_.carried_types[i]);
    }
    for (const auto& c : layout_.outputs) {
      cols += fmt::format("{}{} {}", cols.empty() ? "" : ", ", QuoteIdent(c.name), SqlType(c));
    }
    if (layout_.restore_order) cols += ", __ns_row BIGINT";
    NS_RETURN_IF_ERROR(
        conn_->Exec(fmt::format("CREATE OR REPLACE TEMP TABLE {} ({})", table_, cols),
                    "creating the output table"));
    std::string dl_cols;
    for (size_t k = 0; k < layout_.key.size(); ++k) {
      dl_cols +=
          fmt::format("{} {}, ", QuoteIdent(layout_.key[k]), layout_.carried_types[KeyIndex(k)]);
    }
    dl_cols += "__ns_row BIGINT, __ns_error VARCHAR, __ns_attempts INTEGER";
    NS_RETURN_IF_ERROR(
        conn_->Exec(fmt::format("CREATE OR REPLACE TEMP TABLE {} ({})", dl_table_, dl_cols),
                    "creating the dead-letter table"));
    NS_RETURN_IF_ERROR(MakeAppender(table_, &appender_, &out_chunk_));
    NS_RETURN_IF_ERROR(MakeAppender(dl_table_, &dl_appender_, &dl_chunk_));
    sel_ = duckdb_create_selection_vector(duckdb_vector_size());
    return Status::Ok();
  }

  Status Append(const RowBatch& batch) override {
    const auto* carried = dynamic_cast<const DuckCarriedRows*>(batch.carried.get());
    if (carried == nullptr) return Status(Code::kInternal, "batch without carried rows");
    sel_t* sel = duckdb_selection_vector_get_data_ptr(sel_);
    std::vector<sel_t> batch_rows(duckdb_vector_size());
    int64_t row = 0;  // batch row of the slice's first row
    for (const auto& slice : carried->slices()) {
      // Good rows first.
      idx_t n = 0;
      for (idx_t i = 0; i < slice.count; ++i) {
        int64_t r = row + static_cast<int64_t>(i);
        if (!batch.RowFailed(r)) {
          sel[n] = static_cast<sel_t>(slice.row(i));
          batch_rows[n] = static_cast<sel_t>(r);
          ++n;
        }
      }
      if (n > 0) {
        duckdb_data_chunk_reset(out_chunk_);
        for (size_t c = 0; c < layout_.keep_count; ++c) {
          duckdb_vector_copy_sel(slice.chunk->column(carried->column(c)),
                                 duckdb_data_chunk_get_vector(out_chunk_, c), sel_, n, 0, 0);
        }
        for (size_t o = 0; o < layout_.outputs.size(); ++o) {
          NS_RETURN_IF_ERROR(
              WriteOutput(layout_.outputs[o], batch,
                          duckdb_data_chunk_get_vector(out_chunk_, layout_.keep_count + o),
                          batch_rows.data(), n));
        }
        if (layout_.restore_order) {
          auto* rn = static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(
              out_chunk_, layout_.keep_count + layout_.outputs.size())));
          for (idx_t i = 0; i < n; ++i) rn[i] = batch.RowNumber(batch_rows[i]);
        }
        duckdb_data_chunk_set_size(out_chunk_, n);
        if (duckdb_append_data_chunk(appender_, out_chunk_) == DuckDBError) {
          return Status(Code::kIoError, fmt::format("appending shard {} output: {}", shard_id_,
                                                    duckdb_appender_error(appender_)));
        }
        rows_written_ += static_cast<int64_t>(n);
      }
      if (n < slice.count) NS_RETURN_IF_ERROR(AppendFailures(batch, *carried, slice, row));
      row += static_cast<int64_t>(slice.count);
    }
    return Status::Ok();
  }

  Result<ShardOutput> Finish() override {
    CloseAppenders();
    Env* env = sink_->env();
    ShardOutput out;
    out.rows_written = rows_written_;
    std::string dl_name = fmt::format("part-{:06d}.jsonl", shard_id_);
    std::string dl_final = JoinPath(layout_.dead_letter_dir, dl_name);
    if (failed_ > 0) {
      NS_RETURN_IF_ERROR(env->CreateDirs(layout_.dead_letter_dir));
      std::string key_expr;
      if (layout_.key.size() == 1) {
        key_expr = QuoteIdent(layout_.key[0]);
      } else {
        key_expr = "{";
        for (size_t k = 0; k < layout_.key.size(); ++k) {
          key_expr += fmt::format("{}{}: {}", k ? ", " : "", QuoteString(layout_.key[k]),
                                  QuoteIdent(layout_.key[k]));
        }
        key_expr += "}";
      }
      std::string tmp =
          JoinPath(layout_.dead_letter_dir, fmt::format(".{}.tmp-{}", dl_name, epoch_));
      temps_.push_back(tmp);
      NS_RETURN_IF_ERROR(conn_->Exec(
          fmt::format("COPY (SELECT {} AS key, {} AS shard, __ns_row AS row, __ns_error AS error, "
                      "__ns_attempts AS attempts FROM {} ORDER BY __ns_row) TO {} (FORMAT json)",
                      key_expr, shard_id_, dl_table_, QuoteString(tmp)),
          "writing dead letters"));
      NS_ASSIGN_OR_RETURN(DuckResult r,
                          conn_->Query(fmt::format(
                              "SELECT to_json({})::VARCHAR, __ns_row, __ns_error, __ns_attempts "
                              "FROM {} ORDER BY __ns_row",
                              key_expr, dl_table_)));
      for (idx_t i = 0; i < r.row_count(); ++i) {
        ItemFailure f;
        f.shard_id = shard_id_;
        f.key_json = r.Text(0, i);
        f.row = r.Int(1, i);
        f.error = r.Text(2, i);
        f.attempts = static_cast<int32_t>(r.Int(3, i));
        out.failures.push_back(std::move(f));
      }
      NS_RETURN_IF_ERROR(env->PublishFile(tmp, dl_final));
      out.dead_letter_file = dl_name;
    } else {
      NS_RETURN_IF_ERROR(env->RemoveFile(dl_final));  // a stale one from an earlier attempt
    }
    std::string name = PartFileName(shard_id_, layout_.format, retry_seq_);
    std::string tmp = JoinPath(layout_.output_dir, fmt::format(".{}.tmp-{}", name, epoch_));
    temps_.push_back(tmp);
    NS_RETURN_IF_ERROR(
        conn_->Exec(fmt::format("COPY (SELECT {} FROM {}{}) TO {} ({})", CopySelect(), table_,
                                layout_.restore_order ? " ORDER BY __ns_row" : "", QuoteString(tmp),
                                CopyOptions(layout_.format)),
                    fmt::format("writing output of shard {}", shard_id_)));
    NS_RETURN_IF_ERROR(env->PublishFile(tmp, JoinPath(layout_.output_dir, name)));
    out.output_file = name;
    finished_ = true;
    (void)conn_->Exec("DROP TABLE IF EXISTS " + table_);
    (void)conn_->Exec("DROP TABLE IF EXISTS " + dl_table_);
    return out;
  }

 private:
  // Parquet has no 128-bit integer: DuckDB would write HUGEINT as DOUBLE and
  // round large keys, so such columns are written as DECIMAL(38,0), exact.
  std::string CopySelect() const {
    std::string star = layout_.restore_order ? "* EXCLUDE (__ns_row)" : "*";
    if (layout_.format != OutputFormat::kParquet) return star;
    std::string replace;
    for (size_t i = 0; i < layout_.keep_count; ++i) {
      const std::string& t = layout_.carried_types[i];
      if (t == "HUGEINT" || t == "UHUGEINT") {
        std::string c = QuoteIdent(layout_.carried[i]);
        replace +=
            fmt::format("{}CAST({} AS DECIMAL(38,0)) AS {}", replace.empty() ? "" : ", ", c, c);
      }
    }
    return replace.empty() ? star : star + " REPLACE (" + replace + ")";
  }

  size_t KeyIndex(size_t k) const {
    for (size_t i = 0; i < layout_.carried.size(); ++i) {
      if (layout_.carried[i] == layout_.key[k]) return i;
    }
    return 0;
  }

  Status MakeAppender(const std::string& table, duckdb_appender* appender,
                      duckdb_data_chunk* chunk) {
    if (duckdb_appender_create(conn_->get(), nullptr, table.c_str(), appender) == DuckDBError) {
      std::string err = duckdb_appender_error(*appender);
      return Status(Code::kIoError, "cannot append to " + table + ": " + err);
    }
    idx_t n = duckdb_appender_column_count(*appender);
    std::vector<duckdb_logical_type> types(n);
    for (idx_t i = 0; i < n; ++i) types[i] = duckdb_appender_column_type(*appender, i);
    *chunk = duckdb_create_data_chunk(types.data(), n);
    for (auto& t : types) duckdb_destroy_logical_type(&t);
    return Status::Ok();
  }

  void CloseAppenders() {
    if (appender_) duckdb_appender_destroy(&appender_);
    if (dl_appender_) duckdb_appender_destroy(&dl_appender_);
    appender_ = nullptr;
    dl_appender_ = nullptr;
  }

  Status AppendFailures(const RowBatch& batch, const DuckCarriedRows& carried,
                        const DuckCarriedRows::Slice& slice, int64_t row) {
    sel_t* sel = duckdb_selection_vector_get_data_ptr(sel_);
    duckdb_data_chunk_reset(dl_chunk_);
    const size_t nk = layout_.key.size();
    duckdb_vector row_vec = duckdb_data_chunk_get_vector(dl_chunk_, nk);
    duckdb_vector err_vec = duckdb_data_chunk_get_vector(dl_chunk_, nk + 1);
    duckdb_vector att_vec = duckdb_data_chunk_get_vector(dl_chunk_, nk + 2);
    auto* rows = static_cast<int64_t*>(duckdb_vector_get_data(row_vec));
    auto* attempts = static_cast<int32_t*>(duckdb_vector_get_data(att_vec));
    idx_t n = 0;
    for (idx_t i = 0; i < slice.count; ++i) {
      size_t r = static_cast<size_t>(row) + i;
      if (!batch.RowFailed(static_cast<int64_t>(r))) continue;
      sel[n] = static_cast<sel_t>(slice.row(i));
      rows[n] = batch.RowNumber(static_cast<int64_t>(r));
      const std::string& e = batch.row_errors[r];
      duckdb_vector_assign_string_element_len(err_vec, n, e.data(), e.size());
      attempts[n] = r < batch.row_attempts.size() ? batch.row_attempts[r] : 1;
      ++n;
    }
    for (size_t k = 0; k < nk; ++k) {
      duckdb_vector_copy_sel(slice.chunk->column(carried.column(KeyIndex(k))),
                             duckdb_data_chunk_get_vector(dl_chunk_, k), sel_, n, 0, 0);
    }
    duckdb_data_chunk_set_size(dl_chunk_, n);
    if (duckdb_append_data_chunk(dl_appender_, dl_chunk_) == DuckDBError) {
      return Status(Code::kIoError, fmt::format("appending dead letters of shard {}: {}", shard_id_,
                                                duckdb_appender_error(dl_appender_)));
    }
    failed_ += static_cast<int64_t>(n);
    return Status::Ok();
  }

  Status WriteOutput(const OutputColumn& c, const RowBatch& batch, duckdb_vector vec,
                     const sel_t* rows, idx_t n) {
    const Tensor& t = batch.outputs[static_cast<size_t>(c.output_index)];
    if (t.dtype() != c.dtype) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("output column '{}' expects {} but the model returned {}", c.name,
                                DTypeName(c.dtype), t.DebugString()));
    }
    if (!c.is_list) {
      void* dst = duckdb_vector_get_data(vec);
      switch (c.dtype) {
        case DType::kFloat32: GatherScalar<float>(t, c.element, rows, n, dst); break;
        case DType::kFloat64: GatherScalar<double>(t, c.element, rows, n, dst); break;
        case DType::kInt64: GatherScalar<int64_t>(t, c.element, rows, n, dst); break;
        case DType::kInt32: GatherScalar<int32_t>(t, c.element, rows, n, dst); break;
        case DType::kInt8: GatherScalar<int8_t>(t, c.element, rows, n, dst); break;
        case DType::kUInt8: GatherScalar<uint8_t>(t, c.element, rows, n, dst); break;
        case DType::kBool: GatherScalar<bool>(t, c.element, rows, n, dst); break;
        default:
          return Status(Code::kSchemaMismatch,
                        fmt::format("unsupported output dtype for '{}'", c.name));
      }
      return Status::Ok();
    }
    const int64_t width = t.shape()[0] > 0 ? t.NumElements() / t.shape()[0] : 0;
    const size_t esize = DTypeSize(t.dtype());
    if (duckdb_list_vector_reserve(vec, n * static_cast<idx_t>(width)) == DuckDBError ||
        duckdb_list_vector_set_size(vec, n * static_cast<idx_t>(width)) == DuckDBError) {
      return Status(Code::kOutOfMemory, "cannot reserve a list vector");
    }
    auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(vec));
    auto* child = static_cast<char*>(duckdb_vector_get_data(duckdb_list_vector_get_child(vec)));
    const auto* src = static_cast<const char*>(t.data());
    for (idx_t i = 0; i < n; ++i) {
      entries[i].offset = i * static_cast<idx_t>(width);
      entries[i].length = static_cast<idx_t>(width);
      std::memcpy(child + i * width * esize, src + static_cast<int64_t>(rows[i]) * width * esize,
                  static_cast<size_t>(width) * esize);
    }
    return Status::Ok();
  }

  const FileSink* sink_;
  const SinkLayout& layout_;
  int64_t shard_id_;
  int64_t epoch_;
  int32_t retry_seq_;
  std::unique_ptr<DuckConnection> conn_;
  std::string table_, dl_table_;
  duckdb_appender appender_ = nullptr, dl_appender_ = nullptr;
  duckdb_data_chunk out_chunk_ = nullptr, dl_chunk_ = nullptr;
  duckdb_selection_vector sel_ = nullptr;
  int64_t rows_written_ = 0;
  int64_t failed_ = 0;
  bool finished_ = false;
  std::vector<std::string> temps_;
};

Result<std::unique_ptr<ShardWriter>> FileSink::BeginShard(int64_t shard_id, int64_t epoch,
                                                          int32_t retry_seq) {
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db_));
  auto w = std::make_unique<FileShardWriter>(this, shard_id, epoch, retry_seq, std::move(conn));
  NS_RETURN_IF_ERROR(w->Init());
  return std::unique_ptr<ShardWriter>(std::move(w));
}

Status RemoveTemps(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir);
  if (!names.has_value()) return Status::Ok();
  for (const auto& n : *names) {
    if (n.rfind(".part-", 0) == 0 && n.find(".tmp-") != std::string::npos) {
      NS_RETURN_IF_ERROR(env->RemoveFile(JoinPath(dir, n)));
    }
  }
  return Status::Ok();
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

Result<std::unique_ptr<Sink>> OpenFileSink(const SinkLayout& layout, int duckdb_threads) {
  Env* env = layout.env != nullptr ? layout.env : Env::Default();
  Status s = env->CreateDirs(layout.output_dir);
  if (!s.ok()) return Error(Code::kIoError, "output.path: " + s.message());
  if (::access(layout.output_dir.c_str(), W_OK) != 0) {
    return Error(Code::kIoError,
                 fmt::format("output.path '{}' is not writable", layout.output_dir));
  }
  NS_RETURN_IF_ERROR(io::RemoveTemps(env, layout.output_dir));
  NS_RETURN_IF_ERROR(io::RemoveTemps(env, layout.dead_letter_dir));
  NS_ASSIGN_OR_RETURN(auto db, DuckDatabase::OpenInMemory(duckdb_threads));
  return std::unique_ptr<Sink>(new FileSink(layout, std::move(db)));
}

}  // namespace nightshift
