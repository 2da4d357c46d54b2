// Runs DuckDB SQL for people and scripts (`nightshift sql`): inspect outputs,
// convert example data. Uses the bundled DuckDB, so no separate install.
#pragma once

#include <string>

#include "nightshift/status.h"

namespace nightshift::io {

// Runs each statement of `sql`; returns the last statement's result as CSV
// with a header (empty for statements without a result). Nested values
// (lists, structs, maps) print as DuckDB's CSV writer prints them, e.g.
// "[1, 2, 3]", when `sql` is a single query.
Result<std::string> RunSqlToCsv(const std::string& sql);

}  // namespace nightshift::io
