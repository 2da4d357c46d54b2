// Shared by the row_packer fuzzer's two levels: globals, value encoding per
// dtype, and CheckPacked, the reference model every packed batch is checked
// against (see row_packer_fuzzer.cc for the input format).
#pragma once

#include <duckdb.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/column_packer.h"
#include "io/duck.h"
#include "io/duckdb_carried.h"
#include "nightshift/row_batch.h"
#include "nightshift/source.h"

namespace ns_fuzz {

using nightshift::DType;
using nightshift::InputPacking;
using nightshift::RowBatch;
using nightshift::io::DuckCarriedRows;
using nightshift::io::DuckChunk;
using Slice = DuckCarriedRows::Slice;

extern std::string g_dir;       // per-process temp folder
extern std::string g_findings;  // NS_FUZZ_FINDINGS, or empty
extern bool g_skip_known;
extern bool g_verbose;  // NS_FUZZ_VERBOSE=1: print level (a)'s layout, shards and batches
extern std::map<std::string, int> g_finding_counts;
extern const uint8_t* g_data;
extern size_t g_size;

[[noreturn]] inline void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "row_packer_fuzzer: property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

#define CHECK(cond, ...)                     \
  do {                                       \
    if (!(cond)) Fail(#cond, ##__VA_ARGS__); \
  } while (0)

inline void Finding(const std::string& kind, const std::string& message) {
  int& n = g_finding_counts[kind];
  if (++n > 3) return;  // log each kind a few times only
  std::fprintf(stderr, "row_packer_fuzzer: FINDING [%s]: %s\n", kind.c_str(),
               message.substr(0, 600).c_str());
  if (g_findings.empty()) return;
  std::string path = g_findings + "/finding-" + kind + "-" + std::to_string(n);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(g_data), static_cast<std::streamsize>(g_size));
  std::ofstream(path + ".txt") << message << "\n";
}

inline constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32,
                                    DType::kInt8,    DType::kUInt8,   DType::kBool};

inline size_t Size(DType t) {
  switch (t) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat64:
    case DType::kInt64: return 8;
    default: return 1;
  }
}

// The dtype a scalar feature column arrives in (duckdb_source.cc, ReadType):
// narrow dtypes are read wide and narrowed, with a range check, by the packer.
inline DType ScalarReadDType(DType t) {
  switch (t) {
    case DType::kFloat32: return DType::kFloat64;
    case DType::kInt32:
    case DType::kInt8:
    case DType::kUInt8: return DType::kInt64;
    default: return t;
  }
}

inline bool IsFloat(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64;
}

// pad_value candidates; some are out of range for the integer dtypes.
inline constexpr double kPads[] = {0,
                                   -1,
                                   1,
                                   0.5,
                                   -0.5,
                                   2,
                                   127,
                                   255,
                                   256,
                                   -129,
                                   3e9,
                                   -3e9,
                                   1e19,
                                   1e300,
                                   std::numeric_limits<double>::quiet_NaN(),
                                   std::numeric_limits<double>::infinity()};

// True when converting `v` to dtype `t` is defined behaviour.
inline bool PadInRange(DType t, double v) {
  switch (t) {
    case DType::kFloat32:  // double -> float overflow gives inf (IEEE); UBSan does not flag it
    case DType::kFloat64:
    case DType::kBool: return true;
    case DType::kInt64: return v > -9223372036854775809.0 && v < 9223372036854775808.0;
    case DType::kInt32: return v > -2147483649.0 && v < 2147483648.0;
    case DType::kInt8: return v > -129.0 && v < 128.0;
    case DType::kUInt8: return v > -1.0 && v < 256.0;
    default: return true;
  }
}

inline double Pad(DType t, uint8_t selector) {
  double v = kPads[selector % std::size(kPads)];
  if (g_skip_known && !PadInRange(t, v)) v = 0;
  return v;
}

// `v` as dtype `t` into `out` (only called for in-range values: the packer
// would have hit UBSan first otherwise).
inline void Encode(DType t, double v, uint8_t* out) {
  if (!PadInRange(t, v)) v = 0;
  switch (t) {
    case DType::kFloat32: {
      float x = static_cast<float>(v);
      std::memcpy(out, &x, 4);
      break;
    }
    case DType::kFloat64: std::memcpy(out, &v, 8); break;
    case DType::kInt64: {
      int64_t x = static_cast<int64_t>(v);
      std::memcpy(out, &x, 8);
      break;
    }
    case DType::kInt32: {
      int32_t x = static_cast<int32_t>(v);
      std::memcpy(out, &x, 4);
      break;
    }
    case DType::kInt8: {
      int8_t x = static_cast<int8_t>(v);
      std::memcpy(out, &x, 1);
      break;
    }
    case DType::kUInt8: {
      uint8_t x = static_cast<uint8_t>(v);
      std::memcpy(out, &x, 1);
      break;
    }
    case DType::kBool: {
      bool x = v != 0;
      std::memcpy(out, &x, 1);
      break;
    }
    default: break;
  }
}

