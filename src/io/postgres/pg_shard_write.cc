#include "io/postgres/pg_shard_write.h"

#include <fmt/format.h>

#include "io/db_sink.h"
#include "io/postgres/pg_copy.h"

namespace nightshift::io::pg {
namespace {

// Copies the shard's rows with `copy_sql`; `numbered` adds each row's
// position as a last column.
Status CopyRows(PgConn* pg, const ShardWriteSql& sql, const std::string& copy_sql,
                const ShardRows& rows, DuckConnection* duck, bool numbered, std::string_view what) {
  const std::string select =
      fmt::format("SELECT {}{} FROM {}", ScanSelect(sql.columns),
                  numbered ? ", row_number() OVER () - 1" : "", rows.RowsSql());
  std::vector<DbColumn> columns = sql.columns;
  if (numbered) {
    DbColumn n;
    n.name = "__ns_i";
    n.duck_type = "BIGINT";
    n.kind = DbKind::kInt64;
    columns.push_back(n);
  }
  return pg->CopyIn(
      copy_sql,
      [&](const PgConn::CopyPut& put) { return EncodeCopyBinary(duck, select, columns, put); },
      what);
}

// Finds the rows of ns_stage_n the INSERT refuses, on the server (one round
// trip, not one per try): a stack of ranges of __ns_i, each inserted in a
// subtransaction (a PL/pgSQL block with an exception handler); a refused
// range is halved until each refused row stands alone, recorded with the
// server's reason in ns_refused.
std::string HalvingBlock(const ShardWriteSql& sql, int64_t rows) {
  return fmt::format(R"(DO $ns$
DECLARE
  lo int8[] := ARRAY[0::int8];
  hi int8[] := ARRAY[{}::int8];
  a int8; b int8; k int; state text; msg text; col text;
BEGIN
  CREATE TEMP TABLE ns_refused (i int8, state text, msg text, col text) ON COMMIT DROP;
  WHILE cardinality(lo) > 0 LOOP
    k := cardinality(lo); a := lo[k]; b := hi[k];
    lo := lo[1:k-1]; hi := hi[1:k-1];
    BEGIN
      EXECUTE {} USING a, b;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
      IF b - a = 1 THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, col = COLUMN_NAME;
        INSERT INTO ns_refused VALUES (a, state, msg, col);
      ELSE
        lo := lo || (a + (b - a) / 2) || a;
        hi := hi || b || (a + (b - a) / 2);
      END IF;
    END;
  END LOOP;
END $ns$)",
                     rows, QuoteLiteral(sql.insert_range));
}

}  // namespace

Status WriteShard(PgConn* pg, const ShardWriteSql& sql, const ShardRows& rows, DuckConnection* duck,
                  std::string_view what) {
  if (!sql.direct) NS_RETURN_IF_ERROR(pg->Run(sql.stage, what));
  NS_RETURN_IF_ERROR(CopyRows(pg, sql, sql.copy, rows, duck, false, what));
  return sql.direct ? Status::Ok() : pg->Run(sql.insert, what);
}

Status WriteShardRejecting(PgConn* pg, const ShardWriteSql& sql, const ShardRows& rows,
                           DuckConnection* duck, std::string_view what,
                           std::vector<RejectedRow>* rejected) {
  NS_RETURN_IF_ERROR(pg->Run(sql.stage_numbered, what));
  NS_RETURN_IF_ERROR(
      CopyRows(pg, sql, "COPY ns_stage_n FROM STDIN (FORMAT binary)", rows, duck, true, what));
  NS_RETURN_IF_ERROR(pg->Run("CREATE INDEX ON ns_stage_n (__ns_i)", what));
  NS_RETURN_IF_ERROR(pg->Run("ANALYZE ns_stage_n", what));
  NS_RETURN_IF_ERROR(pg->RunScript(HalvingBlock(sql, rows.rows()), what));
  NS_ASSIGN_OR_RETURN(auto r, pg->Exec("SELECT i, state, msg, coalesce(col, '') FROM ns_refused "
                                       "ORDER BY i",
                                       what));
  for (int i = 0; i < r.rows(); ++i) {
    const std::string col = r.Text(i, 3);
    rejected->push_back(RejectedRow{
        r.Int(i, 0),
        fmt::format("the database refused the row: SQLSTATE {}: {}{}", r.Text(i, 1), r.Text(i, 2),
                    col.empty() ? "" : fmt::format(" (column {})", col))});
  }
  return Status::Ok();
}

}  // namespace nightshift::io::pg
