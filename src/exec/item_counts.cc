#include "exec/item_counts.h"

namespace nightshift::exec {

bool MakesItems(const JobSpec& job) {
  return !job.input.pdf_pages.empty() || !job.input.crops.empty();
}

namespace {

// An input read by key ranges (postgres) plans its total from the rows the
// query had then; rows come and go until each range is read. Once every
// shard is committed, the rows read are the run's total.
void SettleKeyRangeTotal(const JobSpec& job, RunCounts* counts) {
  if (job.input.format != InputFormat::kPostgres) return;
  if (counts->shards_total == 0 || counts->shards_committed < counts->shards_total) return;
  counts->total_rows = counts->succeeded + counts->failed;
}

}  // namespace

Status CountByInputRow(const JobSpec& job, Ledger* ledger, const std::string& run_id,
                       RunCounts* counts) {
  if (!MakesItems(job)) {
    SettleKeyRangeTotal(job, counts);
    return Status::Ok();
  }
  NS_ASSIGN_OR_RETURN(const std::vector<ShardRecord> shards, ledger->ListShards(run_id));
  // A committed shard's input rows are those it was planned with (a packed
  // shard's row_end is all its files' rows); each failed one is recorded
  // once, in rows_failed, however many of its items failed. An input row
  // that makes no items (a page without boxes) did not fail: it succeeded.
  int64_t succeeded = 0;
  for (const ShardRecord& s : shards) {
    if (s.state != ShardState::kCommitted) continue;
    succeeded += (s.row_end - s.row_begin) - s.rows_failed;
  }
  counts->items_written = counts->succeeded;
  counts->succeeded = succeeded;
  SettleKeyRangeTotal(job, counts);
  return Status::Ok();
}

}  // namespace nightshift::exec
