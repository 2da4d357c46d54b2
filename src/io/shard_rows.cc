#include "io/shard_rows.h"

#include <fmt/format.h>

#include <cstring>

#include "io/ragged_columns.h"
#include "io/sql_types.h"

namespace nightshift::io {
namespace {

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

}  // namespace

std::string OutputSqlType(const OutputColumn& c) {
  if (c.kept_image) return "BLOB";
  if (c.labels) return "VARCHAR[]";
  if (c.is_text) return "VARCHAR";
  const std::string t = SqlTypeFor(c.dtype);
  return c.is_list ? t + "[]" : t;
}

Result<ShardRowSchemas> MakeShardRowSchemas(DuckConnection* conn, const SinkLayout& layout) {
  std::vector<std::string> names, types;
  for (size_t i = 0; i < layout.keep_count; ++i) {
    names.push_back(layout.carried[i]);
    types.push_back(layout.carried_types[i]);
  }
  for (const auto& c : layout.outputs) {
    names.push_back(c.name);
    types.push_back(OutputSqlType(c));
  }
  if (layout.restore_order) {
    names.push_back("__ns_row");
    types.push_back("BIGINT");
  }
  ShardRowSchemas s;
  NS_ASSIGN_OR_RETURN(s.out, DuckSchema::FromSql(conn, names, types));
  names.clear();
  types.clear();
  for (const auto& k : layout.key) {
    names.push_back(k);
    types.push_back(KeyType(layout, k));
  }
  names.insert(names.end(),
               {"__ns_row", "__ns_error", "__ns_attempts", "__ns_file", "__ns_file_index"});
  types.insert(types.end(), {"BIGINT", "VARCHAR", "INTEGER", "VARCHAR", "INTEGER"});
  NS_ASSIGN_OR_RETURN(s.dl, DuckSchema::FromSql(conn, names, types));
  return s;
}

ShardRows::ShardRows(const SinkLayout& layout, const ShardRowSchemas* schemas,
                     const std::shared_ptr<ChunkScanRegistry>& registry)
    : layout_(layout),
      out_(&schemas->out),
      dl_(&schemas->dl),
      out_scan_(ChunkScanRegistry::Register(registry, &out_)),
      dl_scan_(ChunkScanRegistry::Register(registry, &dl_)),
      sel_(duckdb_create_selection_vector(duckdb_vector_size())) {}

ShardRows::~ShardRows() {
  duckdb_destroy_selection_vector(sel_);
}

size_t ShardRows::KeyIndex(size_t k) const {
  return CarriedIndex(layout_, layout_.key[k]);
}

Status ShardRows::Append(const RowBatch& batch) {
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
    for (idx_t i = 0; i < n; ++i) {
      origin_.Add((int64_t{batch.file_index} << 40) + batch.RowNumber(batch_rows[i]));
      if (!batch.items.empty()) {
        item_.resize(origin_.size() - 1, 0);
        item_.push_back(batch.items[batch_rows[i]]);
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
        auto* rn = static_cast<int64_t*>(duckdb_vector_get_data(
            duckdb_data_chunk_get_vector(room.chunk, layout_.keep_count + layout_.outputs.size())));
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

std::string ShardRows::RowsSql() const {
  return repeats_.empty() ? out_scan_.Sql() : AllRowsExcept(repeats_);
}

std::string ShardRows::RowsSql(int64_t begin, int64_t end) const {
  return fmt::format("(SELECT * FROM {} LIMIT {} OFFSET {})", RowsSql(), end - begin, begin);
}

std::string ShardRows::RowsSqlExcept(const std::vector<RejectedRow>& rejected) const {
  return AllRowsExcept(AllRefused(rejected));
}

std::string ShardRows::AllRowsExcept(const std::vector<RejectedRow>& positions) const {
  if (positions.empty()) return out_scan_.Sql();
  std::string list;
  for (const RejectedRow& r : positions)
    list += fmt::format("{}{}", list.empty() ? "" : ", ", r.index);
  return fmt::format(
      "(SELECT * EXCLUDE (__ns_i) FROM (SELECT *, row_number() OVER () - 1 AS "
      "__ns_i FROM {}) WHERE __ns_i NOT IN ({}))",
      out_scan_.Sql(), list);
}

std::vector<RejectedRow> ShardRows::AllRefused(const std::vector<RejectedRow>& rejected) const {
  if (repeats_.empty()) return rejected;
  std::vector<RejectedRow> all = repeats_;
  for (const RejectedRow& r : rejected) {
    all.push_back(RejectedRow{kept_[static_cast<size_t>(r.index)], r.error});
  }
  return all;
}

std::string ShardRows::KeyExpr() const {
  if (layout_.key.size() == 1) return QuoteIdent(layout_.key[0]);
  std::string e = "{";
  for (size_t k = 0; k < layout_.key.size(); ++k) {
    e += fmt::format("{}{}: {}", k ? ", " : "", QuoteString(layout_.key[k]),
                     QuoteIdent(layout_.key[k]));
  }
  return e + "}";
}

std::string ShardRows::RejectedSql(const std::vector<RejectedRow>& rejected) const {
  constexpr int64_t kRowMask = (int64_t{1} << 40) - 1;
  std::string values;
  for (const RejectedRow& r : rejected) {
    const int64_t origin = origin_[static_cast<size_t>(r.index)];
    const auto file_index = static_cast<size_t>(origin >> 40);
    const std::string& path =
        file_index < layout_.input_paths.size() ? layout_.input_paths[file_index] : std::string();
    values += fmt::format("{}({}::BIGINT, {}, {}::INTEGER, {}::BIGINT, {})",
                          values.empty() ? "" : ", ", r.index, QuoteString(r.error), file_index,
                          origin & kRowMask, QuoteString(path));
  }
  return fmt::format("(VALUES {}) AS r(i, error, file_index, row, file)", values);
}

std::string ShardRows::DeadLetterSql(const std::vector<RejectedRow>& rejected) const {
  const std::string key = KeyExpr();
  std::string sql = fmt::format(
      "SELECT {} AS key, __ns_row AS row, __ns_error AS error, __ns_attempts AS attempts, "
      "__ns_file_index AS file_index, __ns_file AS file FROM {}",
      key, dl_scan_.Sql());
  if (!rejected.empty()) {
    // The rejected rows' keys, by their position among the good rows.
    sql += fmt::format(
        " UNION ALL SELECT {} AS key, r.row, r.error, 1, r.file_index, r.file FROM (SELECT *, "
        "row_number() OVER () - 1 AS __ns_i FROM {}) o JOIN {} ON o.__ns_i = r.i",
        key, out_scan_.Sql(), RejectedSql(rejected));
  }
  return sql;
}

// The failed rows of `rows` (DeadLetterSql) in file order, one per input row:
// rows a preprocess step made of one input row (pdf_pages' pages) may fail
// apart, but the ledger's unit is the input row (a retry reads it whole): one
// failure for it, with every reason.
Result<std::vector<ItemFailure>> ShardRows::QueryFailures(DuckConnection* conn, int64_t shard_id,
                                                          const std::string& rows) const {
  NS_ASSIGN_OR_RETURN(
      DuckResult r,
      conn->Query(fmt::format("SELECT to_json(key)::VARCHAR, row, error, attempts, file_index FROM "
                              "({}) ORDER BY file_index, row",
                              rows)));
  std::vector<ItemFailure> failures;
  for (idx_t i = 0; i < r.row_count(); ++i) {
    if (!failures.empty() && failures.back().row == r.Int(1, i) &&
        failures.back().file_index == static_cast<int32_t>(r.Int(4, i))) {
      failures.back().error += "; " + r.Text(2, i);
      continue;
    }
    ItemFailure f;
    f.shard_id = shard_id;
    f.key_json = r.Text(0, i);
    f.row = r.Int(1, i);
    f.error = r.Text(2, i);
    f.attempts = static_cast<int32_t>(r.Int(3, i));
    f.file_index = static_cast<int32_t>(r.Int(4, i));
    failures.push_back(std::move(f));
  }
  return failures;
}

// `rows` with each failure's attempts before this run (a retry's) added, so
// that the file says what the ledger says.
std::string ShardRows::WithPriorAttempts(const std::string& rows,
                                         std::vector<ItemFailure>* failures) const {
  if (!layout_.prior_attempts) return rows;
  std::string values;
  for (auto& f : *failures) {
    const int32_t prior = layout_.prior_attempts(f);
    if (prior == 0) continue;
    f.attempts += prior;
    values += fmt::format("{}({}::INTEGER, {}::BIGINT, {}::INTEGER)", values.empty() ? "" : ", ",
                          f.file_index, f.row, prior);
  }
  if (values.empty()) return rows;
  return fmt::format(
      "SELECT d.* REPLACE (d.attempts + coalesce(p.prior, 0) AS attempts) FROM ({}) d LEFT JOIN "
      "(VALUES {}) AS p(file_index, row, prior) ON d.file_index = p.file_index AND d.row = p.row",
      rows, values);
}

Status ShardRows::WriteDeadLetters(DuckConnection* conn, Env* env, int64_t shard_id, int64_t epoch,
                                   const std::vector<RejectedRow>& rejected,
                                   const ClaimCheck& still_ours, ShardOutput* out,
                                   std::vector<std::string>* temps) const {
  std::string dl_name = fmt::format("part-{:06d}.jsonl", shard_id);
  std::string dl_final = JoinPath(layout_.dead_letter_dir, dl_name);
  out->failures.clear();
  out->dead_letter_file.clear();
  const std::vector<RejectedRow> refused = AllRefused(rejected);
  if (dl_.rows() == 0 && refused.empty()) {
    // A stale one from an earlier attempt, removed only while the claim holds.
    auto stale = env->Stat(dl_final);
    if (!stale.has_value() && stale.error().code() == Code::kNotFound) return Status::Ok();
    NS_RETURN_IF_ERROR(still_ours());
    return env->RemoveFile(dl_final);
  }
  NS_RETURN_IF_ERROR(env->CreateDirs(layout_.dead_letter_dir));
  NS_ASSIGN_OR_RETURN(out->failures, QueryFailures(conn, shard_id, DeadLetterSql(refused)));
  const std::string rows = WithPriorAttempts(DeadLetterSql(refused), &out->failures);
  std::string tmp = JoinPath(layout_.dead_letter_dir, fmt::format(".{}.tmp-{}", dl_name, epoch));
  temps->push_back(tmp);
  NS_RETURN_IF_ERROR(
      conn->Exec(fmt::format("COPY (SELECT key, {} AS shard, file, row, error, attempts FROM ({}) "
                             "ORDER BY file_index, row) TO {} (FORMAT json)",
                             shard_id, rows, QuoteString(tmp)),
                 "writing dead letters"));
  NS_RETURN_IF_ERROR(env->PublishFileFenced(tmp, dl_final, still_ours));
  out->dead_letter_file = dl_name;
  return Status::Ok();
}

Status ShardRows::AppendFailures(const RowBatch& batch, const DuckCarriedRows& carried,
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
    auto* rows =
        static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(room.chunk, nk)));
    auto* attempts = static_cast<int32_t*>(
        duckdb_vector_get_data(duckdb_data_chunk_get_vector(room.chunk, nk + 2)));
    for (idx_t i = 0; i < room.count; ++i) {
      size_t r = failed[done + i];
      idx_t at = room.offset + i;
      rows[at] = batch.RowNumber(static_cast<int64_t>(r));
      if (!batch.items.empty()) {
        failed_item_origins_.push_back((int64_t{batch.file_index} << 40) + rows[at]);
      }
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

// A text-labelled top_k ids column: each index of the [rows, k] int64 tensor
// `t` becomes its label's text in `child` (the list's VARCHAR elements), from
// element `base` on.
namespace {
Status WriteLabels(const OutputColumn& c, const Tensor& t, duckdb_vector child, const sel_t* rows,
                   idx_t n, idx_t base) {
  const int64_t width = t.shape()[1];
  const std::vector<std::string>& labels = *c.labels;
  for (idx_t i = 0; i < n; ++i) {
    const int64_t* ids = t.data_as<int64_t>() + static_cast<int64_t>(rows[i]) * width;
    for (int64_t j = 0; j < width; ++j) {
      if (ids[j] < 0 || static_cast<size_t>(ids[j]) >= labels.size()) {
        return Status(Code::kInternal,
                      fmt::format("output column '{}': index {} has no label ({} labels)", c.name,
                                  ids[j], labels.size()));
      }
      const std::string& text = labels[static_cast<size_t>(ids[j])];
      duckdb_vector_assign_string_element_len(
          child, base + i * static_cast<idx_t>(width) + static_cast<idx_t>(j), text.data(),
          text.size());
    }
  }
  return Status::Ok();
}

// The kept images (PNG bytes) of the batch rows `rows[0, n)` as BLOBs; a row
// without one (it cannot be written: its page failed) is null.
Status WriteKeptImages(const RowBatch& batch, duckdb_vector vec, const sel_t* rows, idx_t n,
                       idx_t offset) {
  for (idx_t i = 0; i < n; ++i) {
    const auto r = static_cast<size_t>(rows[i]);
    if (r >= batch.kept_images.size() || batch.kept_images[r].empty()) {
      duckdb_vector_ensure_validity_writable(vec);
      duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vec), offset + i);
      continue;
    }
    const std::string& png = batch.kept_images[r];
    duckdb_vector_assign_string_element_len(vec, offset + i, png.data(), png.size());
  }
  return Status::Ok();
}
}  // namespace

// Writes output column `c` of the batch rows `rows[0, n)` to rows
// [offset, offset + n) of `vec`.
Status ShardRows::WriteOutput(const OutputColumn& c, const RowBatch& batch, duckdb_vector vec,
                              const sel_t* rows, idx_t n, idx_t offset) {
  if (c.item_number) {
    auto* dst = static_cast<int32_t*>(duckdb_vector_get_data(vec)) + offset;
    for (idx_t i = 0; i < n; ++i) {
      const auto r = static_cast<size_t>(rows[i]);
      dst[i] = r < batch.items.size() ? static_cast<int32_t>(batch.items[r]) : 0;
    }
    return Status::Ok();
  }
  if (c.kept_image) return WriteKeptImages(batch, vec, rows, n, offset);
  const Tensor& t = batch.outputs[static_cast<size_t>(c.output_index)];
  if (t.dtype() != c.dtype) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("output column '{}' expects {} but the model returned {}", c.name,
                              DTypeName(c.dtype), t.DebugString()));
  }
  if (c.length_index >= 0) return WriteRaggedOutput(c, batch, vec, rows, n, offset);
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
  for (idx_t i = 0; i < n; ++i) {
    entries[i].offset = base + i * width;
    entries[i].length = width;
  }
  duckdb_vector child_vec = duckdb_list_vector_get_child(vec);
  if (c.labels) return WriteLabels(c, t, child_vec, rows, n, base);
  auto* child = static_cast<char*>(duckdb_vector_get_data(child_vec));
  const auto* src = static_cast<const char*>(t.data());
  for (idx_t i = 0; i < n; ++i) {
    std::memcpy(child + (base + i * width) * esize,
                src + static_cast<size_t>(rows[i]) * width * esize, width * esize);
  }
  return Status::Ok();
}

}  // namespace nightshift::io
