// A run's counts for a job whose input rows make several output rows each
// (pdf_pages: one per page; crop: one per box). The ledger counts `total`
// and `failed` in input rows (a failure is recorded per input row, which
// `retry` re-reads whole) but `succeeded` as the rows its shards wrote,
// which for such a job are pages or boxes. The counts are made input rows
// throughout, so that succeeded + failed = total when the run completes,
// and the rows written are kept as `items_written`.
#pragma once

#include <string>

#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// True when the job's input rows make several output rows each.
bool MakesItems(const JobSpec& job);

// For a job that MakesItems: `counts` (the ledger's, of run `run_id`) with
// `succeeded` the input rows of its committed shards that did not fail, and
// `items_written` the output rows written. For an input read by key ranges
// (postgres), whose planned total is an estimate: `total_rows` is the rows
// read (succeeded + failed) once every shard is committed. Every count a
// user sees (status, _SUCCESS, the run's summary) goes through here.
Status CountByInputRow(const JobSpec& job, Ledger* ledger, const std::string& run_id,
                       RunCounts* counts);

}  // namespace nightshift::exec
