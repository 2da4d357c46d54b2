// What a PostgreSQL column of a query becomes in nightshift: the SQL (DuckDB)
// type the rest of the engine reads it as (io/sql_types.h), and how its text
// form is selected so that DuckDB casts it to that type.
#pragma once

#include <libpq-fe.h>

#include <string>

namespace nightshift::io::pg {

struct PgColumnType {
  std::string sql_type;  // DuckDB's name: "BIGINT", "DOUBLE[]", "VARCHAR", ...
  bool integer = false;  // int2/int4/int8: keys kept as JSON numbers
  bool array = false;    // a one-dimensional array: selected with [] for {}
  // Its binary format is not sql_type's (a numeric read as DOUBLE): selected
  // as text, which DuckDB casts.
  bool as_text = false;
};

// The type of a result column of PostgreSQL type `oid` with modifier
// `typmod` (PQftype/PQfmod). Types without a counterpart are text.
PgColumnType MapPgType(Oid oid, int typmod);

}  // namespace nightshift::io::pg
