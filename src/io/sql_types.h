// The one mapping between tensor dtypes and SQL (DuckDB) types, used by the
// source (what feature columns are read and checked as) and the sinks (what
// output columns are written as).
#pragma once

#include <string>

#include "nightshift/tensor.h"

namespace nightshift::io {

// The SQL type holding values of `dtype`. float16 and bfloat16 have none in
// DuckDB: they are held as FLOAT, which represents each of their values.
std::string SqlTypeFor(DType dtype);

// The SQL type a feature column is read as. Scalars of a narrow dtype are
// read wide (float32 as DOUBLE, int32/int8/uint8 as BIGINT) and narrowed by
// ColumnPacker, which can then name a value out of the dtype's range (a dead
// letter) and tell it from an explicit inf; a cast to the narrow type would
// give NULL (Parquet DOUBLE, any integer) or inf (CSV text) for the same value.
std::string ReadType(DType dtype, bool is_list);

// True for the SQL type of bytes (BLOB: a Parquet binary column, a
// PostgreSQL bytea, pdf_pages' kept page), which only Parquet and the
// databases hold as bytes.
bool IsBytesType(const std::string& sql_type);

// True for SQL types whose values can feed a numeric model input.
bool IsNumericType(const std::string& sql_type);

// JSON has no NaN or infinity: `expr` (a float, or with `is_list` a list of
// floats) with those values null, as JavaScript's JSON.stringify writes
// them. For every output written as JSON (JSONL parts, SQLite list columns).
std::string FiniteOrNull(const std::string& expr, bool is_list);

// A user's query (input.query, DuckDB's or PostgreSQL's) as a parenthesised
// subquery: without its trailing blanks and semicolons, and with a newline
// before the `)`, so that a `-- comment` on its last line ends there.
std::string AsSubquery(std::string query);

}  // namespace nightshift::io
