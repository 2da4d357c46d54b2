#include "exec/task_runner.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "env/crash_point.h"
#include "exec/item_counts.h"
#include "exec/output_folders.h"
#include "nightshift/env.h"
#include "nightshift/utc_time.h"
#include "obs/batch_record.h"
#include "obs/log.h"
#include "obs/progress.h"
#include "obs/run_observer.h"

namespace nightshift::exec {

Result<SinkLayout> MakeSinkLayout(const JobSpec& job, JobContext& ctx, const RunRecord& run,
                                  Env* env) {
  SinkLayout layout = ctx.binding.sink;
  layout.env = env;
  layout.output_dir = run.output_path;
  // {date} is the day the run was created, as in its output path: a resume on
  // another day writes its dead letters to the same folder.
  layout.dead_letter_dir =
      DeadLetterDir(job, run.output_path, run.run_id, UtcDate(run.created_at_ms));
  for (const auto& f : ctx.source->files()) layout.input_paths.push_back(f.path);
  if (ctx.carried_types.size() == ctx.binding.read.carried.size() &&
      !ctx.binding.read.carried.empty()) {
    layout.carried_types = ctx.carried_types;
  } else {
    NS_ASSIGN_OR_RETURN(layout.carried_types, ctx.source->CarriedTypes(ctx.binding.read));
  }
  // The reader casts every file's carried columns to these same types.
  ctx.binding.read.carried_types = layout.carried_types;
  return layout;
}

namespace {

// One model instance per worker thread; the first is the probe's instance
// when batch.size auto already created one.
Result<std::vector<std::unique_ptr<ModelInstance>>> CreateInstances(
    const JobSpec& job, const RunOptions& options, JobContext& ctx,
    std::unique_ptr<ModelInstance> first) {
  std::vector<std::unique_ptr<ModelInstance>> instances;
  for (int i = 0; i < std::max(1, job.model.instances); ++i) {
    std::unique_ptr<ModelInstance> inst = std::move(first);
    if (inst == nullptr) {
      NS_ASSIGN_OR_RETURN(inst, ctx.model->CreateInstance());
    }
    instances.push_back(options.wrap_instance ? options.wrap_instance(std::move(inst))
                                              : std::move(inst));
  }
  return instances;
}

// The pipeline's configuration from the job, its binding and the tasks.
// `feed` and `observers` must outlive the pipeline; every commit that succeeds
// is also told to the observers.
PipelineConfig MakePipelineConfig(const JobSpec& job, const RunOptions& options, JobContext& ctx,
                                  Sink* sink, const RunRecord& run, TaskRun& task_run,
                                  TaskFeed* feed, obs::ObserverList* observers) {
  PipelineConfig pc;
  pc.source = ctx.source.get();
  pc.sink = sink;
  pc.env = options.env;
  pc.layout = ctx.binding.read;
  pc.output_names = ModelOutputNames(job);
  for (const auto& t : job.model.top_k) {
    pc.output_names.push_back(t.ids_column);
    pc.output_names.push_back(t.scores_column);
  }
  for (auto& name : OcrTensorNames(job)) pc.output_names.push_back(std::move(name));
  pc.top_k = ctx.binding.top_k;
  pc.ocr = ctx.binding.ocr;
  pc.output_columns = ctx.binding.sink.outputs;
  pc.run_id = run.run_id;
  pc.feed = feed;
  pc.errors = job.errors;
  pc.failure_limit = task_run.failure_limit;
  pc.failed_before = task_run.failed_before;
  pc.observer = observers;
  pc.writers = ChooseWriters(job.run.writers, IsDatabase(job.output.format), ctx.env->Cores());
  pc.commit = [commit = std::move(task_run.commit), observers](const ShardTask& t,
                                                               const ShardOutput& out) {
    Status s = commit(t, out);
    if (s.ok()) observers->OnShardCommitted(t.shard_id, out.rows_written, out.failures);
    return s;
  };
  return pc;
}

// In-flight work did not drain in time (a slow model): cancel it. The
// pipeline returns once the calls in flight do; committed shards are durable
// and the next run removes the temp files.
void CancelAfterDrainTimeout(Pipeline& pipeline, const JobSpec& job, const RunRecord& run) {
  obs::Log(obs::LogLevel::kWarn, "drain_timeout",
           fmt::format("drain timeout ({:g} s) passed; cancelling the batches in flight",
                       job.run.drain_timeout_s),
           obs::LogFields(job.name, run.run_id));
  pipeline.CancelInFlight();
}

// Runs `pipeline` on its own thread and watches it from another: ticks the
// progress display, turns a signal into RequestStop and, past
// run.drain_timeout, cancels the calls in flight. Returns once both threads
// are joined.
TaskResult RunWatched(Pipeline& pipeline, obs::Progress& progress, const JobSpec& job,
                      const RunOptions& options, const RunRecord& run) {
  TaskResult result;
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::atomic<bool> done{false};
  std::thread runner([&] {
    try {
      result.pipeline = pipeline.Run();
    } catch (const std::exception& e) {  // past every guard inside the pipeline
      result.pipeline.status = Status(
          Code::kInternal, fmt::format("unexpected exception in the pipeline: {}", e.what()));
    }
    std::lock_guard<std::mutex> lock(done_mu);
    done.store(true);
    done_cv.notify_all();
  });
  std::thread watcher([&] {
    bool stopping = false;
    auto stop_at = std::chrono::steady_clock::now();
    while (!done.load()) {
      if (!stopping && options.signals != nullptr && options.signals->load() > 0) {
        stopping = true;
        stop_at = std::chrono::steady_clock::now();
        pipeline.RequestStop();
      }
      if (stopping && !result.drain_timed_out &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_at).count() >
              job.run.drain_timeout_s) {
        result.drain_timed_out = true;
        CancelAfterDrainTimeout(pipeline, job, run);
      }
      progress.Tick(pipeline.rows_done());
      // Wakes at once when the run ends, so a short run does not wait out a tick.
      std::unique_lock<std::mutex> lock(done_mu);
      done_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done.load(); });
    }
  });
  runner.join();
  watcher.join();
  return result;
}

