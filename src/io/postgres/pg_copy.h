// PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)) made
// from DuckDB rows of the DbColumn kinds: the fast path into PostgreSQL, one
// stream per shard instead of a statement per row.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/db_columns.h"
#include "io/duck.h"

namespace nightshift::io::pg {

// The staging column type of a kind (what the binary encoding is of).
std::string StageType(DbKind kind);

// Runs `select_sql` (columns in the kinds of `columns`, as ScanSelect gives)
// and hands the whole COPY stream (header, rows, trailer) to `put` in pieces
// of about 1 MiB, so that sending overlaps encoding.
Status EncodeCopyBinary(DuckConnection* conn, const std::string& select_sql,
                        const std::vector<DbColumn>& columns,
                        const std::function<Status(std::string_view)>& put);

}  // namespace nightshift::io::pg
