// The PostgreSQL ledger's view of a run's results: counts, dead-lettered
// rows, retry parts, and which process owns a run (Ledger::AcquireRun for
// one process per run; shared workers claim shards instead). Each function
// runs inside the caller's transaction or is one statement.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ledger/postgres/pg_session.h"
#include "nightshift/ledger.h"

namespace nightshift::pgledger {

Result<RunCounts> SelectCounts(PgConn* conn, const std::string& run_id);
Result<std::vector<ItemFailure>> SelectFailures(PgConn* conn, const std::string& run_id,
                                                int64_t limit);
// Inside a transaction.
Status CommitRetryPart(PgConn* conn, const std::string& run_id, int64_t shard_id, int32_t seq,
                       int64_t rows_written, const std::string& output_file,
                       const std::string& dead_letter_file,
                       const std::vector<ItemFailure>& remaining);
Result<std::vector<RetryPart>> SelectRetryParts(PgConn* conn, const std::string& run_id);

}  // namespace nightshift::pgledger
