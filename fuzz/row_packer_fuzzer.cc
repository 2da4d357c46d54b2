// libFuzzer target: rows -> tensors, at two levels.
//
// Byte 0 bit 7 picks the level:
//   clear: level (a), the real read path. The bytes after a 6-byte header
//     become a CSV or JSONL file in a temp folder, read through OpenSource ->
//     Describe -> CountRows -> Read with a ReadLayout like the binder builds:
//     up to 3 numeric columns, plus the first numeric list column (fixed
//     width, or variable-length padded per batch, optionally with a mask
//     input), optional bucketing (sort_by_length, max_tokens), shards cut
//     from the file, optionally retry shards that select rows.
//       [0] flags: bit0 JSONL, bit1 carry the first column, bit2 cut shards,
//           bits3-4 the shard to skip (3: none), bit5 select rows (retry),
//           bit6 bucketing
//       [1] batch_rows - 1 (mod 64); bits 6-7 also place the 2nd shard cut
//       [2] bits0-2 dtype, bit3 allow_nan, bits4-5 list mode (fixed in the
//           scalars' input / fixed alone / variable / variable + mask),
//           bits6-7 the list input's dtype
//       [3] bits0-2 fallback list width - 1, bits3-7 the 1st shard cut
//       [4] bits0-3 pad_value (table), bits4-7 max_tokens / 3
//       [5] seed of the retry row selection
//   set: level (b), ColumnPacker::Pack on DuckDB data chunks built with the
//     C API from the rest of the input (scalar and LIST vectors of every
//     dtype the packer handles, random validity, random list lengths and
//     valid offsets, one or two chunks, contiguous or row-list slices).
//
// Both levels check every packed batch against a reference model that reads
// the source vectors back through the C API: tensor dtype and shape
// ([num_rows] + row_shape, -1 = max(1, longest list)), every element (value,
// 0 for a bad scalar, pad_value for padding and bad lists, 1/0 for masks) and
// which rows have errors (and none at or past num_rows). Level (a) also checks
// the batch stream: shards in order, seq from 0, one last_in_shard batch at
// the end of each shard, batches within batch_rows and max_tokens, every
// (selected) row of a shard delivered exactly once, ascending unless
// bucketing (then by non-decreasing length), and all rows when Read succeeds.
//
// Non-fatal findings: a Read that fails on a file that Describe and CountRows
// accepted is logged and, when NS_FUZZ_FINDINGS names a folder, the input is
// saved there (the fuzzer keeps going).
//
// NS_FUZZ_SKIP_KNOWN=1 steers around the bugs already reported (README.md),
// to fuzz past them: pad_value stays inside the input dtype's range, and
// retry shards end right after their last selected row (as retry_job.cc
// builds them) instead of anywhere in the range ShardTask allows.
#include <duckdb.h>
#include <fuzzer/FuzzedDataProvider.h>
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

