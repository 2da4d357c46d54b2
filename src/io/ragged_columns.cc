#include "io/ragged_columns.h"

#include <fmt/format.h>

#include <cstring>

namespace nightshift::io {
namespace {

// Row r's length, checked against the padded width.
Result<idx_t> RowLength(const OutputColumn& c, const Tensor& lengths, int64_t r, idx_t width) {
  const int64_t len = lengths.data_as<int64_t>()[r];
  if (len < 0 || static_cast<idx_t>(len) > width) {
    return Error(Code::kInternal, fmt::format("output column '{}': row {} has length {} in a "
                                              "tensor {} wide",
                                              c.name, r, len, width));
  }
  return static_cast<idx_t>(len);
}

}  // namespace

Status WriteRaggedOutput(const OutputColumn& c, const RowBatch& batch, duckdb_vector vec,
                         const sel_t* rows, idx_t n, idx_t offset) {
  const Tensor& t = batch.outputs[static_cast<size_t>(c.output_index)];
  const Tensor& lengths = batch.outputs[static_cast<size_t>(c.length_index)];
  if (lengths.dtype() != DType::kInt64 || lengths.NumElements() < batch.num_rows) {
    return Status(Code::kInternal, fmt::format("output column '{}': bad length tensor {}", c.name,
                                               lengths.DebugString()));
  }
  const idx_t width = t.shape()[0] > 0 ? static_cast<idx_t>(t.NumElements() / t.shape()[0]) : 0;
  const size_t esize = DTypeSize(t.dtype());
  const auto* src = static_cast<const char*>(t.data());
  if (c.is_text) {
    for (idx_t i = 0; i < n; ++i) {
      NS_ASSIGN_OR_RETURN(idx_t len, RowLength(c, lengths, rows[i], width));
      duckdb_vector_assign_string_element_len(vec, offset + i, src + rows[i] * width, len);
    }
    return Status::Ok();
  }
  idx_t total = 0;
  for (idx_t i = 0; i < n; ++i) {
    NS_ASSIGN_OR_RETURN(idx_t len, RowLength(c, lengths, rows[i], width));
    total += len;
  }
  const idx_t base = duckdb_list_vector_get_size(vec);  // child elements already written
  if (duckdb_list_vector_reserve(vec, base + total) == DuckDBError ||
      duckdb_list_vector_set_size(vec, base + total) == DuckDBError) {
    return Status(Code::kOutOfMemory, "cannot reserve a list vector");
  }
  auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(vec)) + offset;
  auto* child = static_cast<char*>(duckdb_vector_get_data(duckdb_list_vector_get_child(vec)));
  idx_t at = base;
  for (idx_t i = 0; i < n; ++i) {
    const auto len = static_cast<idx_t>(lengths.data_as<int64_t>()[rows[i]]);
    entries[i].offset = at;
    entries[i].length = len;
    std::memcpy(child + at * esize, src + rows[i] * width * esize, len * esize);
    at += len;
  }
  return Status::Ok();
}

}  // namespace nightshift::io
