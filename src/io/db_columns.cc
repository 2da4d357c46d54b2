#include "io/db_columns.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "io/duck.h"
#include "io/shard_rows.h"
#include "io/sql_types.h"

namespace nightshift::io {
namespace {

struct KindOf {
  DbKind kind;
  const char* pg;
};

// The kind and PostgreSQL type of a DuckDB type; kText/as_text for the rest.
std::optional<KindOf> ScalarKind(const std::string& t) {
  if (t == "BIGINT" || t == "UINTEGER") return KindOf{DbKind::kInt64, "bigint"};
  if (t == "INTEGER" || t == "USMALLINT") return KindOf{DbKind::kInt64, "integer"};
  if (t == "SMALLINT" || t == "TINYINT" || t == "UTINYINT")
    return KindOf{DbKind::kInt64, "smallint"};
  if (t == "FLOAT") return KindOf{DbKind::kFloat32, "real"};
  if (t == "DOUBLE") return KindOf{DbKind::kFloat64, "double precision"};
  if (t == "BOOLEAN") return KindOf{DbKind::kBool, "boolean"};
  if (t == "DATE") return KindOf{DbKind::kDate, "date"};
  if (t == "TIMESTAMP") return KindOf{DbKind::kTimestamp, "timestamp"};
  if (t == "TIMESTAMP WITH TIME ZONE") return KindOf{DbKind::kTimestampTz, "timestamptz"};
  if (t == "VARCHAR") return KindOf{DbKind::kText, "text"};
  if (IsBytesType(t)) return KindOf{DbKind::kBlob, "bytea"};
  if (t == "FLOAT[]") return KindOf{DbKind::kFloat32List, "real[]"};
  if (t == "DOUBLE[]") return KindOf{DbKind::kFloat64List, "double precision[]"};
  if (t == "BIGINT[]" || t == "INTEGER[]") return KindOf{DbKind::kInt64List, "bigint[]"};
  return std::nullopt;
}

// PostgreSQL's type for a DuckDB type written as text.
std::string TextPgType(const std::string& t) {
  if (t.starts_with("DECIMAL")) return "numeric" + t.substr(7);
  if (t == "HUGEINT" || t == "UHUGEINT" || t == "UBIGINT") return "numeric";
  if (t == "UUID") return "uuid";
  if (t == "TIME") return "time";
  if (t == "INTERVAL") return "interval";
  return "text";
}

// A VARCHAR[] column as PostgreSQL's array text: {"a","b \"c\""}, each
// element quoted with its backslashes and quotes escaped.
std::string TextArraySql(const std::string& q) {
  return fmt::format(
      R"('{{' || array_to_string(list_transform({}, x -> '"' || replace(replace(x, '\', '\\'), '"', '\"') || '"'), ',') || '}}')",
      q);
}

}  // namespace

std::vector<DbColumn> DbColumns(const SinkLayout& layout) {
  std::vector<DbColumn> cols;
  for (size_t i = 0; i < layout.keep_count; ++i) {
    DbColumn c;
    c.name = layout.carried[i];
    c.duck_type = layout.carried_types[i];
    c.is_key = std::find(layout.key.begin(), layout.key.end(), c.name) != layout.key.end();
    if (auto k = ScalarKind(c.duck_type)) {
      c.kind = k->kind;
      c.pg_type = k->pg;
    } else {
      c.as_text = true;
      c.pg_type = TextPgType(c.duck_type);
    }
    cols.push_back(std::move(c));
  }
  for (const auto& o : layout.outputs) {
    DbColumn c;
    c.name = o.name;
    c.duck_type = OutputSqlType(o);
    c.is_key = o.item_number;
    auto k = ScalarKind(c.duck_type);
    if (o.labels) {  // text ids: PostgreSQL reads its array text (TextArraySql), SQLite JSON
      c.kind = DbKind::kText;
      c.as_text = true;
      c.pg_type = "text[]";
    } else if (k) {
      c.kind = k->kind;
      c.pg_type = k->pg;
    } else {  // TINYINT[] and the like: their integers
      c.kind = o.is_list ? DbKind::kInt64List : DbKind::kInt64;
      c.pg_type = o.is_list ? "bigint[]" : "bigint";
    }
    cols.push_back(std::move(c));
  }
  return cols;
}

std::vector<std::string> TableKey(const SinkLayout& layout) {
  std::vector<std::string> key = layout.key;
  for (const auto& o : layout.outputs) {
    if (o.item_number) key.push_back(o.name);
  }
  return key;
}