inline bool FiniteAt(DType t, const uint8_t* p) {
  if (t == DType::kFloat32) {
    float f;
    std::memcpy(&f, p, 4);
    return std::isfinite(f);
  }
  if (t == DType::kFloat64) {
    double d;
    std::memcpy(&d, p, 8);
    return std::isfinite(d);
  }
  return true;
}

inline bool SameValue(DType t, const uint8_t* a, const uint8_t* b) {
  if (std::memcmp(a, b, Size(t)) == 0) return true;
  if (t == DType::kFloat32) {
    float x, y;
    std::memcpy(&x, a, 4);
    std::memcpy(&y, b, 4);
    return std::isnan(x) && std::isnan(y);
  }
  if (t == DType::kFloat64) {
    double x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    return std::isnan(x) && std::isnan(y);
  }
  return false;
}

inline std::string Hex(DType t, const uint8_t* p) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < Size(t); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

inline bool Valid(duckdb_vector vec, idx_t row) {
  uint64_t* v = duckdb_vector_get_validity(vec);
  return v == nullptr || duckdb_validity_row_is_valid(v, row);
}

inline int64_t ListLen(duckdb_data_chunk chunk, idx_t column, idx_t row) {
  duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, column);
  if (!Valid(vec, row)) return 0;
  return static_cast<int64_t>(
      static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vec))[row].length);
}

inline bool Variable(const InputPacking& in) {
  return in.column_widths.size() == 1 && in.column_widths[0] < 0;
}

inline std::string At(size_t i, int64_t r, size_t c) {
  return "input " + std::to_string(i) + " row " + std::to_string(r) + " column " +
         std::to_string(c);
}

// Row `s` of the scalar vector `vec` (of ScalarReadDType(t)) narrowed to `t`
// into `out`; false when `t` cannot hold it (out of range: a row error).
inline bool NarrowScalar(DType t, duckdb_vector vec, idx_t s, uint8_t* out) {
  const DType read = ScalarReadDType(t);
  const uint8_t* v = static_cast<const uint8_t*>(duckdb_vector_get_data(vec)) + s * Size(read);
  if (read == t) {
    std::memcpy(out, v, Size(t));
    return true;
  }
  if (t == DType::kFloat32) {
    double d;
    std::memcpy(&d, v, 8);
    if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) return false;
    Encode(t, d, out);
    return true;
  }
  int64_t i;
  std::memcpy(&i, v, 8);
  if (!PadInRange(t, static_cast<double>(i))) return false;
  Encode(t, static_cast<double>(i), out);  // exact: |i| < 2^32
  return true;
}

