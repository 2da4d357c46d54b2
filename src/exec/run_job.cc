// RunJob: the run path, in four steps: plan or attach the run
// (exec/run_attach.h), claim shards from the ledger as the pipeline reads
// them (exec/shard_feed.h), run the pipeline (each shard published, fenced
// and committed by exec/shard_committer.h), and finish: _SUCCESS by the
// process that completes the run.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "env/crash_point.h"
#include "exec/batch_sizer.h"
#include "exec/item_counts.h"
#include "exec/job_context.h"
#include "exec/missing_success.h"
#include "exec/open_sink.h"
#include "exec/run_attach.h"
#include "exec/run_ending.h"
#include "exec/run_owner.h"
#include "exec/shard_feed.h"
#include "exec/task_runner.h"
#include "exec/which_run.h"
#include "nightshift/engine.h"
#include "nightshift/env.h"
#include "obs/log.h"
#include "obs/progress.h"
#include "plan/input_identity.h"
#include "plan/planner.h"

namespace nightshift {
namespace {

int64_t FailureLimit(const JobSpec& job, int64_t total_rows) {
  if (job.errors.max_failed_fraction.has_value()) {
    return static_cast<int64_t>(*job.errors.max_failed_fraction * static_cast<double>(total_rows));
  }
  return job.errors.max_failed_count;  // -1: never stop
}

// batch.size auto: probes (or finds in the ledger) the batch size, and hands
// the probe's instance to the first worker.
Status PickBatchSize(const JobSpec& job, exec::JobContext& ctx, Ledger* ledger,
                     const std::string& model_sha, const std::string& run_id,
                     const ShardTask* first, exec::TaskRun* tr) {
  bool one_row_model = false;  // exported with batch dimension 1: the binder fixed the size
  for (const auto& spec : ctx.model->inputs())
    one_row_model |= !spec.shape.empty() && spec.shape[0] == 1;
  if (job.batch.auto_size() && first != nullptr && !one_row_model) {
    NS_ASSIGN_OR_RETURN(auto probe_instance, ctx.model->CreateInstance());
    exec::SizerLimits limits;
    limits.max_memory = job.batch.max_memory;
    limits.instances = std::max(1, job.model.instances);
    NS_ASSIGN_OR_RETURN(
        exec::BatchSizeChoice choice,
        exec::ChooseBatchSize(
            probe_instance.get(), ctx.source.get(), ctx.binding.read, *first, limits, ledger,
            exec::BatchSizeKey(model_sha, job.model.device, job.model.threads, ctx.binding.read)));
    ctx.binding.read.batch_rows = choice.size;
    std::string how = "cached in the ledger";
    if (!choice.cached) {
      how = "probed";
      for (const auto& p : choice.probes) {
        how += fmt::format(" {}:{:.0f}/s", p.size, p.rows_per_s);
        if (choice.device_at_start.has_value()) how += fmt::format("/{}MiB", p.device_bytes >> 20);
      }
      if (choice.device_at_start.has_value()) {
        how += fmt::format("; device memory {} MiB free of {} MiB, {} MiB per instance",
                           choice.device_at_start->free_bytes >> 20,
                           choice.device_at_start->total_bytes >> 20, choice.device_budget >> 20);
      }
    }
    obs::Log(obs::LogLevel::kInfo, "batch_size_chosen",
             fmt::format("batch.size auto -> {} ({})", choice.size, how),
             obs::LogFields(job.name, run_id, -1, {{"batch_size", choice.size}}));
    // The probe's instance (a loaded session, warmed up) becomes the first
    // worker's instead of being thrown away.
    tr->first_instance = std::move(probe_instance);
  }
  return Status::Ok();
}

// The claim loop: claims the first shard(s), marks the run running and runs
// the pipeline, whose reader claims the rest as it goes. Every error here
// comes after the run started (RunJob turns it into a failed run).
Result<exec::TaskResult> RunClaimed(const JobSpec& job, const RunOptions& options,
                                    exec::JobContext& ctx, Ledger* ledger, Sink* sink,
                                    const std::string& model_sha, const RunRecord& run,
                                    exec::ShardFeed* feed) {
  NS_ASSIGN_OR_RETURN(const std::vector<ShardTask> primed, feed->Prime());
  NS_ASSIGN_OR_RETURN(RunCounts before, ledger->Counts(run.run_id));
  // A worker of a shared run marks it running only while it holds a shard,
  // which keeps a run another worker just completed from looking unfinished.
  if (!ledger->shared() || !primed.empty()) {
    NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kRunning, ""));
  }
  // The plan goes to the log at once: a slow first shard must not leave it empty.
  obs::Progress::LogPlan(job.name, run.run_id, static_cast<int64_t>(ctx.source->files().size()),
                         run.total_rows, before.shards_total, feed->shards_open_at_start(),
                         job.batch.auto_size() ? 0 : ctx.binding.read.batch_rows);
  exec::TaskRun tr;
  tr.feed = feed;
  NS_RETURN_IF_ERROR(PickBatchSize(job, ctx, ledger, model_sha, run.run_id,
                                   primed.empty() ? nullptr : &primed.front(), &tr));
  NS_RETURN_IF_ERROR(ledger->PutTuning(exec::RunBatchSizeKey(run.run_id),
                                       std::to_string(ctx.binding.read.batch_rows)));
  tr.commit = [ledger, id = run.run_id](const ShardTask& task, const ShardOutput& out) {
    return ledger->CommitShard(id, task.shard_id, task.epoch, out.rows_written, out.output_file,
                               out.dead_letter_file, out.failures);
  };
  tr.failure_limit = FailureLimit(job, run.total_rows);
  tr.failed_before = before.failed;
  tr.rows_total = run.total_rows;
  tr.rows_before = feed->rows_committed_at_start();
  return exec::RunTasks(job, options, ctx, sink, ledger, run, std::move(tr));
}

