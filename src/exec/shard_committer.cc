#include "exec/shard_committer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "env/crash_point.h"
#include "exec/backoff.h"
#include "exec/shard_feed.h"

namespace nightshift::exec {
namespace {

// Runs `fn` until it succeeds, fails with an error that is not an I/O or
// transient one, or has failed `max_retries` + 1 times, with the engine's
// backoff between tries. Not cut short by a cancel: publishing and committing
// a shard are bounded (max_retries backoffs of at most 5 s each).
Status RetryIo(Env* env, int max_retries, const std::function<Status()>& fn) {
  constexpr int64_t kBaseUs = 50000;
  for (int attempt = 0;; ++attempt) {
    Status s = fn();
    bool retryable = s.code() == Code::kIoError || s.code() == Code::kTransient;
    if (s.ok() || !retryable || attempt >= max_retries) return s;
    SleepBackoff(env, attempt, kBaseUs, std::stop_token{});
  }
}

// The input rows the plan put in `task` (for key ranges, its estimate).
int64_t PlannedRows(const ShardTask& task) {
  if (!task.packed.empty()) {
    int64_t n = 0;
    for (const FilePart& p : task.packed) {
      n += p.rows_selected.empty() ? p.rows : static_cast<int64_t>(p.rows_selected.size());
    }
    return n;
  }
  if (!task.keys.empty()) return static_cast<int64_t>(task.keys.size());
  if (!task.rows.empty()) return static_cast<int64_t>(task.rows.size());
  return task.row_end - task.row_begin;
}

}  // namespace

ShardCommitter::ShardCommitter(const PipelineConfig& config,
                               std::function<void(int64_t, int64_t, int64_t)> on_commit,
                               std::atomic<int64_t>* rows_done, CommitSection* section)
    : config_(config), on_commit_(std::move(on_commit)), rows_done_(rows_done), section_(section) {}

Status ShardCommitter::Write(const RowBatch& b) {
  const ShardTask& task = config_.feed->Get(b.shard_index);
  if (!writer_) {
    NS_ASSIGN_OR_RETURN(writer_,
                        config_.sink->BeginShard(task.shard_id, task.epoch, task.retry_seq));
  }
  NS_RETURN_IF_ERROR(writer_->Append(b));
  rows_done_->fetch_add(InputRowsIn(b, task));
  if (!b.last_in_shard) return Status::Ok();
  return FinishShard(task);
}

int64_t ShardCommitter::InputRowsIn(const RowBatch& b, const ShardTask& task) {
  if (b.items.empty() && shard_input_rows_ == 0) return b.num_rows;  // one row per input row
  int64_t n = 0;
  for (int64_t r = 0; r < b.num_rows; ++r) {
    const int64_t row = b.row_numbers.empty() ? b.first_row + r : b.row_numbers[r];
    if (row != last_input_row_ || b.file_index != last_input_file_) ++n;
    last_input_row_ = row;
    last_input_file_ = b.file_index;
  }
  shard_input_rows_ += n;
  if (!b.last_in_shard) return n;
  // Rows with no items (a page without boxes) made no batch rows.
  n += std::max<int64_t>(0, PlannedRows(task) - shard_input_rows_);
  last_input_row_ = -1;
  shard_input_rows_ = 0;
  return n;
}

Status ShardCommitter::FinishShard(const ShardTask& task) {
  // Fencing: a claim lost to another worker is never published.
  if (Status fence = config_.feed->CheckClaim(task); !fence.ok()) {
    if (fence.code() != Code::kConflict) return fence;
    Drop(task);
    return Status::Ok();
  }
  MaybeStop("after_claim_check");
  NS_ASSIGN_OR_RETURN(std::optional<ShardOutput> out, Publish(task));
  if (!out.has_value()) {
    Drop(task);
    return Status::Ok();
  }
  MaybeCrash("after_publish");
  return Commit(task, *out);
}

Result<std::optional<ShardOutput>> ShardCommitter::Publish(const ShardTask& task) {
  // Publishing retries I/O hiccups with backoff; it is idempotent (the same
  // file under the same name).
  ShardOutput out;
  // A file already at the shard's name is replaced only while the claim still
  // holds: the check before may be long past (the data file is written after
  // it), and a worker paused meanwhile must not overwrite its successor's.
  const ClaimCheck still_ours = [&] { return config_.feed->CheckClaim(task); };
  Status finished = RetryIo(config_.env, config_.errors.max_retries, [&]() -> Status {
    auto r = writer_->Finish(still_ours);
    if (!r.has_value()) return r.error();
    out = std::move(*r);
    return Status::Ok();
  });
  writer_.reset();
  // A database sink refuses a shard another epoch committed to the table: a
  // worker that died between its table commit and its ledger commit. The
  // table holds the shard, so the ledger records it from there (adopted).
  // Not held there: a stale epoch refused by the ledger in the sink's own
  // transaction (the ledger is the output's database), handled below.
  if (finished.code() == Code::kConflict && config_.feed->fenced()) {
    NS_ASSIGN_OR_RETURN(std::optional<ShardOutput> held, HeldOutput(task));
    if (held.has_value()) return held;
  }
  // Publishing failed after the claim check: if the claim was lost meanwhile
  // (paused past the lease; the run's finisher may have removed the temp
  // files), the failure is the lost claim's, not the run's.
  if (!finished.ok() && config_.feed->fenced() &&
      config_.feed->CheckClaim(task).code() == Code::kConflict) {
    return std::optional<ShardOutput>();
  }
  NS_RETURN_IF_ERROR(finished);
  return std::optional<ShardOutput>(std::move(out));
}

Status ShardCommitter::Commit(const ShardTask& task, const ShardOutput& out) {
  // Committing retries I/O hiccups too: the same epoch, so idempotent.
  std::lock_guard<std::mutex> lock(section_->mu);
  Status committed =
      RetryIo(config_.env, config_.errors.max_retries, [&] { return config_.commit(task, out); });
  if (committed.code() == Code::kConflict && config_.feed->fenced()) {
    Drop(task);
    return Status::Ok();
  }
  NS_RETURN_IF_ERROR(committed);
  MaybeCrash("after_commit");
  const auto failed = static_cast<int64_t>(out.failures.size());
  shards_committed_++;
  rows_written_ += out.rows_written;
  rows_failed_ += failed;
  section_->failed_total += failed;
  if (on_commit_) on_commit_(task.shard_id, out.rows_written, failed);
  if (config_.failure_limit >= 0 && section_->failed_total > config_.failure_limit) {
    return Status(Code::kFailed,
                  fmt::format("{} items failed, more than errors.max_failed_items allows ({})",
                              section_->failed_total, config_.failure_limit));
  }
  return Status::Ok();
}

Result<std::optional<ShardOutput>> ShardCommitter::HeldOutput(const ShardTask& task) {
  NS_ASSIGN_OR_RETURN(std::vector<HeldShard> held, config_.sink->HeldShards());
  for (const HeldShard& h : held) {
    if (h.shard_id != task.shard_id || h.retry_seq != task.retry_seq) continue;
    std::fprintf(stderr,
                 "nightshift: shard %lld was already in the table (a worker committed it there "
                 "and stopped before recording it): adopted, not written again\n",
                 static_cast<long long>(task.shard_id));
    ShardOutput out;
    out.rows_written = h.rows;
    return std::optional<ShardOutput>(std::move(out));
  }
  return std::optional<ShardOutput>();
}

void ShardCommitter::Drop(const ShardTask& task) {
  writer_.reset();  // removes the shard's temp files
  ++shards_dropped_;
  std::fprintf(stderr,
               "nightshift: shard %lld: claim lost (epoch %lld is stale; another worker holds "
               "it); its output was not published\n",
               static_cast<long long>(task.shard_id), static_cast<long long>(task.epoch));
}

}  // namespace nightshift::exec
