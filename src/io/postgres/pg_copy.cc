#include "io/postgres/pg_copy.h"

#include <endian.h>

#include <cstring>

namespace nightshift::io::pg {
namespace {

// PostgreSQL counts dates and timestamps from 2000-01-01, DuckDB from 1970.
constexpr int32_t kPgEpochDays = 10957;
constexpr int64_t kPgEpochMicros = int64_t{kPgEpochDays} * 86400 * 1000000;
// Element type oids of the arrays (pg_type.h).
constexpr uint32_t kFloat4Oid = 700, kFloat8Oid = 701, kInt8Oid = 20;

void Put16(std::string* o, int16_t v) {
  uint16_t b = htobe16(static_cast<uint16_t>(v));
  o->append(reinterpret_cast<const char*>(&b), 2);
}
void Put32(std::string* o, uint32_t v) {
  uint32_t b = htobe32(v);
  o->append(reinterpret_cast<const char*>(&b), 4);
}
void Put64(std::string* o, uint64_t v) {
  uint64_t b = htobe64(v);
  o->append(reinterpret_cast<const char*>(&b), 8);
}
template <typename T>
uint64_t Bits(T v) {
  if constexpr (sizeof(T) == 4) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
  } else {
    uint64_t b;
    std::memcpy(&b, &v, 8);
    return b;
  }
}

// One column of a chunk: its data and validity.
struct Col {
  duckdb_vector vec;
  void* data;
  uint64_t* validity;
  bool Valid(idx_t r) const {
    return validity == nullptr || duckdb_validity_row_is_valid(validity, r);
  }
};

// A one-dimensional array: ndim, has-nulls, element oid, length, lower bound,
// then each element (length -1 for NULL).
template <typename T>
void PutArray(std::string* o, const Col& c, idx_t r, uint32_t oid) {
  const auto& e = static_cast<duckdb_list_entry*>(c.data)[r];
  duckdb_vector child = duckdb_list_vector_get_child(c.vec);
  const T* v = static_cast<const T*>(duckdb_vector_get_data(child));
  uint64_t* valid = duckdb_vector_get_validity(child);
  const size_t at = o->size();
  Put32(o, 0);  // length, set below
  Put32(o, 1);
  Put32(o, valid != nullptr ? 1 : 0);
  Put32(o, oid);
  Put32(o, static_cast<uint32_t>(e.length));
  Put32(o, 1);
  for (idx_t i = e.offset; i < e.offset + e.length; ++i) {
    if (valid != nullptr && !duckdb_validity_row_is_valid(valid, i)) {
      Put32(o, static_cast<uint32_t>(-1));
      continue;
    }
    Put32(o, sizeof(T));
    if constexpr (sizeof(T) == 4) {
      Put32(o, static_cast<uint32_t>(Bits(v[i])));
    } else {
      Put64(o, Bits(v[i]));
    }
  }
  uint32_t len = htobe32(static_cast<uint32_t>(o->size() - at - 4));
  std::memcpy(o->data() + at, &len, 4);
}

void PutValue(std::string* o, const Col& c, DbKind kind, idx_t r) {
  if (!c.Valid(r)) {
    Put32(o, static_cast<uint32_t>(-1));
    return;
  }
  switch (kind) {
    case DbKind::kInt64:
      Put32(o, 8);
      Put64(o, static_cast<uint64_t>(static_cast<int64_t*>(c.data)[r]));
      break;
    case DbKind::kFloat32:
      Put32(o, 4);
      Put32(o, static_cast<uint32_t>(Bits(static_cast<float*>(c.data)[r])));
      break;
    case DbKind::kFloat64:
      Put32(o, 8);
      Put64(o, Bits(static_cast<double*>(c.data)[r]));
      break;
    case DbKind::kBool:
      Put32(o, 1);
      o->push_back(static_cast<bool*>(c.data)[r] ? 1 : 0);
      break;
    case DbKind::kDate:
      Put32(o, 4);
      Put32(o, static_cast<uint32_t>(static_cast<duckdb_date*>(c.data)[r].days - kPgEpochDays));
      break;
    case DbKind::kTimestamp:
    case DbKind::kTimestampTz:
      Put32(o, 8);
      Put64(o, static_cast<uint64_t>(static_cast<duckdb_timestamp*>(c.data)[r].micros -
                                     kPgEpochMicros));
      break;
    case DbKind::kText:
    case DbKind::kBlob: {  // text's and bytea's binary form: the bytes
      auto* s = &static_cast<duckdb_string_t*>(c.data)[r];
      const uint32_t n = duckdb_string_t_length(*s);
      Put32(o, n);
      o->append(duckdb_string_t_data(s), n);
      break;
    }
    case DbKind::kFloat32List: PutArray<float>(o, c, r, kFloat4Oid); break;
    case DbKind::kFloat64List: PutArray<double>(o, c, r, kFloat8Oid); break;
    case DbKind::kInt64List: PutArray<int64_t>(o, c, r, kInt8Oid); break;
  }
}

}  // namespace

std::string StageType(DbKind kind) {
  switch (kind) {
    case DbKind::kInt64: return "int8";
    case DbKind::kFloat32: return "float4";
    case DbKind::kFloat64: return "float8";
    case DbKind::kBool: return "bool";
    case DbKind::kDate: return "date";
    case DbKind::kTimestamp: return "timestamp";
    case DbKind::kTimestampTz: return "timestamptz";
    case DbKind::kText: return "text";
    case DbKind::kBlob: return "bytea";
    case DbKind::kFloat32List: return "float4[]";
    case DbKind::kFloat64List: return "float8[]";
    case DbKind::kInt64List: return "int8[]";
  }
  return "text";
}

Status EncodeCopyBinary(DuckConnection* conn, const std::string& select_sql,
                        const std::vector<DbColumn>& columns,
                        const std::function<Status(std::string_view)>& put) {
  constexpr size_t kPiece = size_t{1} << 20;
  std::string buf;
  buf.reserve(kPiece + (size_t{64} << 10));
  static constexpr char kHeader[] = "PGCOPY\n\377\r\n";  // + its NUL: 11 bytes
  buf.append(kHeader, 11);
  Put32(&buf, 0);  // flags
  Put32(&buf, 0);  // header extension length
  NS_ASSIGN_OR_RETURN(DuckResult result, conn->Stream(select_sql, "reading a shard's rows"));
  std::vector<Col> cols(columns.size());
  for (;;) {
    NS_ASSIGN_OR_RETURN(DuckChunk chunk, result.Next());
    if (!chunk || chunk.size() == 0) break;
    for (size_t c = 0; c < cols.size(); ++c) {
      duckdb_vector v = chunk.column(c);
      cols[c] = Col{v, duckdb_vector_get_data(v), duckdb_vector_get_validity(v)};
    }
    const idx_t n = chunk.size();
    for (idx_t r = 0; r < n; ++r) {
      Put16(&buf, static_cast<int16_t>(cols.size()));
      for (size_t c = 0; c < cols.size(); ++c) PutValue(&buf, cols[c], columns[c].kind, r);
    }
    if (buf.size() >= kPiece) {
      NS_RETURN_IF_ERROR(put(buf));
      buf.clear();
    }
  }
  Put16(&buf, -1);
  return put(buf);
}

}  // namespace nightshift::io::pg
