#include "io/postgres/pg_block.h"

#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <cstring>

namespace nightshift::io::pg {
namespace {

bool Native(const std::string& t) {
  return t == "BOOLEAN" || t == "SMALLINT" || t == "INTEGER" || t == "BIGINT" || t == "FLOAT" ||
         t == "DOUBLE";
}

// Columns whose binary format goes into the block as it is: the numbers
// above, and bytea (its binary format is its bytes) into a BLOB column.
bool AsIs(const PgColumnType& t) {
  return !t.array && !t.as_text && (Native(t.sql_type) || t.sql_type == "BLOB");
}

// A big-endian value of PostgreSQL's binary format, as T (same width).
template <typename T, typename U>
T BigEndian(const char* p) {
  U u;
  std::memcpy(&u, p, sizeof u);
  if constexpr (std::endian::native == std::endian::little) u = std::byteswap(u);
  return std::bit_cast<T>(u);
}

// Writes row `row` of column `c` of `r` at `at` of vector `v`, of type `t`.
void Put(PGresult* r, int row, int c, const std::string& t, duckdb_vector v, idx_t at) {
  const char* p = PQgetvalue(r, row, c);
  void* data = duckdb_vector_get_data(v);
  if (t == "BOOLEAN") {
    static_cast<bool*>(data)[at] = *p != 0;
  } else if (t == "SMALLINT") {
    static_cast<int16_t*>(data)[at] = BigEndian<int16_t, uint16_t>(p);
  } else if (t == "INTEGER") {
    static_cast<int32_t*>(data)[at] = BigEndian<int32_t, uint32_t>(p);
  } else if (t == "BIGINT") {
    static_cast<int64_t*>(data)[at] = BigEndian<int64_t, uint64_t>(p);
  } else if (t == "FLOAT") {
    static_cast<float*>(data)[at] = BigEndian<float, uint32_t>(p);
  } else if (t == "DOUBLE") {
    static_cast<double*>(data)[at] = BigEndian<double, uint64_t>(p);
  } else {  // text and bytea: their binary format is their bytes
    duckdb_vector_assign_string_element_len(v, at, p, static_cast<idx_t>(PQgetlength(r, row, c)));
  }
}

}  // namespace

std::string BlockType(const PgColumnType& t) {
  return AsIs(t) ? t.sql_type : "VARCHAR";
}

std::string BlockSelect(const std::string& expr, const PgColumnType& t) {
  // PostgreSQL writes arrays {1,2}; DuckDB reads lists as [1,2]. An array
  // of more dimensions is said so, in text no list type reads (a dead letter
  // naming it): DuckDB would read {{1,2},{3,4}} as [NULL, NULL].
  if (t.array) {
    return fmt::format(
        "CASE WHEN array_ndims({0}) > 1 THEN 'a ' || array_ndims({0}) || '-dimensional array' "
        "ELSE translate({0}::text, '{{}}', '[]') END",
        expr);
  }
  // A date BC: PostgreSQL writes "2000-01-01 BC", which DuckDB reads as the
  // year 2000 AD; "(BC)" is DuckDB's way. (A timestamp BC, which DuckDB's
  // cast does not read, is its row's dead letter.)
  if (t.sql_type == "DATE") return fmt::format("replace({}::text, ' BC', ' (BC)')", expr);
  return AsIs(t) ? expr : expr + "::text";
}

void FillBlock(const PgResult& block, const std::vector<PgColumnType>& types, ChunkTable* table) {
  PGresult* r = block.get();
  const int rows = PQntuples(r);
  std::vector<std::string> kinds;
  for (const PgColumnType& t : types) kinds.push_back(BlockType(t));
  for (int at = 0; at < rows;) {
    ChunkTable::Room room = table->Reserve(static_cast<idx_t>(rows - at));
    for (size_t c = 0; c < kinds.size(); ++c) {
      duckdb_vector v = duckdb_data_chunk_get_vector(room.chunk, static_cast<idx_t>(c));
      const int col = static_cast<int>(c);
      for (idx_t i = 0; i < room.count; ++i) {
        const int row = at + static_cast<int>(i);
        if (PQgetisnull(r, row, col)) {
          duckdb_vector_ensure_validity_writable(v);
          duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), room.offset + i);
        } else {
          Put(r, row, col, kinds[c], v, room.offset + i);
        }
      }
    }
    table->Commit(room.count);
    at += static_cast<int>(room.count);
  }
}

}  // namespace nightshift::io::pg
