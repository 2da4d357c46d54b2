// The file Sink: Parquet, CSV or JSONL part files written by DuckDB.
//
// Each shard attempt copies its rows into a ChunkTable (DuckDB data chunks in
// memory: carried columns copied with a selection vector, model outputs by
// strided copies), then COPYs them with one query reading the table function
// ns_chunks(id) to a hidden temp file, fsyncs it and renames it to
// part-<shard>.<ext>. Memory is bounded by one shard's output. Nothing is
// created in DuckDB's catalog per shard.
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>

#include "io/chunk_table.h"
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
// a flat vector of the same C type, from its row `offset` on.
template <typename T>
void GatherScalar(const Tensor& t, int64_t element, const sel_t* rows, idx_t n, void* dst,
                  idx_t offset) {
  int64_t width = t.shape().size() > 1 ? t.NumElements() / t.shape()[0] : 1;
  const T* src = t.data_as<T>();
  T* out = static_cast<T*>(dst) + offset;
  for (idx_t i = 0; i < n; ++i) out[i] = src[static_cast<int64_t>(rows[i]) * width + element];
}

// Index of carried column `name` (a key column is always carried).
size_t CarriedIndex(const SinkLayout& layout, const std::string& name) {
  for (size_t i = 0; i < layout.carried.size(); ++i) {
    if (layout.carried[i] == name) return i;
  }
  return 0;
}

// duckdb_vector_copy_sel between vectors of different types is an internal
// error that aborts the process: a carried column whose type differs from
// the output's (a reader that did not cast to the common type) is refused
// as an error instead.
Status CheckSameType(duckdb_vector src, duckdb_vector dst, const std::string& column) {
  duckdb_logical_type a = duckdb_vector_get_column_type(src);
  duckdb_logical_type b = duckdb_vector_get_column_type(dst);
  const duckdb_type id = duckdb_get_type_id(a);
  bool same = id == duckdb_get_type_id(b);
  if (same && id == DUCKDB_TYPE_DECIMAL) {
    same = duckdb_decimal_width(a) == duckdb_decimal_width(b) &&
           duckdb_decimal_scale(a) == duckdb_decimal_scale(b);
  }
  const auto dst_id = duckdb_get_type_id(b);
  duckdb_destroy_logical_type(&a);
  duckdb_destroy_logical_type(&b);
  if (same) return Status::Ok();
  return Status(Code::kInternal,
                fmt::format("column '{}' was read with DuckDB type id {} but is written as type id "
                            "{}",
                            column, static_cast<int>(id), static_cast<int>(dst_id)));
}

std::string KeyType(const SinkLayout& layout, const std::string& key) {
  return layout.carried_types[CarriedIndex(layout, key)];
}

class FileShardWriter;