namespace {

std::string Joined(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return fmt::format("{}", fmt::join(names, ","));
}

// True when every column of `cols` is one of `of`.
bool Within(const std::vector<std::string>& cols, const std::vector<std::string>& of) {
  return std::all_of(cols.begin(), cols.end(), [&](const std::string& c) {
    return std::find(of.begin(), of.end(), c) != of.end();
  });
}

}  // namespace

Status CheckTableKeys(const SinkLayout& layout, const std::vector<std::vector<std::string>>& unique,
                      const std::string& where) {
  const std::vector<std::string> want = TableKey(layout);
  const size_t items = want.size() - layout.key.size();
  const std::string item = items > 0 ? want.back() : "";
  for (const auto& cols : unique) {
    if (items == 0 || cols.empty() || !Within(cols, layout.key)) continue;
    return Status(Code::kSchemaMismatch,
                  fmt::format("{} has a unique key on ({}) without '{}': each input row makes "
                              "several rows ('{}' numbers them) that share input.key, so the "
                              "table's key must be ({}); change it, or write another table",
                              where, Joined(cols), item, item, Joined(want)));
  }
  if (layout.mode != OutputMode::kUpsert) return Status::Ok();
  const std::string joined = Joined(want);
  for (const auto& cols : unique) {
    if (Joined(cols) == joined) return Status::Ok();
  }
  return Status(Code::kSchemaMismatch,
                fmt::format("{} has no primary key or unique index on ({}) for mode upsert{}; add "
                            "one, or use mode insert or swap",
                            where, joined,
                            items > 0 ? fmt::format(" ('{}' numbers the rows each input row "
                                                    "makes)",
                                                    item)
                                      : ""));
}

std::string NameInOutput(const std::vector<DbColumn>& columns, const std::string& name) {
  auto same = [&](const std::string& a) {
    return a.size() == name.size() &&
           std::equal(a.begin(), a.end(), name.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& c : columns) {
    if (same(c.name)) return c.name;
  }
  return name;
}

std::string ScanSelect(const std::vector<DbColumn>& columns, bool lists_as_json) {
  std::string sql;
  for (const auto& c : columns) {
    if (!sql.empty()) sql += ", ";
    const std::string q = QuoteIdent(c.name);
    switch (c.kind) {
      case DbKind::kInt64: sql += fmt::format("CAST({} AS BIGINT)", q); break;
      case DbKind::kText:
        if (c.pg_type == "text[]") {
          sql += lists_as_json ? fmt::format("CAST(to_json({}) AS VARCHAR)", q) : TextArraySql(q);
        } else {
          sql += c.as_text ? fmt::format("CAST({} AS VARCHAR)", q) : q;
        }
        break;
      case DbKind::kFloat32List:
      case DbKind::kFloat64List:
      case DbKind::kInt64List:
        if (lists_as_json && c.kind != DbKind::kInt64List) {
          // SQLite's json functions refuse the NaN DuckDB would write.
          sql += fmt::format("CAST(to_json({}) AS VARCHAR)", FiniteOrNull(q, true));
        } else if (lists_as_json) {
          sql += fmt::format("CAST(to_json({}) AS VARCHAR)", q);
        } else {
          sql += c.kind == DbKind::kInt64List ? fmt::format("CAST({} AS BIGINT[])", q) : q;
        }
        break;
      default: sql += q; break;
    }
  }
  return sql;
}

bool PgTypeFits(const DbColumn& c, const std::string& t) {
  auto any = [&](std::initializer_list<const char*> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const char* p) { return t.starts_with(p); });
  };
  if (c.as_text) return true;  // the database casts the text; a bad value is a dead letter
  switch (c.kind) {
    case DbKind::kInt64: return any({"smallint", "integer", "bigint", "numeric"});
    case DbKind::kFloat32:
    case DbKind::kFloat64: return any({"real", "double precision", "numeric"});
    case DbKind::kBool: return t == "boolean";
    case DbKind::kDate: return any({"date", "timestamp"});
    case DbKind::kTimestamp:
    case DbKind::kTimestampTz: return any({"timestamp"});
    case DbKind::kText: return any({"text", "character varying", "character"});
    case DbKind::kBlob: return t == "bytea";
    case DbKind::kFloat32List:
    case DbKind::kFloat64List: return t == "real[]" || t == "double precision[]";
    case DbKind::kInt64List: return t == "bigint[]" || t == "integer[]";
  }
  return false;
}

}  // namespace nightshift::io