// The reference model: checks `batch` as ColumnPacker::Pack(slices) must
// have filled it.
inline void CheckPacked(const std::vector<InputPacking>& inputs,
                        const std::vector<idx_t>& first_column, const std::vector<Slice>& slices,
                        const RowBatch& batch) {
  struct Row {
    duckdb_data_chunk chunk;
    idx_t row;
  };
  std::vector<Row> rows;
  for (const auto& s : slices) {
    CHECK(s.chunk && *s.chunk);
    CHECK(s.rows.empty() || s.rows.size() == s.count);
    for (idx_t i = 0; i < s.count; ++i) {
      CHECK(s.row(i) < s.chunk->size());
      rows.push_back({s.chunk->get(), s.row(i)});
    }
  }
  CHECK(static_cast<int64_t>(rows.size()) == batch.num_rows,
        std::to_string(rows.size()) + " vs " + std::to_string(batch.num_rows));
  CHECK(batch.inputs.size() == inputs.size());
  for (size_t r = static_cast<size_t>(batch.num_rows); r < batch.row_errors.size(); ++r) {
    CHECK(batch.row_errors[r].empty(),
          "row error past num_rows at " + std::to_string(r) + ": " + batch.row_errors[r]);
  }
  std::vector<bool> bad(rows.size(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputPacking& in = inputs[i];
    const DType t = in.dtype;
    const size_t es = Size(t);
    int64_t padded = -1;
    if (Variable(in)) {
      padded = 1;
      for (const Row& row : rows)
        padded = std::max(padded, ListLen(row.chunk, first_column[i], row.row));
    }
    std::vector<int64_t> shape{batch.num_rows};
    int64_t stride = 1;
    for (int64_t d : in.row_shape) {
      shape.push_back(d < 0 ? padded : d);
      stride *= shape.back();
    }
    const nightshift::Tensor& tensor = batch.inputs[i];
    CHECK(tensor.dtype() == t, "input " + std::to_string(i));
    CHECK(tensor.shape() == shape, "input " + std::to_string(i) + ": " + tensor.DebugString());
    if (batch.num_rows == 0) continue;
    CHECK(tensor.data() != nullptr);
    const auto* out = static_cast<const uint8_t*>(tensor.data());
    uint8_t pad[8] = {}, zero[8] = {}, one[8] = {};
    Encode(t, in.pad_value, pad);
    Encode(t, 1, one);
    int64_t col = 0;
    for (size_t c = 0; c < in.columns.size(); ++c) {
      const bool variable = in.column_widths[c] < 0;
      const int64_t width = variable ? padded : in.column_widths[c];
      for (size_t r = 0; r < rows.size(); ++r) {
        duckdb_vector vec = duckdb_data_chunk_get_vector(rows[r].chunk, first_column[i] + c);
        const idx_t s = rows[r].row;
        const uint8_t* got =
            out + (static_cast<int64_t>(r) * stride + col) * static_cast<int64_t>(es);
        const std::string where = At(i, static_cast<int64_t>(r), c);
        if (!in.column_is_list[c]) {
          uint8_t v[8] = {};
          const bool b =
              !Valid(vec, s) || !NarrowScalar(t, vec, s, v) || (!in.allow_nan && !FiniteAt(t, v));
          bad[r] = bad[r] || b;
          CHECK(SameValue(t, got, b ? zero : v),
                where + ": got " + Hex(t, got) + " want " + Hex(t, b ? zero : v));
          continue;
        }
        const auto& e = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vec))[s];
        const bool valid = Valid(vec, s);
        const auto len = static_cast<int64_t>(e.length);
        if (!valid || (!variable && len != width)) {
          bad[r] = true;
          for (int64_t k = 0; k < width; ++k) {
            CHECK(SameValue(t, got + k * es, pad),
                  where + " bad list not padded at " + std::to_string(k) + ": got " +
                      Hex(t, got + k * es) + " want " + Hex(t, pad));
          }
          continue;
        }
        CHECK(len <= width, where);
        if (in.is_mask) {
          for (int64_t k = 0; k < width; ++k) {
            CHECK(SameValue(t, got + k * es, k < len ? one : zero),
                  where + " mask at " + std::to_string(k));
          }
          continue;
        }
        duckdb_vector child = duckdb_list_vector_get_child(vec);
        CHECK(e.offset + e.length <= duckdb_list_vector_get_size(vec),
              where + " list entry out of the child");
        const auto* cdata = static_cast<const uint8_t*>(duckdb_vector_get_data(child));
        for (int64_t k = 0; k < width; ++k) {
          if (k < len) {
            const idx_t ci = e.offset + static_cast<idx_t>(k);
            const uint8_t* v = cdata + ci * es;
            CHECK(SameValue(t, got + k * es, v), where + " element " + std::to_string(k));
            if (!Valid(child, ci) || (!in.allow_nan && !FiniteAt(t, v))) bad[r] = true;
          } else {
            CHECK(SameValue(t, got + k * es, pad), where + " padding at " + std::to_string(k) +
                                                       ": got " + Hex(t, got + k * es) + " want " +
                                                       Hex(t, pad));
          }
        }
      }
      col += width;
    }
    CHECK(col == stride, "input " + std::to_string(i) + ": columns give " + std::to_string(col) +
                             " of " + std::to_string(stride));
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    CHECK(batch.RowFailed(static_cast<int64_t>(r)) == bad[r],
          "row " + std::to_string(r) +
              " failed=" + std::to_string(batch.RowFailed(static_cast<int64_t>(r))) + " expected " +
              std::to_string(bad[r]) +
              (batch.RowFailed(static_cast<int64_t>(r)) ? ": " + batch.row_errors[r]
                                                        : std::string()));
  }
}

// Level (a): bytes -> a CSV/JSONL file -> OpenSource -> Read (row_packer_level_a.cc).
void LevelA(const uint8_t* data, size_t size);

}  // namespace ns_fuzz