namespace {

using nightshift::DType;
using nightshift::InputPacking;
using nightshift::RowBatch;
using nightshift::io::DuckCarriedRows;
using nightshift::io::DuckChunk;
using Slice = DuckCarriedRows::Slice;

std::string g_dir;       // per-process temp folder
std::string g_findings;  // NS_FUZZ_FINDINGS, or empty
bool g_skip_known = false;
bool g_verbose = false;  // NS_FUZZ_VERBOSE=1: print level (a)'s layout, shards and batches
std::map<std::string, int> g_finding_counts;
const uint8_t* g_data = nullptr;
size_t g_size = 0;

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "row_packer_fuzzer: property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

#define CHECK(cond, ...)                     \
  do {                                       \
    if (!(cond)) Fail(#cond, ##__VA_ARGS__); \
  } while (0)

void Finding(const std::string& kind, const std::string& message) {
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

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32,
                             DType::kInt8,    DType::kUInt8,   DType::kBool};

size_t Size(DType t) {
  switch (t) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat64:
    case DType::kInt64: return 8;
    default: return 1;
  }
}

bool IsFloat(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64;
}

// pad_value candidates; some are out of range for the integer dtypes.
constexpr double kPads[] = {0,
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
bool PadInRange(DType t, double v) {
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

double Pad(DType t, uint8_t selector) {
  double v = kPads[selector % std::size(kPads)];
  if (g_skip_known && !PadInRange(t, v)) v = 0;
  return v;
}

// `v` as dtype `t` into `out` (only called for in-range values: the packer
// would have hit UBSan first otherwise).
void Encode(DType t, double v, uint8_t* out) {
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

bool FiniteAt(DType t, const uint8_t* p) {
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

bool SameValue(DType t, const uint8_t* a, const uint8_t* b) {
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

std::string Hex(DType t, const uint8_t* p) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < Size(t); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

bool Valid(duckdb_vector vec, idx_t row) {
  uint64_t* v = duckdb_vector_get_validity(vec);
  return v == nullptr || duckdb_validity_row_is_valid(v, row);
}

int64_t ListLen(duckdb_data_chunk chunk, idx_t column, idx_t row) {
  duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, column);
  if (!Valid(vec, row)) return 0;
  return static_cast<int64_t>(
      static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vec))[row].length);
}

bool Variable(const InputPacking& in) {
  return in.column_widths.size() == 1 && in.column_widths[0] < 0;
}

std::string At(size_t i, int64_t r, size_t c) {
  return "input " + std::to_string(i) + " row " + std::to_string(r) + " column " +
         std::to_string(c);
}

// The reference model: checks `batch` as ColumnPacker::Pack(slices) must
// have filled it.
void CheckPacked(const std::vector<InputPacking>& inputs, const std::vector<idx_t>& first_column,
                 const std::vector<Slice>& slices, const RowBatch& batch) {
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
          const uint8_t* v = static_cast<const uint8_t*>(duckdb_vector_get_data(vec)) + s * es;
          const bool b = !Valid(vec, s) || (!in.allow_nan && !FiniteAt(t, v));
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

// ---------------------------------------------------------------- level (a)

uint64_t Next(uint64_t& x) {  // xorshift64
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

void LevelA(const uint8_t* data, size_t size) {
  if (size < 6) return;
  const uint8_t flags = data[0], b_rows = data[1], b_type = data[2], b_list = data[3],
                b_pad = data[4], b_sel = data[5];
  const bool jsonl = flags & 1;
  const std::string path = g_dir + (jsonl ? "/in.jsonl" : "/in.csv");
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data + 6), static_cast<std::streamsize>(size - 6));
  }
  nightshift::InputSpec spec;
  spec.path = path;
  spec.key = {"k"};
  auto source = nightshift::OpenSource(spec, 1);
  if (!source.has_value()) return;
  nightshift::Source& src = **source;
  CHECK(src.files().size() == 1);
  CHECK(!src.seekable());
  auto cols = src.Describe(0);
  if (!cols.has_value()) return;
  auto rows = src.CountRows(0);
  if (!rows.has_value()) return;
  CHECK(*rows >= 0);
  if (*rows == 0) return;  // the planner makes no shards for an empty file

  // The layout, as the binder builds it.
  const DType dtype = kDTypes[(b_type & 0x07) % std::size(kDTypes)];
  const bool allow_nan = b_type & 0x08;
  const int list_mode =
      (b_type >> 4) & 3;  // 0 fixed, same input; 1 fixed, alone; 2 variable; 3 variable + mask
  const DType list_dtype =
      list_mode == 0 ? dtype : kDTypes[(b_type >> 6) % 4];        // float/double/int64/int32
  const DType mask_dtype = kDTypes[2 + ((b_type >> 6) & 1) * 4];  // int64 or bool
  std::vector<std::string> scalars;
  const nightshift::InputColumn* list = nullptr;
  for (const auto& c : *cols) {
    if (c.numeric && scalars.size() < 3) scalars.push_back(c.name);
    if (c.numeric_list && list == nullptr) list = &c;
  }
  if (scalars.empty() && list == nullptr) return;
  int64_t list_width = 0;
  if (list != nullptr) {
    // An ARRAY type gives its length ("DOUBLE[3]"); otherwise the model's.
    const std::string& t = list->sql_type;
    size_t open = t.rfind('[');
    if (open != std::string::npos && t.size() > open + 2) {
      list_width = std::atoll(t.substr(open + 1, t.size() - open - 2).c_str());
    }
    if (list_width <= 0 || list_width > 64) list_width = 1 + (b_list & 0x07);
  }
  nightshift::ReadLayout layout;
  layout.batch_rows = 1 + b_rows % 64;
  auto add_input = [&](DType t) -> InputPacking& {
    InputPacking& in = layout.inputs.emplace_back();
    in.dtype = t;
    in.allow_nan = allow_nan;
    in.pad_value = Pad(t, b_pad & 0x0f);
    return in;
  };
  auto add_column = [](InputPacking& in, const std::string& name, bool is_list, int64_t width) {
    in.columns.push_back(name);
    in.column_is_list.push_back(is_list);
    in.column_widths.push_back(width);
  };
  if (!scalars.empty()) {
    InputPacking& in = add_input(dtype);
    for (const auto& s : scalars) add_column(in, s, false, 1);
    if (list != nullptr && list_mode == 0) add_column(in, list->name, true, list_width);
  }
  if (list != nullptr && (list_mode != 0 || scalars.empty())) {
    InputPacking& in = add_input(list_dtype);
    add_column(in, list->name, true, list_mode >= 2 ? -1 : list_width);
    if (list_mode == 3) {
      InputPacking& mask = add_input(mask_dtype);
      add_column(mask, list->name, true, -1);
      mask.is_mask = true;
    }
  }
  for (auto& in : layout.inputs) {
    if (Variable(in)) {
      in.row_shape = {-1};
      continue;
    }
    int64_t w = 0;
    for (int64_t x : in.column_widths) w += x;
    in.row_shape = {w};
  }
  if (flags & 2) layout.carried.push_back((*cols)[0].name);
  const bool bucketing = (flags & 0x40) && list != nullptr;
  if (bucketing) {
    layout.sort_by_length = list->name;
    layout.max_tokens = 3 * (b_pad >> 4);
  }
  // The select-list index of each input's first column, and the sort column.
  std::vector<idx_t> first_column;
  idx_t ncol = 0, sort_column = 0;
  for (const auto& in : layout.inputs) {
    first_column.push_back(ncol);
    for (const auto& c : in.columns) {
      if (bucketing && c == layout.sort_by_length && !in.is_mask) sort_column = ncol;
      ++ncol;
    }
  }
  if (bucketing) {  // the reader takes the last input column with that name
    idx_t k = 0;
    for (const auto& in : layout.inputs) {
      for (const auto& c : in.columns) {
        if (c == layout.sort_by_length) sort_column = k;
        ++k;
      }
    }
  }

  // Shards: the whole file, or cut in up to 3 with one skipped; with bit 5
  // each selects some of its rows, as a retry does.
  std::vector<nightshift::ShardTask> shards;
  auto add_shard = [&](int64_t id, int64_t begin, int64_t end) {
    nightshift::ShardTask s;
    s.shard_id = id;
    s.shard_index = static_cast<int64_t>(shards.size());
    s.row_begin = begin;
    s.row_end = end;
    s.epoch = 1;
    if (flags & 0x20) {
      uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t{b_sel} << 8 | static_cast<uint64_t>(id));
      for (int64_t r = begin; r < end; ++r) {
        if (Next(x) & 1) s.rows.push_back(r);
      }
      if (s.rows.empty())
        s.rows.push_back(begin +
                         static_cast<int64_t>(Next(x) % static_cast<uint64_t>(end - begin)));
      if (g_skip_known) {
        s.row_begin = s.rows.front();
        s.row_end = s.rows.back() + 1;
      }
      s.retry_seq = 1;
    }
    shards.push_back(std::move(s));
  };
  if (!(flags & 4) || *rows < 3) {
    add_shard(0, 0, *rows);
  } else {
    int64_t a = 1 + (b_list >> 3) % (*rows - 1);
    int64_t b = a + (b_rows >> 6) % (*rows - a);
    std::vector<std::pair<int64_t, int64_t>> cuts = {{0, a}, {a, b}, {b, *rows}};
    int skip = (flags >> 3) & 3;  // 3: skip none
    for (int i = 0; i < 3; ++i) {
      if (i == skip || cuts[i].first == cuts[i].second) continue;
      add_shard(i, cuts[i].first, cuts[i].second);
    }
  }
  if (shards.empty()) return;
  if (g_verbose) {
    std::fprintf(stderr, "rows=%lld batch_rows=%lld sort_by_length='%s' max_tokens=%lld\n",
                 static_cast<long long>(*rows), static_cast<long long>(layout.batch_rows),
                 layout.sort_by_length.c_str(), static_cast<long long>(layout.max_tokens));
    for (const auto& in : layout.inputs) {
      std::string c;
      for (size_t k = 0; k < in.columns.size(); ++k) {
        c += " " + in.columns[k] +
             (in.column_is_list[k] ? "[" + std::to_string(in.column_widths[k]) + "]" : "");
      }
      std::fprintf(stderr, "input %s%s pad=%g:%s\n",
                   std::string(nightshift::DTypeName(in.dtype)).c_str(), in.is_mask ? " mask" : "",
                   in.pad_value, c.c_str());
    }
    for (const auto& s : shards) {
      std::string r;
      for (int64_t x : s.rows) r += " " + std::to_string(x);
      std::fprintf(stderr, "shard %lld [%lld, %lld) rows:%s\n", static_cast<long long>(s.shard_id),
                   static_cast<long long>(s.row_begin), static_cast<long long>(s.row_end),
                   r.c_str());
    }
  }

  std::vector<std::unique_ptr<RowBatch>> pool;
  size_t si = 0;
  int64_t next_seq = 0, delivered = 0, expected_total = 0;
  std::vector<int64_t> got_rows;  // row numbers delivered for shard si
  int64_t last_len = -1;          // bucketing: length of the previous row
  for (const auto& s : shards)
    expected_total +=
        s.rows.empty() ? s.row_end - s.row_begin : static_cast<int64_t>(s.rows.size());
  auto next_batch = [&]() -> std::unique_ptr<RowBatch> {
    if (pool.empty()) return std::make_unique<RowBatch>();
    auto b = std::move(pool.back());
    pool.pop_back();
    return b;
  };
  auto emit = [&](std::unique_ptr<RowBatch> b) -> bool {
    if (g_verbose) {
      std::string r;
      for (int64_t i = 0; i < b->num_rows; ++i) r += " " + std::to_string(b->RowNumber(i));
      std::fprintf(stderr, "batch shard=%lld seq=%lld last=%d rows:%s\n",
                   static_cast<long long>(b->shard_id), static_cast<long long>(b->seq),
                   b->last_in_shard ? 1 : 0, r.c_str());
    }
    CHECK(si < shards.size(), "batch after the last shard");
    const auto& s = shards[si];
    CHECK(b->shard_id == s.shard_id && b->shard_index == s.shard_index && b->epoch == s.epoch,
          "batch of shard " + std::to_string(b->shard_id) + " while shard " +
              std::to_string(s.shard_id) + " is open");
    CHECK(b->seq == next_seq, std::to_string(b->seq) + " vs " + std::to_string(next_seq));
    CHECK(b->num_rows > 0 && b->num_rows <= layout.batch_rows, std::to_string(b->num_rows));
    CHECK(b->outputs.empty());
    CHECK(b->row_numbers.empty() || static_cast<int64_t>(b->row_numbers.size()) == b->num_rows);
    CHECK(b->row_numbers.empty() || b->first_row == b->row_numbers[0]);
    auto* carried = dynamic_cast<DuckCarriedRows*>(b->carried.get());
    CHECK(carried != nullptr);
    CHECK(carried->column_count() == layout.carried.size());
    for (size_t c = 0; c < layout.carried.size(); ++c) CHECK(carried->column(c) == ncol + c);
    CheckPacked(layout.inputs, first_column, carried->slices(), *b);
    // Row numbers, lengths and the token cap.
    int64_t longest = 1, r = 0;
    for (const auto& sl : carried->slices()) {
      for (idx_t i = 0; i < sl.count; ++i, ++r) {
        const int64_t row = b->RowNumber(r);
        CHECK(row >= s.row_begin && row < s.row_end,
              "row " + std::to_string(row) + " outside its shard");
        got_rows.push_back(row);
        if (bucketing) {
          const int64_t len = ListLen(sl.chunk->get(), sort_column, sl.row(i));
          CHECK(len >= last_len,
                "bucketing order: " + std::to_string(len) + " after " + std::to_string(last_len));
          last_len = len;
          longest = std::max(longest, len);
        }
      }
    }
    if (bucketing && layout.max_tokens > 0 && b->num_rows > 1) {
      CHECK(b->num_rows * longest <= layout.max_tokens,
            std::to_string(b->num_rows) + " rows x " + std::to_string(longest) + " > max_tokens");
    }
    delivered += b->num_rows;
    ++next_seq;
    if (b->last_in_shard) {
      std::vector<int64_t> want;
      if (s.rows.empty()) {
        for (int64_t x = s.row_begin; x < s.row_end; ++x) want.push_back(x);
      } else {
        want = s.rows;
      }
      std::vector<int64_t> got = got_rows;
      if (bucketing) std::sort(got.begin(), got.end());
      CHECK(got == want, "shard " + std::to_string(s.shard_id) + ": delivered " +
                             std::to_string(got.size()) + " rows (" +
                             (bucketing ? "sorted" : "in order") + "), expected " +
                             std::to_string(want.size()));
      ++si;
      next_seq = 0;
      got_rows.clear();
      last_len = -1;
    }
    b->carried.reset();
    pool.push_back(std::move(b));
    return true;
  };
  nightshift::Status st = src.Read(layout, shards, next_batch, emit);
  if (st.ok()) {
    CHECK(si == shards.size() && got_rows.empty(),
          "Read succeeded but " + std::to_string(shards.size() - si) +
              " shard(s) got no last_in_shard batch (" + std::to_string(got_rows.size()) +
              " rows pending; delivered " + std::to_string(delivered) + " of " +
              std::to_string(expected_total) + ")");
    CHECK(delivered == expected_total);
  } else {
    // One kind per DuckDB error class ("Binder Error: COLUMN_TYPES", ...).
    const std::string& m = st.message();
    std::string kind = "rowcount";
    if (m.find("the input changed since the run was planned") == std::string::npos) {
      size_t at = m.find("': ");
      std::string head = m.substr(at == std::string::npos ? 0 : at + 3, 40);
      kind.clear();
      for (char ch : head) {
        if (std::isalnum(static_cast<unsigned char>(ch))) {
          kind += ch;
        } else if (!kind.empty() && kind.back() != '_') {
          kind += '_';
        }
      }
    }
    Finding(kind, st.ToString());
  }
}

// ---------------------------------------------------------------- level (b)

duckdb_type DuckType(DType t) {
  switch (t) {
    case DType::kFloat32: return DUCKDB_TYPE_FLOAT;
    case DType::kFloat64: return DUCKDB_TYPE_DOUBLE;
    case DType::kInt64: return DUCKDB_TYPE_BIGINT;
    case DType::kInt32: return DUCKDB_TYPE_INTEGER;
    case DType::kInt8: return DUCKDB_TYPE_TINYINT;
    case DType::kUInt8: return DUCKDB_TYPE_UTINYINT;
    case DType::kBool: return DUCKDB_TYPE_BOOLEAN;
    default: return DUCKDB_TYPE_INVALID;
  }
}

// One value of type `t` into `dst`: fuzzer bytes, or a special float.
void FillValue(FuzzedDataProvider& p, DType t, uint8_t* dst) {
  if (t == DType::kBool) {
    *dst = p.ConsumeBool() ? 1 : 0;  // DuckDB bools are 0/1
    return;
  }
  if (IsFloat(t)) {
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               0.0,
                               -0.0,
                               1.5};
    uint8_t pick = p.ConsumeIntegral<uint8_t>();
    if (pick < 2 * std::size(specials)) {
      Encode(t, specials[pick % std::size(specials)], dst);
      return;
    }
  }
  std::vector<uint8_t> bytes = p.ConsumeBytes<uint8_t>(Size(t));
  bytes.resize(Size(t), 0x5a);
  std::memcpy(dst, bytes.data(), Size(t));
}