class FileSink final : public Sink {
 public:
  FileSink(SinkLayout layout, std::shared_ptr<DuckDatabase> db,
           std::shared_ptr<ChunkScanRegistry> registry, DuckSchema out_schema, DuckSchema dl_schema)
      : layout_(std::move(layout)),
        db_(std::move(db)),
        registry_(std::move(registry)),
        out_schema_(std::move(out_schema)),
        dl_schema_(std::move(dl_schema)) {}

  Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t shard_id, int64_t epoch,
                                                  int32_t retry_seq) override;

  Status WriteSuccess(const std::string& manifest_json) override {
    return env()->WriteFileAtomic(JoinPath(layout_.output_dir, "_SUCCESS"), manifest_json);
  }

  const SinkLayout& layout() const { return layout_; }
  Env* env() const { return layout_.env != nullptr ? layout_.env : Env::Default(); }
  const std::shared_ptr<DuckDatabase>& db() const { return db_; }
  const std::shared_ptr<ChunkScanRegistry>& registry() const { return registry_; }
  // Columns of the part files: the kept columns, the outputs, and __ns_row
  // when the order is restored.
  const DuckSchema* out_schema() const { return &out_schema_; }
  // Columns of the dead letters: the keys, __ns_row (the row within its
  // file), __ns_error, __ns_attempts, __ns_file (the file's path),
  // __ns_file_index.
  const DuckSchema* dl_schema() const { return &dl_schema_; }

 private:
  SinkLayout layout_;
  std::shared_ptr<DuckDatabase> db_;
  std::shared_ptr<ChunkScanRegistry> registry_;
  DuckSchema out_schema_;
  DuckSchema dl_schema_;
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
        out_(sink->out_schema()),
        dl_(sink->dl_schema()),
        out_scan_(ChunkScanRegistry::Register(sink->registry(), &out_)),
        dl_scan_(ChunkScanRegistry::Register(sink->registry(), &dl_)),
        sel_(duckdb_create_selection_vector(duckdb_vector_size())) {}

  ~FileShardWriter() override {
    if (!finished_) {
      for (const auto& tmp : temps_) (void)sink_->env()->RemoveFile(tmp);
    }
    duckdb_destroy_selection_vector(sel_);
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
      // Good rows [done, n) go to the free rows of the table's last chunk,
      // then to a new one.
      for (idx_t done = 0; done < n;) {
        ChunkTable::Room room = out_.Reserve(n - done);
        for (size_t c = 0; c < layout_.keep_count; ++c) {
          duckdb_vector src = slice.chunk->column(carried->column(c));
          duckdb_vector dst = duckdb_data_chunk_get_vector(room.chunk, c);
          NS_RETURN_IF_ERROR(CheckSameType(src, dst, layout_.carried[c]));
          duckdb_vector_copy_sel(src, dst, sel_, done + room.count, done, room.offset);
        }
        for (size_t o = 0; o < layout_.outputs.size(); ++o) {
          NS_RETURN_IF_ERROR(
              WriteOutput(layout_.outputs[o], batch,
                          duckdb_data_chunk_get_vector(room.chunk, layout_.keep_count + o),
                          batch_rows.data() + done, room.count, room.offset));
        }
        if (layout_.restore_order) {
          auto* rn = static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(
              room.chunk, layout_.keep_count + layout_.outputs.size())));
          // A packed shard's files in order, each file's rows in order.
          const int64_t file_base = int64_t{batch.file_index} << 40;
          for (idx_t i = 0; i < room.count; ++i) {
            rn[room.offset + i] = file_base + batch.RowNumber(batch_rows[done + i]);
          }
        }
        out_.Commit(room.count);
        done += room.count;
      }
      if (n < slice.count) NS_RETURN_IF_ERROR(AppendFailures(batch, *carried, slice, row));
      row += static_cast<int64_t>(slice.count);
    }
    return Status::Ok();
  }

  Result<ShardOutput> Finish() override {
    Env* env = sink_->env();
    ShardOutput out;
    out.rows_written = out_.rows();
    std::string dl_name = fmt::format("part-{:06d}.jsonl", shard_id_);
    std::string dl_final = JoinPath(layout_.dead_letter_dir, dl_name);
    if (dl_.rows() > 0) {
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
          fmt::format("COPY (SELECT {} AS key, {} AS shard, __ns_file AS file, __ns_row AS row, "
                      "__ns_error AS error, __ns_attempts AS attempts FROM {} "
                      "ORDER BY __ns_file_index, __ns_row) TO {} (FORMAT json)",
                      key_expr, shard_id_, dl_scan_.Sql(), QuoteString(tmp)),
          "writing dead letters"));
      NS_ASSIGN_OR_RETURN(DuckResult r,
                          conn_->Query(fmt::format(
                              "SELECT to_json({})::VARCHAR, __ns_row, __ns_error, __ns_attempts, "
                              "__ns_file_index FROM {} ORDER BY __ns_file_index, __ns_row",
                              key_expr, dl_scan_.Sql())));
      for (idx_t i = 0; i < r.row_count(); ++i) {
        ItemFailure f;
        f.shard_id = shard_id_;
        f.key_json = r.Text(0, i);
        f.row = r.Int(1, i);
        f.error = r.Text(2, i);
        f.attempts = static_cast<int32_t>(r.Int(3, i));
        f.file_index = static_cast<int32_t>(r.Int(4, i));
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
        conn_->Exec(fmt::format("COPY (SELECT {} FROM {}{}) TO {} ({})", CopySelect(),
                                out_scan_.Sql(), layout_.restore_order ? " ORDER BY __ns_row" : "",
                                QuoteString(tmp), CopyOptions(layout_.format)),
                    fmt::format("writing output of shard {}", shard_id_)));
    NS_RETURN_IF_ERROR(env->PublishFile(tmp, JoinPath(layout_.output_dir, name)));
    out.output_file = name;
    finished_ = true;
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

  size_t KeyIndex(size_t k) const { return CarriedIndex(layout_, layout_.key[k]); }

  Status AppendFailures(const RowBatch& batch, const DuckCarriedRows& carried,
                        const DuckCarriedRows::Slice& slice, int64_t row) {
    sel_t* sel = duckdb_selection_vector_get_data_ptr(sel_);
    std::vector<size_t> failed;  // batch rows
    for (idx_t i = 0; i < slice.count; ++i) {
      size_t r = static_cast<size_t>(row) + i;
      if (!batch.RowFailed(static_cast<int64_t>(r))) continue;
      sel[failed.size()] = static_cast<sel_t>(slice.row(i));
      failed.push_back(r);
    }
    const idx_t n = failed.size();
    const size_t nk = layout_.key.size();
    for (idx_t done = 0; done < n;) {
      ChunkTable::Room room = dl_.Reserve(n - done);
      for (size_t k = 0; k < nk; ++k) {
        duckdb_vector src = slice.chunk->column(carried.column(KeyIndex(k)));
        duckdb_vector dst = duckdb_data_chunk_get_vector(room.chunk, k);
        NS_RETURN_IF_ERROR(CheckSameType(src, dst, layout_.key[k]));
        duckdb_vector_copy_sel(src, dst, sel_, done + room.count, done, room.offset);
      }
      duckdb_vector err_vec = duckdb_data_chunk_get_vector(room.chunk, nk + 1);
      duckdb_vector file_vec = duckdb_data_chunk_get_vector(room.chunk, nk + 3);
      auto* file_index = static_cast<int32_t*>(
          duckdb_vector_get_data(duckdb_data_chunk_get_vector(room.chunk, nk + 4)));
      const std::string& path = static_cast<size_t>(batch.file_index) < layout_.input_paths.size()
                                    ? layout_.input_paths[static_cast<size_t>(batch.file_index)]
                                    : std::string();
      auto* rows = static_cast<int64_t*>(
          duckdb_vector_get_data(duckdb_data_chunk_get_vector(room.chunk, nk)));
      auto* attempts = static_cast<int32_t*>(
          duckdb_vector_get_data(duckdb_data_chunk_get_vector(room.chunk, nk + 2)));
      for (idx_t i = 0; i < room.count; ++i) {
        size_t r = failed[done + i];
        idx_t at = room.offset + i;
        rows[at] = batch.RowNumber(static_cast<int64_t>(r));
        const std::string& e = batch.row_errors[r];
        duckdb_vector_assign_string_element_len(err_vec, at, e.data(), e.size());
        attempts[at] = r < batch.row_attempts.size() ? batch.row_attempts[r] : 1;
        duckdb_vector_assign_string_element_len(file_vec, at, path.data(), path.size());
        file_index[at] = batch.file_index;
      }
      dl_.Commit(room.count);
      done += room.count;
    }
    return Status::Ok();
  }

  // Writes output column `c` of the batch rows `rows[0, n)` to rows
  // [offset, offset + n) of `vec`.
  Status WriteOutput(const OutputColumn& c, const RowBatch& batch, duckdb_vector vec,
                     const sel_t* rows, idx_t n, idx_t offset) {
    const Tensor& t = batch.outputs[static_cast<size_t>(c.output_index)];
    if (t.dtype() != c.dtype) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("output column '{}' expects {} but the model returned {}", c.name,
                                DTypeName(c.dtype), t.DebugString()));
    }
    if (!c.is_list) {
      void* dst = duckdb_vector_get_data(vec);
      switch (c.dtype) {
        case DType::kFloat32: GatherScalar<float>(t, c.element, rows, n, dst, offset); break;
        case DType::kFloat64: GatherScalar<double>(t, c.element, rows, n, dst, offset); break;
        case DType::kInt64: GatherScalar<int64_t>(t, c.element, rows, n, dst, offset); break;
        case DType::kInt32: GatherScalar<int32_t>(t, c.element, rows, n, dst, offset); break;
        case DType::kInt8: GatherScalar<int8_t>(t, c.element, rows, n, dst, offset); break;
        case DType::kUInt8: GatherScalar<uint8_t>(t, c.element, rows, n, dst, offset); break;
        case DType::kBool: GatherScalar<bool>(t, c.element, rows, n, dst, offset); break;
        default:
          return Status(Code::kSchemaMismatch,
                        fmt::format("unsupported output dtype for '{}'", c.name));
      }
      return Status::Ok();
    }
    const idx_t width = t.shape()[0] > 0 ? static_cast<idx_t>(t.NumElements() / t.shape()[0]) : 0;
    const size_t esize = DTypeSize(t.dtype());
    const idx_t base = duckdb_list_vector_get_size(vec);  // child elements already written
    if (duckdb_list_vector_reserve(vec, base + n * width) == DuckDBError ||
        duckdb_list_vector_set_size(vec, base + n * width) == DuckDBError) {
      return Status(Code::kOutOfMemory, "cannot reserve a list vector");
    }
    auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(vec)) + offset;
    auto* child = static_cast<char*>(duckdb_vector_get_data(duckdb_list_vector_get_child(vec)));
    const auto* src = static_cast<const char*>(t.data());
    for (idx_t i = 0; i < n; ++i) {
      entries[i].offset = base + i * width;
      entries[i].length = width;
      std::memcpy(child + (base + i * width) * esize,
                  src + static_cast<size_t>(rows[i]) * width * esize, width * esize);
    }
    return Status::Ok();
  }

  const FileSink* sink_;
  const SinkLayout& layout_;
  int64_t shard_id_;
  int64_t epoch_;
  int32_t retry_seq_;
  std::unique_ptr<DuckConnection> conn_;
  ChunkTable out_;  // good rows
  ChunkTable dl_;   // failed rows
  ChunkScanRegistry::Handle out_scan_, dl_scan_;
  duckdb_selection_vector sel_;
  bool finished_ = false;
  std::vector<std::string> temps_;
};

