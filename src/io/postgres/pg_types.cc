#include "io/postgres/pg_types.h"

#include <fmt/format.h>

namespace nightshift::io::pg {
namespace {

// Built-in type OIDs (pg_type.dat); stable across PostgreSQL versions.
enum : Oid {
  kBool = 16,
  kBytea = 17,
  kInt8 = 20,
  kInt2 = 21,
  kInt4 = 23,
  kFloat4 = 700,
  kFloat8 = 701,
  kNumeric = 1700,
  kDate = 1082,
  kTimestamp = 1114,
  kTimestampTz = 1184,
  kUuid = 2950,
  kBoolArray = 1000,
  kInt2Array = 1005,
  kInt4Array = 1007,
  kInt8Array = 1016,
  kFloat4Array = 1021,
  kFloat8Array = 1022,
  kNumericArray = 1231,
};

// numeric(p,s) as DECIMAL(p,s) when DuckDB can hold it exactly; an
// unconstrained numeric (or a wider one) as DOUBLE.
std::string NumericType(int typmod) {
  if (typmod < 4) return "DOUBLE";
  const int precision = ((typmod - 4) >> 16) & 0xffff;
  const int scale = (typmod - 4) & 0xffff;
  if (precision < 1 || precision > 38 || scale > precision) return "DOUBLE";
  return fmt::format("DECIMAL({},{})", precision, scale);
}

}  // namespace

PgColumnType MapPgType(Oid oid, int typmod) {
  switch (oid) {
    case kBool: return {"BOOLEAN"};
    case kBytea: return {"BLOB"};
    case kInt2: return {"SMALLINT", true};
    case kInt4: return {"INTEGER", true};
    case kInt8: return {"BIGINT", true};
    case kFloat4: return {"FLOAT"};
    case kFloat8: return {"DOUBLE"};
    case kNumeric: return {NumericType(typmod), false, false, true};
    case kDate: return {"DATE"};
    case kTimestamp: return {"TIMESTAMP"};
    case kTimestampTz: return {"TIMESTAMP WITH TIME ZONE"};
    case kUuid: return {"UUID"};
    case kBoolArray: return {"BOOLEAN[]", false, true};
    case kInt2Array: return {"SMALLINT[]", false, true};
    case kInt4Array: return {"INTEGER[]", false, true};
    case kInt8Array: return {"BIGINT[]", false, true};
    case kFloat4Array: return {"FLOAT[]", false, true};
    case kFloat8Array:
    case kNumericArray: return {"DOUBLE[]", false, true};
    default: return {"VARCHAR"};
  }
}

}  // namespace nightshift::io::pg
