// Reading ledger records out of PostgreSQL results, and packing lists of
// records into one JSON parameter (expanded by jsonb_to_recordset on the
// server) so that a plan or a shard's failures go in one round trip.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ledger/postgres/pg_session.h"
#include "ledger/record_columns.h"
#include "nightshift/ledger.h"

namespace nightshift::pgledger {

// The shard columns with the PostgreSQL ledger's worker: host/pid/start of
// the claim's holder, '' when none.
#define NS_PG_SHARD_COLUMNS                                  \
  NS_LEDGER_SHARD_COLUMNS(                                   \
      "CASE WHEN holder_host = '' THEN '' ELSE holder_host " \
      "|| '/' || holder_pid || '/' || holder_start END")

// Row `row` of `r`, selected with NS_LEDGER_RUN_COLUMNS / NS_PG_SHARD_COLUMNS
// (ledger/record_columns.h).
Result<RunRecord> ReadRun(const PgResult& r, int row);
Result<ShardRecord> ReadShard(const PgResult& r, int row);
Result<std::vector<ShardRecord>> ReadShards(const PgResult& r);

// [{"idx":..,"path":..,"size":..,"mtime_ns":..,"rows":..}, ...]
std::string FilesJson(const std::vector<InputFileRecord>& files);
// [{"shard_id":..,"file_index":..,"row_begin":..,"row_end":..,"file_last":..,
//   "key_after":..,"key_upto":..}, ...]
std::string ShardsJson(const std::vector<ShardRecord>& shards);
// [{"row":..,"key_json":..,"error":..,"attempts":..,"file_index":..}, ...]
std::string FailuresJson(const std::vector<ItemFailure>& failures);

// The SQL that expands those JSON parameters into rows (after FROM).
#define NS_PG_FILES_RECORDSET(param)                    \
  "jsonb_to_recordset(" param                           \
  "::jsonb) AS x(idx integer, path text, size bigint, " \
  "mtime_ns bigint, \"rows\" bigint)"
#define NS_PG_SHARDS_RECORDSET(param)                   \
  "jsonb_to_recordset(" param                           \
  "::jsonb) AS x(shard_id bigint, file_index integer, " \
  "row_begin bigint, row_end bigint, file_last integer, key_after text, key_upto text)"
#define NS_PG_FAILURES_RECORDSET(param)                       \
  "jsonb_to_recordset(" param                                 \
  "::jsonb) AS x(\"row\" bigint, key_json text, error text, " \
  "attempts integer, file_index integer)"

// A result that names a state we do not know: the database holds rows of
// another program (or a newer nightshift).
Status BadRow(const std::string& what, const Status& why);

}  // namespace nightshift::pgledger