Result<std::unique_ptr<ShardWriter>> FileSink::BeginShard(int64_t shard_id, int64_t epoch,
                                                          int32_t retry_seq) {
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db_));
  return std::unique_ptr<ShardWriter>(
      std::make_unique<FileShardWriter>(this, shard_id, epoch, retry_seq, std::move(conn)));
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
  NS_ASSIGN_OR_RETURN(auto conn, io::DuckConnection::Open(db));
  NS_ASSIGN_OR_RETURN(auto registry, io::ChunkScanRegistry::Install(conn.get()));
  std::vector<std::string> names, types;
  for (size_t i = 0; i < layout.keep_count; ++i) {
    names.push_back(layout.carried[i]);
    types.push_back(layout.carried_types[i]);
  }
  for (const auto& c : layout.outputs) {
    names.push_back(c.name);
    types.push_back(io::SqlType(c));
  }
  if (layout.restore_order) {
    names.push_back("__ns_row");
    types.push_back("BIGINT");
  }
  NS_ASSIGN_OR_RETURN(auto out_schema, io::DuckSchema::FromSql(conn.get(), names, types));
  names.clear();
  types.clear();
  for (const auto& k : layout.key) {
    names.push_back(k);
    types.push_back(io::KeyType(layout, k));
  }
  names.insert(names.end(),
               {"__ns_row", "__ns_error", "__ns_attempts", "__ns_file", "__ns_file_index"});
  types.insert(types.end(), {"BIGINT", "VARCHAR", "INTEGER", "VARCHAR", "INTEGER"});
  NS_ASSIGN_OR_RETURN(auto dl_schema, io::DuckSchema::FromSql(conn.get(), names, types));
  return std::unique_ptr<Sink>(new FileSink(layout, std::move(db), std::move(registry),
                                            std::move(out_schema), std::move(dl_schema)));
}

}  // namespace nightshift
