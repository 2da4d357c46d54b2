// A block of rows FETCHed from PostgreSQL in binary format, copied into DuckDB
// chunks (a ChunkTable) for the ShardScanner. Booleans, integers and floats
// travel as their binary values into columns of their own type (no text
// formatting on the server, no parsing here), bytea as its bytes into a BLOB
// column; every other column is selected
// as text (`::text`, arrays as `[...]`) and lands in a VARCHAR column that
// the scanner's select list casts to the column's type.
#pragma once

#include <string>
#include <vector>

#include "io/chunk_table.h"
#include "io/postgres/pg_conn.h"
#include "io/postgres/pg_types.h"

namespace nightshift::io::pg {

// The DuckDB type a column of type `t` has in a block.
std::string BlockType(const PgColumnType& t);

// The select-list expression that reads column expression `expr` of type `t`
// into a block.
std::string BlockSelect(const std::string& expr, const PgColumnType& t);

// Appends the rows of `block` (a binary-format result whose columns were
// selected by BlockSelect, in the order of `types`) to `table` (whose schema
// has the BlockType of each).
void FillBlock(const PgResult& block, const std::vector<PgColumnType>& types, ChunkTable* table);

}  // namespace nightshift::io::pg