// Sources for the readers beyond the first (run.readers): forks of the job's
// source, for an input without preprocess steps whose shards this process
// alone hands out (not a shared ledger's feed). None when the source cannot
// fork (Source::Fork: anything but Parquet).
Result<std::vector<std::unique_ptr<Source>>> MoreReaders(const JobSpec& job, JobContext& ctx,
                                                         const TaskFeed& feed) {
  std::vector<std::unique_ptr<Source>> forks;
  const ReadLayout& layout = ctx.binding.read;
  bool plain = layout.expander == nullptr && !feed.fenced();
  for (const InputPacking& in : layout.inputs) plain = plain && in.filler == nullptr;
  const int readers = plain ? ChooseReaders(job.run.readers, ctx.env->Cores()) : 1;
  for (int r = 1; r < readers; ++r) {
    NS_ASSIGN_OR_RETURN(std::unique_ptr<Source> fork, ctx.source->Fork());
    if (fork == nullptr) break;
    forks.push_back(std::move(fork));
  }
  return forks;
}

Result<TaskResult> RunTasksUnguarded(const JobSpec& job, const RunOptions& options, JobContext& ctx,
                                     Sink* sink, Ledger* ledger, const RunRecord& run,
                                     TaskRun task_run) {
  MaybeThrow("main");
  NS_ASSIGN_OR_RETURN(auto instances,
                      CreateInstances(job, options, ctx, std::move(task_run.first_instance)));
  ListFeed list(std::move(task_run.tasks));
  TaskFeed& feed = task_run.feed != nullptr ? *task_run.feed : list;
  NS_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Source>> forks, MoreReaders(job, ctx, feed));
  // What the report needs is recorded in the ledger whoever watches the run.
  obs::LedgerBatchRecorder recorder(ledger, run.run_id);
  obs::ObserverList observers({&recorder, options.observer});
  observers.OnRunStarted(job.name, run.run_id, static_cast<int>(instances.size()));
  PipelineConfig pc = MakePipelineConfig(job, options, ctx, sink, run, task_run, &feed, &observers);
  pc.instances = std::move(instances);
  for (const auto& fork : forks) pc.more_sources.push_back(fork.get());
  Pipeline pipeline(std::move(pc));
  obs::Progress progress(options.progress_bar, task_run.rows_total, task_run.rows_before,
                         obs::LogFields(job.name, run.run_id));
  pipeline.on_commit = [&](int64_t shard, int64_t written, int64_t failed) {
    progress.ShardCommitted(shard, written, failed, pipeline.rows_done());
  };
  TaskResult result = RunWatched(pipeline, progress, job, options, run);
  progress.Finish(pipeline.rows_done());
  result.rows_processed = pipeline.rows_done();
  return result;
}

}  // namespace

