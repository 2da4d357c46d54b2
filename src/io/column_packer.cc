#include "io/column_packer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

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

// The C type of a scalar feature column in the read chunk: float32 columns
// are read as DOUBLE (unless the file's column is FLOAT already: see
// PackScalarColumn) and int32/int8/uint8 columns as BIGINT (ReadType), and
// narrowed here.
template <typename T>
using ScalarSource = std::conditional_t<
    std::is_same_v<T, float>, double,
    std::conditional_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int64_t, T>>;

// A value that T cannot hold (1e39 for float32, 300 for int8): a dead letter
// naming it, unlike an explicit inf or NaN, which allow_nan governs. Checked
// before narrowing, which would be undefined for it.
template <typename T, typename S>
bool OutOfRange(S raw) {
  if constexpr (std::is_same_v<T, S>) {
    return false;
  } else if constexpr (std::is_same_v<T, float>) {
    return std::isfinite(raw) && std::fabs(raw) > std::numeric_limits<float>::max();
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                       !std::is_same_v<T, int64_t>) {
    return raw < std::numeric_limits<T>::min() || raw > std::numeric_limits<T>::max();
  } else {
    return false;
  }
}

// duckdb_validity_row_is_valid, inlined: the row loops call it per row, and
// a call into libduckdb costs more than the bit test (0.7% of a CSV job's
// CPU in perf). DuckDB's validity masks are documented as one bit per row, set
// when valid, in 64-bit words.
inline bool Valid(const uint64_t* validity, idx_t row) {
  return validity == nullptr || ((validity[row / 64] >> (row % 64)) & 1) != 0;
}

// Calls fn(chunk, chunk_row, batch_row) for every row the slices name.
template <typename Fn>
void ForEachRow(const std::vector<DuckCarriedRows::Slice>& slices, Fn&& fn) {
  int64_t r = 0;
  for (const auto& s : slices) {
    for (idx_t i = 0; i < s.count; ++i) fn(s.chunk->get(), s.row(i), r++);
  }
}

// Where one column of one input goes in the batch's tensor: row r's values
// start at out[r * stride + offset] and take `width` elements.
template <typename T>
struct ColumnDest {
  const InputPacking& in;
  size_t column;  // within the input
  T* out;
  int64_t stride;
  int64_t offset;
  int64_t width;
  RowBatch* batch;

  T* Row(int64_t r) const { return out + r * stride + offset; }
  const std::string& name() const { return in.columns[column]; }
};

// The common case of PackScalarRows, without a branch per row: a contiguous
// slice is converted in one loop that only notes whether any value failed
// (null, out of range, or non-finite where allow_nan is false). Returns false
// when one did (or the slice is a selection), and PackScalarRows then goes
// over it again row by row to name the failures.
template <typename T, typename S>
bool PackCleanRows(const ColumnDest<T>& dest, const uint64_t* validity, const S* src,
                   const DuckCarriedRows::Slice& slice, int64_t r) {
  if (!slice.rows.empty()) return false;
  const bool check_finite = !dest.in.allow_nan;
  bool clean = true;
  for (idx_t i = 0; i < slice.count; ++i) {
    const idx_t row = slice.offset + i;
    const S raw = src[row];
    const bool bad = OutOfRange<T, S>(raw);
    const T v = bad ? T{} : static_cast<T>(raw);
    clean &= Valid(validity, row) & !bad & (!check_finite | Finite(v));
    *dest.Row(r + static_cast<int64_t>(i)) = v;
  }
  return clean;
}