// errors.max_failed_items counts every worker's dead letters: each worker's
// own count sees only the failures committed before it started and its own,
// so a run is never complete (here) with more failed items than the limit in
// the ledger.
Status CheckRunFailures(const JobSpec& job, Ledger* ledger, const RunRecord& run) {
  const int64_t limit = FailureLimit(job, run.total_rows);
  if (limit < 0) return Status::Ok();
  NS_ASSIGN_OR_RETURN(RunCounts counts, ledger->Counts(run.run_id));
  if (counts.failed <= limit) return Status::Ok();
  return Status(Code::kFailed,
                fmt::format("{} items failed, more than errors.max_failed_items allows ({})",
                            counts.failed, limit));
}

// Shared ledger: the worker whose CompleteRunIfDone is true completes the run
// and writes _SUCCESS, once (never past the failure limit: then the run is
// failed, also when another worker completed it a moment before). Any other worker is done when
// nothing was left to claim; with --wait it polls (about once a second) until the run completes.
Status CompleteShared(const JobSpec& job, const RunOptions& options, Ledger* ledger, Sink* sink,
                      Env* env, RunReport* report) {
  const RunRecord& run = report->run;
  while (true) {
    NS_RETURN_IF_ERROR(CheckRunFailures(job, ledger, run));
    NS_ASSIGN_OR_RETURN(bool mine, ledger->CompleteRunIfDone(run.run_id));
    if (mine) {
      // A shard committed between the check and the completion.
      NS_RETURN_IF_ERROR(CheckRunFailures(job, ledger, run));
      MaybeCrash("after_complete");  // _SUCCESS is then written by a later run
      NS_RETURN_IF_ERROR(exec::WriteManifest(job, sink, ledger, run, env));
      obs::Log(
          obs::LogLevel::kInfo, "run_completed_here",
          fmt::format("this worker completed the run {}: every shard is committed", run.run_id),
          obs::LogFields("", run.run_id));
      return Status::Ok();
    }
    NS_ASSIGN_OR_RETURN(RunRecord now, ledger->GetRun(run.run_id));
    if (now.state == RunState::kCompleted) return CheckRunFailures(job, ledger, run);
    if (!options.wait) break;
    if (options.signals != nullptr && options.signals->load() > 0) {
      report->exit_code = ExitCode::kInterrupted;
      report->message = "interrupted while waiting for the other workers to complete the run";
      return Status::Ok();
    }
    env->SleepMicros(1000000);
  }
  report->message =
      fmt::format("worker done: nothing left to claim; the rest of run {} is held by other workers",
                  run.run_id);
  return Status::Ok();
}