Result<TaskResult> RunTasks(const JobSpec& job, const RunOptions& options, JobContext& ctx,
                            Sink* sink, Ledger* ledger, const RunRecord& run, TaskRun task_run) {
  // An exception on this thread fails the run (the caller records why)
  // instead of escaping to main and leaving the run marked running.
  try {
    return RunTasksUnguarded(job, options, ctx, sink, ledger, run, std::move(task_run));
  } catch (const std::exception& e) {
    TaskResult result;
    result.pipeline.status = Status(
        Code::kInternal, fmt::format("unexpected exception in the main thread: {}", e.what()));
    return result;
  }
}

Status WriteManifest(const JobSpec& job, Sink* sink, Ledger* ledger, const RunRecord& run,
                     Env* env) {
  NS_ASSIGN_OR_RETURN(RunCounts counts, ledger->Counts(run.run_id));
  NS_RETURN_IF_ERROR(CountByInputRow(job, ledger, run.run_id, &counts));
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run.run_id));
  NS_ASSIGN_OR_RETURN(auto retries, ledger->ListRetryParts(run.run_id));
  nlohmann::json files = nlohmann::json::array();
  nlohmann::json dead = nlohmann::json::array();
  std::vector<std::string> parts;  // every part file the run committed
  size_t r = 0;
  for (const auto& s : shards) {
    int64_t rows = s.rows_written;
    if (!s.output_file.empty()) parts.push_back(s.output_file);
    std::vector<const RetryPart*> retry_parts;
    for (; r < retries.size() && retries[r].shard_id == s.shard_id; ++r) {
      retry_parts.push_back(&retries[r]);
      if (!retries[r].output_file.empty()) parts.push_back(retries[r].output_file);
      rows -= retries[r].rows;
    }
    files.push_back({{"path", s.output_file}, {"rows", rows}, {"shard", s.shard_id}});
    for (const RetryPart* p : retry_parts) {
      files.push_back(
          {{"path", p->output_file}, {"rows", p->rows}, {"shard", s.shard_id}, {"retry", p->seq}});
    }
    if (!s.dead_letter_file.empty() && s.rows_failed > 0) {
      dead.push_back(
          {{"path", s.dead_letter_file}, {"rows", s.rows_failed}, {"shard", s.shard_id}});
    }
  }
  nlohmann::json m = {
      {"run_id", run.run_id},
      {"job", run.job_name},
      {"counts",
       {{"total", counts.total_rows}, {"succeeded", counts.succeeded}, {"failed", counts.failed}}},
      {"files", files},
      {"dead_letter_files", dead},
      {"completed_at_ms", env->NowMillis()}};
  if (counts.items_written >= 0) m["counts"]["items"] = counts.items_written;
  if (!IsDatabase(job.output.format)) {
    NS_RETURN_IF_ERROR(CheckCommittedParts(env, run.output_path, run.run_id, parts));
  }
  return sink->WriteSuccess(m.dump(2) + "\n");
}

}  // namespace nightshift::exec