// Converts one scalar column of `slice` (rows r, r+1, ...), of C type S in
// the chunk, into `dest`; a null, out-of-range or (allow_nan false)
// non-finite value fails its row. Returns the batch row after the slice's last.
template <typename T, typename S = ScalarSource<T>>
int64_t PackScalarRows(const ColumnDest<T>& dest, duckdb_vector vec,
                       const DuckCarriedRows::Slice& slice, int64_t r) {
  const InputPacking& in = dest.in;
  const uint64_t* validity = duckdb_vector_get_validity(vec);
  const auto* src = static_cast<const S*>(duckdb_vector_get_data(vec));
  if (PackCleanRows(dest, validity, src, slice, r)) return r + static_cast<int64_t>(slice.count);
  for (idx_t i = 0; i < slice.count; ++i, ++r) {
    const idx_t row = slice.row(i);
    const S raw = src[row];
    T v{};
    if (!Valid(validity, row)) {
      dest.batch->SetRowError(
          r, fmt::format("null or unconvertible value in column '{}'", dest.name()));
    } else if (OutOfRange<T, S>(raw)) {
      dest.batch->SetRowError(r, fmt::format("value {} in column '{}' is out of range for {}", raw,
                                             dest.name(), DTypeName(in.dtype)));
    } else {
      v = static_cast<T>(raw);
      if (!in.allow_nan && !Finite(v)) {
        dest.batch->SetRowError(
            r, fmt::format("NaN or Inf in column '{}' (allow_nan is false)", dest.name()));
        v = T{};
      }
    }
    *dest.Row(r) = v;
  }
  return r;
}

// Why a list cell cannot be packed: null, or (fixed width) the wrong length.
template <typename T>
std::string BadListReason(const ColumnDest<T>& dest, bool valid, uint64_t length) {
  if (valid) {
    return fmt::format("list column '{}' has {} elements, the model needs {}", dest.name(), length,
                       dest.width);
  }
  return dest.in.null_reason.empty() ? fmt::format("null value in list column '{}'", dest.name())
                                     : dest.in.null_reason;
}

// Copies one list column of `slice` (rows r, r+1, ...) into `dest`, padded
// to dest.width (a mask input writes 1 per element instead); a null list, a
// fixed-width list of another length or a null (or non-finite) element fails
// its row. Returns the batch row after the slice's last.
template <typename T>
int64_t PackListRows(const ColumnDest<T>& dest, duckdb_vector vec,
                     const DuckCarriedRows::Slice& slice, int64_t r) {
  const InputPacking& in = dest.in;
  const bool variable = in.column_widths[dest.column] < 0;
  const T pad = static_cast<T>(in.pad_value);
  const uint64_t* validity = duckdb_vector_get_validity(vec);
  const auto* entries = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vec));
  duckdb_vector child = duckdb_list_vector_get_child(vec);
  const T* child_data = static_cast<const T*>(duckdb_vector_get_data(child));
  const uint64_t* child_validity = duckdb_vector_get_validity(child);
  for (idx_t i = 0; i < slice.count; ++i, ++r) {
    const idx_t row = slice.row(i);
    T* dst = dest.Row(r);
    const auto& e = entries[row];
    const bool valid = Valid(validity, row);
    const auto len = static_cast<int64_t>(e.length);
    if (!valid || (!variable && len != dest.width)) {
      dest.batch->SetRowError(r, BadListReason(dest, valid, e.length));
      for (int64_t k = 0; k < dest.width; ++k) dst[k] = pad;
      continue;
    }
    if (in.is_mask) {
      for (int64_t k = 0; k < dest.width; ++k) dst[k] = static_cast<T>(k < len ? 1 : 0);
      continue;
    }
    std::memcpy(static_cast<void*>(dst), child_data + e.offset,
                sizeof(T) * static_cast<size_t>(len));
    for (int64_t k = len; k < dest.width; ++k) dst[k] = pad;
    for (int64_t k = 0; k < len; ++k) {
      if (!Valid(child_validity, e.offset + static_cast<idx_t>(k)) ||
          (!in.allow_nan && !Finite(dst[k]))) {
        dest.batch->SetRowError(r, fmt::format("null{} element in list column '{}'",
                                               in.allow_nan ? "" : ", NaN or Inf", dest.name()));
        break;
      }
    }
  }
  return r;
}

// True when `vec` holds FLOAT values: a float32 feature whose column is FLOAT
// in the file is read as it is (ShardScanner::SelectList), with no widening
// to DOUBLE and back (~7% of a Parquet job's reader CPU).
bool HoldsFloat(duckdb_vector vec) {
  duckdb_logical_type type = duckdb_vector_get_column_type(vec);
  const bool is_float = duckdb_get_type_id(type) == DUCKDB_TYPE_FLOAT;
  duckdb_destroy_logical_type(&type);
  return is_float;
}