// Fills rows [0, n) of `vec` (scalar of `t`, or LIST(t) when `is_list`).
void FillVector(FuzzedDataProvider& p, DType t, bool is_list, int64_t width, duckdb_vector vec,
                idx_t n) {
  const size_t es = Size(t);
  if (p.ConsumeBool()) {
    duckdb_vector_ensure_validity_writable(vec);
    uint64_t* validity = duckdb_vector_get_validity(vec);
    for (idx_t r = 0; r < n; ++r) {
      if (p.ConsumeIntegral<uint8_t>() < 40) duckdb_validity_set_row_invalid(validity, r);
    }
  }
  if (!is_list) {
    auto* dst = static_cast<uint8_t*>(duckdb_vector_get_data(vec));
    for (idx_t r = 0; r < n; ++r) FillValue(p, t, dst + r * es);
    return;
  }
  // Lengths (mostly the width when it is fixed), then offsets into a child
  // vector: back to back, or anywhere in a shorter child (shared/overlapping).
  std::vector<uint64_t> length(n), offset(n);
  const uint64_t typical = width > 0 ? static_cast<uint64_t>(width) : 3;
  for (idx_t r = 0; r < n; ++r) {
    length[r] =
        p.ConsumeIntegral<uint8_t>() < 180 ? typical : p.ConsumeIntegralInRange<uint64_t>(0, 9);
  }
  const bool shared = p.ConsumeBool();
  uint64_t child_size = 0;
  for (idx_t r = 0; r < n; ++r) child_size += length[r];
  if (shared) child_size = std::max<uint64_t>(child_size / 2, 10);
  uint64_t pos = 0;
  for (idx_t r = 0; r < n; ++r) {
    if (shared) {
      length[r] = std::min(length[r], child_size);
      offset[r] = p.ConsumeIntegralInRange<uint64_t>(0, child_size - length[r]);
    } else {
      offset[r] = pos;
      pos += length[r];
    }
  }
  CHECK(duckdb_list_vector_reserve(vec, child_size) == DuckDBSuccess);
  CHECK(duckdb_list_vector_set_size(vec, child_size) == DuckDBSuccess);
  auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(vec));
  for (idx_t r = 0; r < n; ++r) entries[r] = duckdb_list_entry{offset[r], length[r]};
  duckdb_vector child = duckdb_list_vector_get_child(vec);
  auto* cdst = static_cast<uint8_t*>(duckdb_vector_get_data(child));
  const bool child_nulls = p.ConsumeBool();
  if (child_nulls) duckdb_vector_ensure_validity_writable(child);
  uint64_t* cval = child_nulls ? duckdb_vector_get_validity(child) : nullptr;
  for (uint64_t k = 0; k < child_size; ++k) {
    FillValue(p, t, cdst + k * es);
    if (cval != nullptr && p.ConsumeIntegral<uint8_t>() < 24)
      duckdb_validity_set_row_invalid(cval, k);
  }
}

