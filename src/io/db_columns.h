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
  kBlob,  // bytes: SQLite BLOB, DuckDB BLOB, PostgreSQL bytea
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

// The columns that name a row of the table: input.key and, when a step makes
// several rows of one input row (pdf_pages' page_number, crop's box_index),
// that item column too, since the items share their input row's key.
std::vector<std::string> TableKey(const SinkLayout& layout);

// Checks an existing table's unique keys (`unique`: the columns of each
// primary key, unique constraint or unique index) against the output, for
// every database: mode upsert needs one on exactly TableKey(); and when input
// rows make several rows, a unique key on input.key's columns alone would
// refuse every item after an input row's first, in any mode. SchemaMismatch
// naming the table (`where`: "output.table 't'") and the missing column.
Status CheckTableKeys(const SinkLayout& layout, const std::vector<std::vector<std::string>>& unique,
                      const std::string& where);

// The DuckDB select list reading rows of ShardRows::RowsSql() as these kinds
// (lists as JSON text when `lists_as_json`, for SQLite).
std::string ScanSelect(const std::vector<DbColumn>& columns, bool lists_as_json = false);

// SQLite and DuckDB match column names without regard to (ASCII) case: the
// name of the output column that a table's column `name` is, or `name` when
// none is. PostgreSQL's quoted names are exact and do not use this.
std::string NameInOutput(const std::vector<DbColumn>& columns, const std::string& name);

// Whether a PostgreSQL column of type `pg_type` (format_type's text) can hold
// `c`'s values.
bool PgTypeFits(const DbColumn& c, const std::string& pg_type);

}  // namespace nightshift::io