// PackScalarRows for the C type the chunk holds the column in.
template <typename T>
int64_t PackScalarColumn(const ColumnDest<T>& dest, duckdb_vector vec,
                         const DuckCarriedRows::Slice& slice, int64_t r) {
  if constexpr (std::is_same_v<T, float>) {
    if (HoldsFloat(vec)) return PackScalarRows<T, float>(dest, vec, slice, r);
  }
  return PackScalarRows<T>(dest, vec, slice, r);
}

}  // namespace

ColumnPacker::ColumnPacker(const std::vector<InputPacking>& inputs, std::vector<idx_t> first_column)
    : inputs_(inputs), first_column_(std::move(first_column)) {}

int64_t ColumnPacker::ListLength(duckdb_data_chunk chunk, idx_t column, idx_t row) {
  duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, column);
  if (!Valid(duckdb_vector_get_validity(vec), row)) return 0;
  return static_cast<int64_t>(
      static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vec))[row].length);
}

int64_t ColumnPacker::MaxLength(size_t input,
                                const std::vector<DuckCarriedRows::Slice>& slices) const {
  int64_t longest = 1;  // a batch of empty lists still gets one (padding) column
  ForEachRow(slices, [&](duckdb_data_chunk chunk, idx_t row, int64_t) {
    longest = std::max(longest, ListLength(chunk, first_column_[input], row));
  });
  return longest;
}

namespace {

// Shapes `t` as [rows] + row_shape (-1 entries: `padded`), reusing a
// recycled batch's buffer.
void ShapeTensor(const InputPacking& in, int64_t rows, int64_t padded, Tensor* t) {
  std::vector<int64_t> shape = {rows};
  for (int64_t d : in.row_shape) shape.push_back(d < 0 ? padded : d);
  if (t->data() == nullptr || t->dtype() != in.dtype) {
    *t = Tensor::Allocate(in.dtype, shape);
  } else {
    t->Reshape(shape);
  }
}

}  // namespace

void ColumnPacker::Pack(const std::vector<DuckCarriedRows::Slice>& slices, RowBatch* batch) const {
  batch->inputs.resize(inputs_.size());
  batch->image_frames.clear();
  batch->kept_images.clear();
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const InputPacking& in = inputs_[i];
    if (in.filler) {
      PackFilled(i, slices, batch);
      continue;
    }
    int64_t padded =
        in.column_widths.size() == 1 && in.column_widths[0] < 0 ? MaxLength(i, slices) : -1;
    ShapeTensor(in, batch->num_rows, padded, &batch->inputs[i]);
    switch (in.dtype) {
      case DType::kFloat32: PackInput<float>(i, slices, padded, batch); break;
      case DType::kFloat64: PackInput<double>(i, slices, padded, batch); break;
      case DType::kInt64: PackInput<int64_t>(i, slices, padded, batch); break;
      case DType::kInt32: PackInput<int32_t>(i, slices, padded, batch); break;
      case DType::kInt8: PackInput<int8_t>(i, slices, padded, batch); break;
      case DType::kUInt8: PackInput<uint8_t>(i, slices, padded, batch); break;
      case DType::kBool: PackInput<bool>(i, slices, padded, batch); break;
      case DType::kFloat16:
      case DType::kBFloat16: break;  // rejected when the layout is bound (no SQL type to cast to)
    }
  }
}