// Finishes the run after the pipeline: interrupted (recorded for resume),
// or done: _SUCCESS and state completed (a shared run: CompleteShared).
Result<RunReport> Finish(const JobSpec& job, const RunOptions& options, exec::JobContext& ctx,
                         Ledger* ledger, Sink* sink, RunReport report,
                         const exec::TaskResult& result, const std::vector<ShardTask>& claimed) {
  Env* const env = options.env != nullptr ? options.env : Env::Default();
  const std::string run_id = report.run.run_id;
  report.rows_processed = result.rows_processed;
  report.stages = result.pipeline.stages;
  Status status = result.pipeline.status;
  // Every file read must still be the one planned on when the run ends.
  if (status.ok() && !result.pipeline.interrupted)
    status = plan::CheckAllUnchanged(env, ctx.source->read_files());
  if (!status.ok()) return Error(status);
  if (result.pipeline.interrupted) {
    report.exit_code = ExitCode::kInterrupted;
    report.message = fmt::format(
        "interrupted after committing {} shard(s); run the same command again to resume",
        result.pipeline.shards_committed);
    // On a shared ledger the other workers go on: only this one's shards stop.
    NS_RETURN_IF_ERROR(exec::RecordUnfinished(
        ledger, run_id, RunState::kInterrupted,
        result.drain_timed_out ? "interrupted by a signal; the batches in flight were cancelled "
                                 "after run.drain_timeout"
                               : "interrupted by a signal",
        claimed, !ledger->shared()));
  } else if (ledger->shared()) {
    NS_RETURN_IF_ERROR(CompleteShared(job, options, ledger, sink, env, &report));
  } else {
    NS_RETURN_IF_ERROR(exec::WriteManifest(job, sink, ledger, report.run, env));
    NS_RETURN_IF_ERROR(ledger->SetRunState(run_id, RunState::kCompleted, ""));
  }
  NS_ASSIGN_OR_RETURN(report.run, ledger->GetRun(run_id));
  NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(run_id));
  return report;
}

}  // namespace

Result<RunReport> RunJob(const JobSpec& job_file, const RunOptions& options) {
  Env* const env = options.env != nullptr ? options.env : Env::Default();
  const int64_t started_us = env->MonotonicMicros();
  NS_ASSIGN_OR_RETURN(const JobSpec job, exec::WithTriggerRunFiles(job_file, options.run_id, env));
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, exec::PrepareJob(job, env));
  // Declared before everything that may return early: its destructor waits
  // for the thread.
  exec::SinkDatabaseAhead sink_db = exec::OpenSinkDatabaseAhead(job);
  const std::string fingerprint = plan::Fingerprint(job, ctx.source->read_files());
  NS_ASSIGN_OR_RETURN(const std::string run_id, exec::RunIdFor(job, options, fingerprint));
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger, env));
  // Holds the run (SQLite) until this function returns.
  NS_ASSIGN_OR_RETURN(exec::AttachedRun attached,
                      exec::PlanOrAttach(job, ctx, ledger.get(), run_id, fingerprint, env));
  RunReport report = std::move(attached.report);
  if (attached.completed) {
    NS_RETURN_IF_ERROR(exec::WriteMissingSuccess(job, ctx, ledger.get(), report.run, env));
    NS_RETURN_IF_ERROR(exec::CountByInputRow(job, ledger.get(), run_id, &report.counts));
    return report;
  }
  const RunRecord run = report.run;

  NS_ASSIGN_OR_RETURN(SinkLayout sink_layout, exec::MakeSinkLayout(job, ctx, run, env));
  NS_ASSIGN_OR_RETURN(auto sink,
                      exec::OpenSink(job, run, std::move(sink_layout), ledger.get(), &sink_db));
  NS_RETURN_IF_ERROR(exec::AdoptHeldShards(sink.get(), ledger.get(), run));
  NS_ASSIGN_OR_RETURN(
      auto feed,
      exec::ShardFeed::Start({.ledger = ledger.get(),
                              .run_id = run.run_id,
                              .me = exec::ThisProcess(env),
                              .policy = {.worker_index = options.worker_index,
                                         .workers = options.workers,
                                         .lease_ms = static_cast<int64_t>(job.run.lease_s * 1000)},
                              .env = env,
                              .wait = options.wait}));
  // From the first claim on, the run has started: its errors fail the run.
  auto ran =
      RunClaimed(job, options, ctx, ledger.get(), sink.get(), attached.model_sha, run, feed.get());
  if (ran.has_value()) {  // this invocation's own figures, also when the run failed
    report.rows_processed = ran->rows_processed;
    report.stages = ran->pipeline.stages;
  }
  Result<RunReport> done = ran.has_value() ? Finish(job, options, ctx, ledger.get(), sink.get(),
                                                    report, *ran, feed->Claimed())
                                           : Result<RunReport>(Error(ran.error()));
  feed->StopHeartbeat();
  report = done.has_value() ? std::move(*done)
                            : exec::FailedAfterStart(ledger.get(), std::move(report), done.error(),
                                                     feed->Claimed());
  report.seconds = static_cast<double>(env->MonotonicMicros() - started_us) / 1e6;
  // Counted as the ledger has them when this cannot be read (a failed run).
  (void)exec::CountByInputRow(job, ledger.get(), run_id, &report.counts);
  return report;
}

}  // namespace nightshift
