#include "io/sql_shell.h"

#include "io/duck.h"

namespace nightshift::io {
namespace {

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

bool IsNested(duckdb_type t) {
  return t == DUCKDB_TYPE_LIST || t == DUCKDB_TYPE_ARRAY || t == DUCKDB_TYPE_STRUCT ||
         t == DUCKDB_TYPE_MAP || t == DUCKDB_TYPE_UNION;
}

// True when `sql` is one SELECT-like statement with a nested column (list,
// array, struct, map, union). The C API reads no text from such a column, so
// it would print as empty.
bool SingleQueryWithNestedColumn(DuckConnection* conn, const std::string& sql) {
  duckdb_extracted_statements extracted = nullptr;
  const idx_t n = duckdb_extract_statements(conn->get(), sql.c_str(), &extracted);
  bool nested = false;
  duckdb_prepared_statement stmt = nullptr;
  if (n == 1 &&
      duckdb_prepare_extracted_statement(conn->get(), extracted, 0, &stmt) == DuckDBSuccess &&
      duckdb_prepared_statement_type(stmt) == DUCKDB_STATEMENT_TYPE_SELECT) {
    for (idx_t c = 0; c < duckdb_prepared_statement_column_count(stmt); ++c) {
      nested = nested || IsNested(duckdb_prepared_statement_column_type(stmt, c));
    }
  }
  duckdb_destroy_prepare(&stmt);
  duckdb_destroy_extracted(&extracted);
  return nested;
}

// The result of `sql`, a query whose nested columns are printed as DuckDB
// spells them as text, the way its CSV writer does ("[1, 2, 3]",
// "{'x': 1}"): every column cast to VARCHAR, which for the other types is
// the text the C API gives anyway. A script of several statements, or a
// query that does not take the wrapping, runs as it is.
Result<DuckResult> QueryAsText(DuckConnection* conn, const std::string& sql) {
  if (!SingleQueryWithNestedColumn(conn, sql)) return conn->Query(sql);
  // Line breaks around the query: a trailing -- comment ends at its line.
  auto wrapped = [&](const std::string& body) {
    return conn->Query("SELECT COLUMNS(*)::VARCHAR FROM (\n" + body + "\n)");
  };
  // First without its terminator, a last ';' followed by nothing or a --
  // comment; when that ';' was inside a string or comment, the rest is left
  // unterminated and fails, and the whole text is tried.
  const size_t semi = sql.rfind(';');
  if (semi != std::string::npos) {
    const size_t rest = sql.find_first_not_of(" \t\r\n", semi + 1);
    if (rest == std::string::npos || sql.compare(rest, 2, "--") == 0) {
      Result<DuckResult> text = wrapped(sql.substr(0, semi));
      if (text.has_value()) return text;
    }
  }
  Result<DuckResult> text = wrapped(sql);
  if (text.has_value()) return text;
  return conn->Query(sql);
}

}  // namespace

Result<std::string> RunSqlToCsv(const std::string& sql) {
  NS_ASSIGN_OR_RETURN(auto db, DuckDatabase::OpenInMemory(0));
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db));
  NS_ASSIGN_OR_RETURN(DuckResult r, QueryAsText(conn.get(), sql));
  std::string out;
  idx_t cols = r.column_count();
  for (idx_t c = 0; c < cols; ++c) out += (c ? "," : "") + CsvField(r.column_name(c));
  if (cols > 0) out += "\n";
  for (idx_t row = 0; row < r.row_count(); ++row) {
    for (idx_t c = 0; c < cols; ++c) {
      out += (c ? "," : "");
      if (!duckdb_value_is_null(r.raw(), c, row)) out += CsvField(r.Text(c, row));
    }
    out += "\n";
  }
  return out;
}

}  // namespace nightshift::io
