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

#include "row_packer_check.h"

namespace ns_fuzz {

// The shared globals (declared in row_packer_check.h).
std::string g_dir;
std::string g_findings;
bool g_skip_known = false;
bool g_verbose = false;
std::map<std::string, int> g_finding_counts;
const uint8_t* g_data = nullptr;
size_t g_size = 0;

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
    // The binder rejects a pad_value the dtype cannot hold (exit 2), so the
    // packer never sees one.
    if (!PadInRange(in.dtype, in.pad_value)) in.pad_value = 0;
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
      duckdb_logical_type child = duckdb_create_logical_type(
          DuckType(in.column_is_list[c] ? in.dtype : ScalarReadDType(in.dtype)));
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
        const DType t =
            inputs[i].column_is_list[c] ? inputs[i].dtype : ScalarReadDType(inputs[i].dtype);
        FillVector(p, t, inputs[i].column_is_list[c], inputs[i].column_widths[c],
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

}  // namespace ns_fuzz

using namespace ns_fuzz;  // NOLINT: the entry points below use the shared globals

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
