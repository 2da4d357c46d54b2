// Failed items and retry parts of the SQLite ledger: the queries behind
// Ledger::ListFailures, Ledger::CommitRetry and Ledger::ListRetryParts.
//
// REQUIRES for all: the caller holds the ledger's connection exclusively and
// has begun a transaction (write for CommitRetry).
#pragma once

#include <string>
#include <vector>

#include "ledger/sqlite/connection.h"
#include "nightshift/ledger.h"

namespace nightshift::sqlite {

// Records `failures` as the item_failures rows of shard `shard_id` (CommitShard
// and CommitRetryPart both end with them).
Status InsertItemFailures(Connection* conn, const std::string& run_id, int64_t shard_id,
                          const std::vector<ItemFailure>& failures);

// ListFailures: failed items by shard then row, at most `limit` (-1: all).
Result<std::vector<ItemFailure>> SelectFailures(Connection* conn, const std::string& run_id,
                                                int64_t limit);

Status CommitRetryPart(Connection* conn, const std::string& run_id, int64_t shard_id, int32_t seq,
                       int64_t rows_written, const std::string& output_file,
                       const std::string& dead_letter_file,
                       const std::vector<ItemFailure>& remaining, int64_t now_ms);

Result<std::vector<RetryPart>> SelectRetryParts(Connection* conn, const std::string& run_id);

}  // namespace nightshift::sqlite
