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

}  // namespace

Result<std::string> RunSqlToCsv(const std::string& sql) {
  NS_ASSIGN_OR_RETURN(auto db, DuckDatabase::OpenInMemory(0));
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db));
  NS_ASSIGN_OR_RETURN(DuckResult r, conn->Query(sql));
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
