// TaskRunner: runs a list of claimed shard tasks through the pipeline, with
// the progress display and the signal/drain watch, and returns how it ended.
// Shared by `run` (whole shards) and `retry` (dead-lettered rows).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exec/job_context.h"
#include "exec/pipeline.h"
#include "exec/shard_feed.h"
#include "nightshift/engine.h"
#include "nightshift/ledger.h"
#include "nightshift/sink.h"

namespace nightshift::exec {

// The sink layout of `job` for `run` (directories resolved). Also sets
// ctx.binding.read.carried_types to the carried columns' types across all
// input files, which the reader casts to.
Result<SinkLayout> MakeSinkLayout(const JobSpec& job, JobContext& ctx, const RunRecord& run,
                                  Env* env);

struct TaskRun {
  // The shards to run: `feed` when set (claimed as the run goes), else the
  // fixed list `tasks`.
  std::vector<ShardTask> tasks;
  TaskFeed* feed = nullptr;
  std::function<Status(const ShardTask&, const ShardOutput&)> commit;
  int64_t failure_limit = -1;
  int64_t failed_before = 0;
  int64_t rows_total = 0;   // for the progress display
  int64_t rows_before = 0;  // already done before this invocation
  // An instance already created (batch.size auto's probe): used as the first
  // worker's, so its session is not created twice.
  std::unique_ptr<ModelInstance> first_instance;
};

struct TaskResult {
  PipelineResult pipeline;
  int64_t rows_processed = 0;
  bool drain_timed_out =
      false;  // a stop did not drain in run.drain_timeout: in-flight work cancelled
};

// Creates the model instances and runs the tasks. REQUIRES: `sink` open.
// Errors are those before the pipeline starts (instances cannot be created);
// failures while running are in TaskResult::pipeline.status. On a signal the
// pipeline drains; past run.drain_timeout its calls in flight are cancelled.
// Returns only after every thread it started is joined.
Result<TaskResult> RunTasks(const JobSpec& job, const RunOptions& options, JobContext& ctx,
                            Sink* sink, Ledger* ledger, const RunRecord& run, TaskRun task_run);

// Writes the _SUCCESS manifest of `run` (all shards, retry parts, counts, in
// input rows: exec/item_counts.h). `env`: the clock of completed_at_ms.
Status WriteManifest(const JobSpec& job, Sink* sink, Ledger* ledger, const RunRecord& run,
                     Env* env);

}  // namespace nightshift::exec
