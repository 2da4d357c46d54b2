// The columns of a database output table, shared by the PostgreSQL, SQLite
// and DuckDB sinks: the kept columns (with their input types) then the output
// columns, each reduced to a few value kinds that every sink can write
// without a round trip per value. DuckDB casts a shard's rows to these kinds
// (ScanSelect); a kind's database type is the table's column type when the
// sink creates the table.
#pragma once

#include <string>
#include <vector>

#include "nightshift/sink.h"

namespace nightshift::io {

enum class DbKind {
  kInt64,
  kFloat32,
  kFloat64,
  kBool,
  kDate,
  kTimestamp,
  kTimestampTz,
  kText,  // VARCHAR, and any other type as its text (cast back by the database)
  kFloat32List,
  kFloat64List,
  kInt64List,
};

struct DbColumn {
  std::string name;
  std::string duck_type;  // the DuckDB type of the rows
  DbKind kind = DbKind::kText;
  bool as_text = false;  // a type with no kind of its own, written as its text
  bool is_key = false;
  std::string pg_type;  // PostgreSQL type when the sink creates the table
};

std::vector<DbColumn> DbColumns(const SinkLayout& layout);

// The DuckDB select list reading rows of ShardRows::RowsSql() as these kinds
// (lists as JSON text when `lists_as_json`, for SQLite).
std::string ScanSelect(const std::vector<DbColumn>& columns, bool lists_as_json = false);

// Whether a PostgreSQL column of type `pg_type` (format_type's text) can hold
// `c`'s values.
bool PgTypeFits(const DbColumn& c, const std::string& pg_type);

}  // namespace nightshift::io
