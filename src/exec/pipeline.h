// Pipeline: reading, inference and writing on separate threads joined by
// bounded queues.
//
//   feed ──▶ reader(s) ──q_in──▶ N inference workers ──q_out──▶ writer(s)
//   (reorder, sink, fence, ledger commit)
//
// With W > 1 writers (run.writers, ChooseWriters), the calling thread hands
// each scored batch to writer shard_index % W, and the W writer threads each
// reorder, encode and publish their own shards: a shard is one file, so the
// output is the same as with one writer; shards may commit out of order.
//
// The reader takes its shards from a TaskFeed (exec/shard_feed.h): claimed
// from the ledger as it goes, or a fixed list. The writer looks each batch's
// task up in the feed and commits through exec/shard_committer.h.
//
// A fixed pool of RowBatch objects circulates through the stages, so memory
// is bounded by the pool whatever the input size, and steady-state batches
// reuse their tensors. The writer restores (shard, batch) order before
// appending, so output order follows input order with any number of workers.
//
// Shutdown (docs/shutdown.md): stopping is two values that flow down, never a
// thread left behind. RequestStop() drains: the reader stops, batches already
// read are scored, complete shards commit. CancelInFlight() also requests the
// stop token every BatchRunner holds: the model call in flight is cancelled
// (ModelInstance::Cancel), retries and backoffs end, and the batch is dropped
// (its shard does not commit). Run() returns only after joining every thread
// it started; how the run ended flows back up in PipelineResult.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "exec/batch_runner.h"
#include "exec/ocr_steps.h"
#include "exec/top_k.h"
#include "nightshift/backend.h"
#include "nightshift/engine.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/sink.h"
#include "nightshift/source.h"

namespace nightshift::exec {

class TaskFeed;
template <typename T>
class BoundedQueue;

struct PipelineConfig {
  Source* source = nullptr;
  Sink* sink = nullptr;
  std::vector<std::unique_ptr<ModelInstance>> instances;  // one worker thread each
  Env* env = nullptr;                                     // sleeps and checks; nullptr: default
  ReadLayout layout;
  std::vector<std::string> output_names;  // for messages
  std::vector<OutputColumn> output_columns;
  std::vector<TopKStep> top_k;  // postprocess steps, run by the model workers
  OcrSteps ocr;                 // likewise, after top_k
  std::string run_id;
  TaskFeed* feed = nullptr;  // the shards to read; outlives the pipeline
  ErrorsSpec errors;
  // Records a published shard output in the ledger (CommitShard for a run,
  // CommitRetry for a retry). Must be idempotent.
  std::function<Status(const ShardTask&, const ShardOutput&)> commit;
  int64_t failure_limit = 0;  // stop when failed items exceed this; -1: never
  int64_t failed_before = 0;  // failed items already committed by earlier attempts
  // Told of each batch and retry; nullptr: none.
  obs::RunObserver* observer = nullptr;
  int writers = 1;  // writer threads (ChooseWriters)
  // Readers beyond the first (ChooseReaders): forks of `source` (Source::Fork).
  // Reader r reads the shards whose index is r modulo the readers. Only for a
  // feed that is not fenced: a shared ledger's feed claims as it hands out.
  std::vector<Source*> more_sources;
};

// The writer threads for run.writers = `requested`: as asked; for 0 (choose),
// one per 4 cores from 8 cores up, at most 4, since each holds one shard's
// output rows until it publishes them. A database output has one.
int ChooseWriters(int requested, bool database_output, unsigned cores);
// Likewise for run.readers (the caller checks that the input can be forked).
int ChooseReaders(int requested, unsigned cores);

struct PipelineResult {
  Status status;             // the fatal error, if any
  bool interrupted = false;  // stopped by a signal after committing what was complete
  int64_t shards_committed = 0;
  int64_t shards_dropped = 0;  // claims lost to another worker (shared ledger)
  int64_t rows_written = 0;
  int64_t rows_failed = 0;
  StageSeconds stages;  // busy time per stage
};

class Pipeline {
 public:
  explicit Pipeline(PipelineConfig config);

  // Runs to completion, a fatal error, or RequestStop(). Call once.
  PipelineResult Run();

  // Stops taking new batches; complete shards still commit. Thread-safe.
  void RequestStop();
  // RequestStop() and cancels the model calls in flight: Run() returns as soon
  // as they do (a backend that cannot cancel finishes its batch). Thread-safe.
  void CancelInFlight();

  // Progress counter, readable from any thread while Run() runs.
  int64_t rows_done() const { return rows_done_.load(); }
  // Called by the writer after each shard commit (shard id, rows written, failed).
  std::function<void(int64_t, int64_t, int64_t)> on_commit;

 private:
  struct Impl;  // one Run()'s queues, pool and timings
  struct Lane;  // one writer's shards, committer and reorder buffer
  // The steps of Run(): the reader thread, each model worker thread, the
  // writers (on the calling thread, or one thread each behind it).
  void ReadLoop(Impl& impl, size_t reader, Source* source);
  Result<std::vector<ShardTask>> NextTasks(Impl& impl, int64_t* next);
  Status ReadShards(Impl& impl, size_t reader, Source* source, const std::vector<ShardTask>& tasks);
  void WorkLoop(Impl& impl, size_t worker);
  void WriteLoop(Impl& impl, std::vector<std::unique_ptr<Lane>>& lanes);
  void LaneLoop(Impl& impl, Lane& lane, BoundedQueue<std::unique_ptr<RowBatch>>& in);
  Status WriteReady(Impl& impl, Lane& lane);
  PipelineResult Collect(Impl& impl, const std::vector<std::unique_ptr<Lane>>& lanes, double wall);
  // A fatal error: records it and stops every stage.
  void Abort(Impl& impl, Status s);

  PipelineConfig config_;
  std::atomic<bool> stop_{false};
  std::stop_source reading_;  // requested by RequestStop(): a feed waiting for work gives up
  std::stop_source cancel_;   // requested by CancelInFlight(); workers hold its token
  std::atomic<int64_t> rows_done_{0};
};

}  // namespace nightshift::exec