ColumnPacker::FillerRows ColumnPacker::CollectFillerRows(
    size_t input, const std::vector<DuckCarriedRows::Slice>& slices, const RowBatch& batch) const {
  FillerRows f;
  f.rows.reserve(static_cast<size_t>(batch.num_rows));
  int64_t r = 0;
  for (const auto& slice : slices) {
    duckdb_vector vec = duckdb_data_chunk_get_vector(slice.chunk->get(), first_column_[input]);
    duckdb_vector dir = duckdb_data_chunk_get_vector(slice.chunk->get(), first_column_[input] + 1);
    auto* values = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vec));
    uint64_t* validity = duckdb_vector_get_validity(vec);
    // The folder is one constant per query: entry 0 holds it whether DuckDB
    // hands the vector over flat or constant.
    auto* dir_value = static_cast<duckdb_string_t*>(duckdb_vector_get_data(dir));
    const std::string_view base(duckdb_string_t_data(dir_value),
                                duckdb_string_t_length(*dir_value));
    for (idx_t i = 0; i < slice.count; ++i, ++r) {
      const idx_t row = slice.row(i);
      if (batch.RowFailed(r)) {  // the reader found it bad (a PDF that does not open)
        f.failed_rows.push_back(r);
        continue;
      }
      if (!Valid(validity, row)) {
        f.null_rows.push_back(r);
        continue;
      }
      f.rows.push_back({std::string_view(duckdb_string_t_data(&values[row]),
                                         duckdb_string_t_length(values[row])),
                        base,
                        nullptr,
                        {},
                        {},
                        batch.items.empty() ? 0 : batch.items[static_cast<size_t>(r)]});
      f.batch_rows.push_back(r);
    }
  }
  return f;
}

void ColumnPacker::PackFilled(size_t input, const std::vector<DuckCarriedRows::Slice>& slices,
                              RowBatch* batch) const {
  const InputPacking& in = inputs_[input];
  auto [rows, batch_rows, null_rows, failed_rows] = CollectFillerRows(input, slices, *batch);
  // The tensor is shaped once the rows are known: a crop step's width is
  // its widest box of the batch.
  const bool padded = std::find(in.row_shape.begin(), in.row_shape.end(), -1) != in.row_shape.end();
  Tensor& t = batch->inputs[input];
  ShapeTensor(in, batch->num_rows, padded ? in.filler->PaddedLength(rows) : -1, &t);
  const int64_t stride = batch->num_rows > 0 ? t.NumElements() / batch->num_rows : 0;
  float* out = t.data_as<float>();
  for (int64_t n : null_rows) {
    std::fill(out + n * stride, out + (n + 1) * stride, 0.0f);
    batch->SetRowError(n, fmt::format("null value in column '{}' (preprocess {} into '{}')",
                                      in.filler->column(), in.filler->step(), in.columns[0]));
  }
  for (int64_t n : failed_rows) std::fill(out + n * stride, out + (n + 1) * stride, 0.0f);
  for (size_t k = 0; k < rows.size(); ++k) rows[k].out = out + batch_rows[k] * stride;
  in.filler->Fill(rows);
  for (size_t k = 0; k < rows.size(); ++k) {
    if (!rows[k].error.empty()) batch->SetRowError(batch_rows[k], std::move(rows[k].error));
    if (!rows[k].kept_image.empty()) {
      batch->kept_images.resize(static_cast<size_t>(batch->num_rows));
      batch->kept_images[static_cast<size_t>(batch_rows[k])] = std::move(rows[k].kept_image);
    }
    if (rows[k].frame.width == 0) continue;
    batch->image_frames.resize(static_cast<size_t>(batch->num_rows));
    batch->image_frames[static_cast<size_t>(batch_rows[k])] = rows[k].frame;
  }
}

template <typename T>
void ColumnPacker::PackInput(size_t input, const std::vector<DuckCarriedRows::Slice>& slices,
                             int64_t padded, RowBatch* batch) const {
  const InputPacking& in = inputs_[input];
  Tensor& t = batch->inputs[input];
  ColumnDest<T> dest{
      in, 0, t.data_as<T>(), batch->num_rows > 0 ? t.NumElements() / batch->num_rows : 0,
      0,  0, batch};
  for (size_t c = 0; c < in.columns.size(); ++c) {
    const idx_t column = first_column_[input] + c;
    dest.column = c;
    dest.width = in.column_widths[c] < 0 ? padded : in.column_widths[c];
    // Per slice, the vector's data and validity are looked up once; the row
    // loop then only reads memory.
    int64_t r = 0;
    for (const auto& slice : slices) {
      duckdb_vector vec = duckdb_data_chunk_get_vector(slice.chunk->get(), column);
      r = in.column_is_list[c] ? PackListRows(dest, vec, slice, r)
                               : PackScalarColumn(dest, vec, slice, r);
    }
    dest.offset += dest.width;
  }
}

}  // namespace nightshift::io
