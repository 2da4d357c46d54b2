#include "io/sql_types.h"

#include <fmt/format.h>

#include <cctype>

namespace nightshift::io {

std::string SqlTypeFor(DType dtype) {
  switch (dtype) {
    case DType::kFloat64: return "DOUBLE";
    case DType::kInt64: return "BIGINT";
    case DType::kInt32: return "INTEGER";
    case DType::kInt8: return "TINYINT";
    case DType::kUInt8: return "UTINYINT";
    case DType::kBool: return "BOOLEAN";
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kBFloat16: return "FLOAT";
  }
  return "FLOAT";
}

std::string ReadType(DType dtype, bool is_list) {
  if (is_list) return SqlTypeFor(dtype) + "[]";
  switch (dtype) {
    case DType::kFloat32: return "DOUBLE";
    case DType::kInt32:
    case DType::kInt8:
    case DType::kUInt8: return "BIGINT";
    default: return SqlTypeFor(dtype);
  }
}

std::string FiniteOrNull(const std::string& expr, bool is_list) {
  if (is_list)
    return fmt::format("list_transform({}, x -> CASE WHEN isfinite(x) THEN x END)", expr);
  return fmt::format("CASE WHEN isfinite({0}) THEN {0} END", expr);
}

bool IsBytesType(const std::string& t) {
  return t == "BLOB";
}

bool IsNumericType(const std::string& t) {
  static const char* kNumeric[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",  "HUGEINT",
                                   "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
                                   "FLOAT",    "DOUBLE",    "BOOLEAN"};
  for (const char* n : kNumeric) {
    if (t == n) return true;
  }
  return t.rfind("DECIMAL", 0) == 0;
}

std::string AsSubquery(std::string query) {
  while (!query.empty() &&
         (query.back() == ';' || std::isspace(static_cast<unsigned char>(query.back())))) {
    query.pop_back();
  }
  return "(" + query + "\n)";
}

}  // namespace nightshift::io
