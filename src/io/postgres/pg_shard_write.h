// How the PostgreSQL sink writes a shard's rows inside its transaction: the
// fast path (one binary COPY, straight into the table or into a staging table
// followed by one INSERT ... SELECT), and the path taken only when the server
// refused a row of it (SQLSTATE class 22 or 23), which finds the refused rows
// and writes all the others: the rows are copied once more, numbered, into a
// staging table, and one PL/pgSQL block inserts ranges of them, each in a
// subtransaction, halving a refused range until each refused row stands
// alone (about 2 log2(rows) tries per refused row, all on the server: one
// round trip for the whole search). The refused rows and the server's
// reasons come back from it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/db_columns.h"
#include "io/duck.h"
#include "io/postgres/pg_conn.h"
#include "io/shard_rows.h"

namespace nightshift::io::pg {

// The statements of a shard's write, made once by the sink.
struct ShardWriteSql {
  std::vector<DbColumn> columns;
  bool direct = false;         // COPY straight into the table
  std::string copy;            // COPY <table or ns_stage> FROM STDIN (FORMAT binary)
  std::string stage;           // CREATE TEMP TABLE ns_stage (not direct)
  std::string insert;          // INSERT INTO <table> ... FROM ns_stage (not direct)
  std::string stage_numbered;  // ns_stage_n: the staging columns and __ns_i
  std::string insert_range;    // insert from ns_stage_n WHERE __ns_i in [$1, $2)
};

// The fast path: all of `rows`, in the open transaction.
Status WriteShard(PgConn* pg, const ShardWriteSql& sql, const ShardRows& rows, DuckConnection* duck,
                  std::string_view what);

// All of `rows` but those the server refuses, which are added to `rejected`
// with its reason, in the open transaction.
Status WriteShardRejecting(PgConn* pg, const ShardWriteSql& sql, const ShardRows& rows,
                           DuckConnection* duck, std::string_view what,
                           std::vector<RejectedRow>* rejected);

}  // namespace nightshift::io::pg
