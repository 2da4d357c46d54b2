// ShardCommitter: the pipeline writer's work on each scored batch, taken in
// (shard, batch) order: append it to its shard's writer and, with the
// shard's last batch, fence, publish and commit the shard.
//
// Fencing (TaskFeed::CheckClaim): with a shared ledger, a shard whose claim
// was lost (another worker holds it under a newer epoch, or the lease is
// about to lapse) is dropped before its output is published: its writer is
// reset (temp files removed), one line says so on stderr, and the writer goes
// on with the next shard. A commit the ledger refuses with kConflict for a
// fenced feed is dropped the same way. With the SQLite ledger there is one
// owner, nothing is fenced and a refused commit is fatal, as before.
//
// A pipeline with several writers (run.writers) has one committer per writer,
// each with its own shards; they share one CommitSection, so the ledger
// commit, on_commit and the failure limit see one shard at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "exec/pipeline.h"

namespace nightshift::exec {

// What the committers of one pipeline share.
struct CommitSection {
  explicit CommitSection(int64_t failed_before) : failed_total(failed_before) {}
  std::mutex mu;             // held from a shard's ledger commit to its failure check
  int64_t failed_total = 0;  // this run's failed items, earlier attempts included
};

class ShardCommitter {
 public:
  // `rows_done` counts the input rows appended (the pipeline's progress
  // counter): for pdf_pages and crop jobs, whose rows are a row's items,
  // each input row once, as status and _SUCCESS count them.
  ShardCommitter(const PipelineConfig& config,
                 std::function<void(int64_t, int64_t, int64_t)> on_commit,
                 std::atomic<int64_t>* rows_done, CommitSection* section);

  // Appends `b` (the next batch in order) and finishes its shard when it is
  // the last. An error is fatal to the run.
  Status Write(const RowBatch& b);
  // Abandons an unfinished shard: its temp files are removed.
  void Abandon() { writer_.reset(); }

  int64_t shards_committed() const { return shards_committed_; }
  int64_t shards_dropped() const { return shards_dropped_; }
  int64_t rows_written() const { return rows_written_; }
  int64_t rows_failed() const { return rows_failed_; }

 private:
  // Publishes and commits the shard written so far (or drops it when its
  // claim is lost).
  Status FinishShard(const ShardTask& task);
  // Publishes the shard's output; nullopt when the claim was lost meanwhile.
  Result<std::optional<ShardOutput>> Publish(const ShardTask& task);
  // Records the published shard in the ledger and counts it.
  Status Commit(const ShardTask& task, const ShardOutput& out);
  // What the sink already holds of `task`'s shard (committed there by an
  // earlier epoch); nullopt when it holds nothing of it.
  Result<std::optional<ShardOutput>> HeldOutput(const ShardTask& task);
  // Drops a shard whose claim was lost: nothing of it is committed.
  void Drop(const ShardTask& task);
  // The input rows `b` adds to the shard's progress (its rows, or for items
  // the input rows that begin in it; at the shard's end, the rows that made
  // no items are added too).
  int64_t InputRowsIn(const RowBatch& b, const ShardTask& task);

  const PipelineConfig& config_;
  const std::function<void(int64_t, int64_t, int64_t)> on_commit_;
  std::atomic<int64_t>* const rows_done_;
  CommitSection* const section_;
  std::unique_ptr<ShardWriter> writer_;  // of the shard being written
  int64_t shards_committed_ = 0;
  int64_t shards_dropped_ = 0;
  int64_t rows_written_ = 0;
  int64_t rows_failed_ = 0;
  // Items of the shard being written: the last input row seen, and how many.
  int64_t last_input_row_ = -1;
  int32_t last_input_file_ = -1;
  int64_t shard_input_rows_ = 0;
};

}  // namespace nightshift::exec