void LevelB(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  // The layout: each input is fixed (scalar and fixed-width list columns) or
  // one variable-length list column (padded), possibly a mask.
  std::vector<InputPacking> inputs(p.ConsumeIntegralInRange<size_t>(1, 3));
  std::vector<duckdb_logical_type> types;
  std::vector<idx_t> first_column;
  for (auto& in : inputs) {
    in.dtype = kDTypes[p.ConsumeIntegralInRange<size_t>(0, std::size(kDTypes) - 1)];
    in.allow_nan = p.ConsumeBool();
    in.pad_value = Pad(in.dtype, p.ConsumeIntegral<uint8_t>());
    first_column.push_back(types.size());
    const int kind = p.ConsumeIntegralInRange<int>(0, 3);  // 0-1 fixed, 2 variable, 3 mask
    if (kind >= 2) {
      in.columns = {"v"};
      in.column_is_list = {true};
      in.column_widths = {-1};
      in.row_shape = {-1};
      in.is_mask = kind == 3;
    } else {
      const size_t ncols = p.ConsumeIntegralInRange<size_t>(1, 3);
      int64_t total = 0;
      for (size_t c = 0; c < ncols; ++c) {
        const bool is_list = p.ConsumeBool();
        const int64_t width = is_list ? p.ConsumeIntegralInRange<int64_t>(1, 6) : 1;
        in.columns.push_back("c" + std::to_string(c));
        in.column_is_list.push_back(is_list);
        in.column_widths.push_back(width);
        total += width;
      }
      // [rows, total], or [rows, 1, total] now and then.
      in.row_shape = p.ConsumeBool() ? std::vector<int64_t>{total} : std::vector<int64_t>{1, total};
    }
    for (size_t c = 0; c < in.columns.size(); ++c) {
      duckdb_logical_type child = duckdb_create_logical_type(DuckType(in.dtype));
      if (in.column_is_list[c]) {
        types.push_back(duckdb_create_list_type(child));
        duckdb_destroy_logical_type(&child);
      } else {
        types.push_back(child);
      }
    }
  }

  // One or two chunks of the same columns.
  std::vector<std::shared_ptr<DuckChunk>> chunks;
  const size_t nchunks = p.ConsumeIntegralInRange<size_t>(1, 2);
  for (size_t k = 0; k < nchunks; ++k) {
    const idx_t n = p.ConsumeIntegralInRange<idx_t>(0, std::min<idx_t>(duckdb_vector_size(), 200));
    auto chunk = std::make_shared<DuckChunk>(duckdb_create_data_chunk(types.data(), types.size()));
    CHECK(*chunk);
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (size_t c = 0; c < inputs[i].columns.size(); ++c) {
        FillVector(p, inputs[i].dtype, inputs[i].column_is_list[c], inputs[i].column_widths[c],
                   chunk->column(first_column[i] + c), n);
      }
    }
    duckdb_data_chunk_set_size(chunk->get(), n);
    chunks.push_back(std::move(chunk));
  }
  for (auto& t : types) duckdb_destroy_logical_type(&t);

  nightshift::io::ColumnPacker packer(inputs, first_column);
  RowBatch batch;
  // Up to three packs into the same batch (tensor reuse across sizes).
  const int packs = p.ConsumeIntegralInRange<int>(1, 3);
  for (int pass = 0; pass < packs; ++pass) {
    DuckCarriedRows carried({});
    int64_t total = 0;
    const int nslices = p.ConsumeIntegralInRange<int>(0, 4);
    for (int k = 0; k < nslices; ++k) {
      const auto& chunk = chunks[p.ConsumeIntegralInRange<size_t>(0, chunks.size() - 1)];
      const idx_t n = chunk->size();
      if (n == 0) continue;
      if (p.ConsumeBool()) {  // a contiguous run
        idx_t off = p.ConsumeIntegralInRange<idx_t>(0, n - 1);
        idx_t count = p.ConsumeIntegralInRange<idx_t>(0, n - off);
        carried.Add(chunk, off, count);
        total += static_cast<int64_t>(count);
      } else {  // single rows in any order, as bucketing stages them
        const int m = p.ConsumeIntegralInRange<int>(1, 40);
        for (int j = 0; j < m; ++j)
          carried.AddRow(chunk, p.ConsumeIntegralInRange<idx_t>(0, n - 1));
        total += m;
      }
    }
    batch.num_rows = total;
    batch.row_errors.clear();
    packer.Pack(carried.slices(), &batch);
    CheckPacked(inputs, first_column, carried.slices(), batch);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/ns_row_packer_fuzz.XXXXXX";
  const char* d = mkdtemp(tmpl);
  if (d == nullptr) std::abort();
  g_dir = d;
  if (const char* f = std::getenv("NS_FUZZ_FINDINGS")) g_findings = f;
  const char* skip = std::getenv("NS_FUZZ_SKIP_KNOWN");
  g_skip_known = skip != nullptr && std::string(skip) == "1";
  g_verbose = std::getenv("NS_FUZZ_VERBOSE") != nullptr;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  g_data = data;
  g_size = size;
  if (data[0] & 0x80) {
    LevelB(data + 1, size - 1);
  } else {
    LevelA(data, size);
  }
  return 0;
}
