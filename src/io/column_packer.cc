#include "io/column_packer.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

namespace nightshift::io {
namespace {

template <typename T>
bool Finite(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isfinite(v);
  } else {
    return true;
  }
}

std::vector<int64_t> RowShape(const std::vector<int64_t>& row_shape, int64_t rows) {
  std::vector<int64_t> shape;
  shape.reserve(row_shape.size() + 1);
  shape.push_back(rows);
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  return shape;
}

}  // namespace

ColumnPacker::ColumnPacker(const std::vector<InputPacking>& inputs, std::vector<idx_t> first_column)
    : inputs_(inputs), first_column_(std::move(first_column)) {
  for (const auto& in : inputs_) {
    int64_t n = 1;
    for (int64_t d : in.row_shape) n *= d;
    row_elems_.push_back(n);
  }
}

void ColumnPacker::Prepare(RowBatch* batch, int64_t capacity) const {
  batch->inputs.resize(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) {
    Tensor& t = batch->inputs[i];
    if (t.data() == nullptr || t.dtype() != inputs_[i].dtype) {
      t = Tensor::Allocate(inputs_[i].dtype, RowShape(inputs_[i].row_shape, capacity));
    } else {
      t.Reshape(RowShape(inputs_[i].row_shape, capacity));
    }
  }
}

void ColumnPacker::Finish(RowBatch* batch) const {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    batch->inputs[i].Reshape(RowShape(inputs_[i].row_shape, batch->num_rows));
  }
}

void ColumnPacker::Pack(duckdb_data_chunk chunk, idx_t src_offset, idx_t count, RowBatch* batch,
                        int64_t dst_row) const {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    switch (inputs_[i].dtype) {
      case DType::kFloat32: PackInput<float>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kFloat64: PackInput<double>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kInt64: PackInput<int64_t>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kInt32: PackInput<int32_t>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kInt8: PackInput<int8_t>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kUInt8: PackInput<uint8_t>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kBool: PackInput<bool>(i, chunk, src_offset, count, batch, dst_row); break;
      case DType::kFloat16:
      case DType::kBFloat16:
        // Rejected when the layout is built (no SQL type to cast to).
        break;
    }
  }
}

template <typename T>
void ColumnPacker::PackInput(size_t input, duckdb_data_chunk chunk, idx_t src_offset, idx_t count,
                             RowBatch* batch, int64_t dst_row) const {
  const InputPacking& in = inputs_[input];
  const int64_t stride = row_elems_[input];
  T* out = batch->inputs[input].data_as<T>() + dst_row * stride;
  int64_t col_offset = 0;
  for (size_t c = 0; c < in.columns.size(); ++c) {
    duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, first_column_[input] + c);
    uint64_t* validity = duckdb_vector_get_validity(vec);
    const int64_t width = in.column_widths[c];
    if (!in.column_is_list[c]) {
      const T* src = static_cast<const T*>(duckdb_vector_get_data(vec)) + src_offset;
      T* dst = out + col_offset;
      for (idx_t r = 0; r < count; ++r) {
        T v = src[r];
        bool valid = validity == nullptr || duckdb_validity_row_is_valid(validity, src_offset + r);
        if (!valid) {
          batch->SetRowError(dst_row + static_cast<int64_t>(r),
                             fmt::format("null or unconvertible value in column '{}'", in.columns[c]));
          v = T{};
        } else if (!in.allow_nan && !Finite(v)) {
          batch->SetRowError(dst_row + static_cast<int64_t>(r),
                             fmt::format("NaN or Inf in column '{}' (allow_nan is false)", in.columns[c]));
          v = T{};
        }
        dst[r * stride] = v;
      }
    } else {
      // A list column: each row must hold exactly `width` elements.
      const auto* entries = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vec));
      duckdb_vector child = duckdb_list_vector_get_child(vec);
      const T* child_data = static_cast<const T*>(duckdb_vector_get_data(child));
      uint64_t* child_validity = duckdb_vector_get_validity(child);
      for (idx_t r = 0; r < count; ++r) {
        T* dst = out + static_cast<int64_t>(r) * stride + col_offset;
        int64_t row = dst_row + static_cast<int64_t>(r);
        bool valid = validity == nullptr || duckdb_validity_row_is_valid(validity, src_offset + r);
        const duckdb_list_entry& e = entries[src_offset + r];
        if (!valid || static_cast<int64_t>(e.length) != width) {
          batch->SetRowError(
              row, valid ? fmt::format("list column '{}' has {} elements, the model needs {}",
                                       in.columns[c], e.length, width)
                         : fmt::format("null value in list column '{}'", in.columns[c]));
          std::memset(static_cast<void*>(dst), 0, sizeof(T) * static_cast<size_t>(width));
          continue;
        }
        std::memcpy(static_cast<void*>(dst), child_data + e.offset,
                    sizeof(T) * static_cast<size_t>(width));
        bool bad = false;
        for (int64_t k = 0; k < width; ++k) {
          bool ok = child_validity == nullptr ||
                    duckdb_validity_row_is_valid(child_validity, e.offset + static_cast<idx_t>(k));
          if (!ok || (!in.allow_nan && !Finite(dst[k]))) bad = true;
        }
        if (bad) {
          batch->SetRowError(row, fmt::format("null{} element in list column '{}'",
                                              in.allow_nan ? "" : ", NaN or Inf", in.columns[c]));
        }
      }
    }
    col_offset += width;
  }
}

}  // namespace nightshift::io
