// RunJob: plan or attach the run, claim pending shards, run the pipeline,
// finish with the _SUCCESS manifest.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "exec/batch_sizer.h"
#include "exec/input_pin.h"
#include "exec/job_context.h"
#include "exec/open_sink.h"
#include "exec/output_folders.h"
#include "exec/run_ending.h"
#include "exec/run_owner.h"
#include "exec/shard_tasks.h"
#include "exec/task_runner.h"
#include "nightshift/digest.h"
#include "nightshift/engine.h"
#include "nightshift/env.h"
#include "nightshift/utc_time.h"
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

Result<RunReport> AlreadyCompleted(Ledger* ledger, const RunRecord& run) {
  RunReport report;
  report.run = run;
  NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(run.run_id));
  report.message = fmt::format("run {} already completed; nothing to do", run.run_id);
  return report;
}

// Claims every shard not yet committed into `tr` (and `claimed`, which
// outlives `tr`). One worker per run; the shared PostgreSQL ledger will claim
// shard by shard instead.
Status ClaimShards(Ledger* ledger, const RunRecord& run, exec::TaskRun* tr,
                   std::vector<ShardTask>* claimed) {
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run.run_id));
  NS_ASSIGN_OR_RETURN(auto files, ledger->ListFiles(run.run_id));
  std::map<int32_t, int64_t> file_end;  // per file, the end of its last shard
  for (const auto& s : shards) file_end[s.file_index] = std::max(file_end[s.file_index], s.row_end);
  for (const auto& s : shards) {
    if (s.state == ShardState::kCommitted) {
      tr->rows_before += s.row_end - s.row_begin;
      continue;
    }
    NS_ASSIGN_OR_RETURN(int64_t epoch, ledger->ClaimShard(run.run_id, s.shard_id));
    ShardTask t = exec::TaskForShard(s, files, s.row_end == file_end[s.file_index]);
    t.shard_index = static_cast<int64_t>(tr->tasks.size());
    t.epoch = epoch;
    claimed->push_back(t);
    tr->tasks.push_back(std::move(t));
  }
  return Status::Ok();
}

// batch.size auto: probes (or finds in the ledger) the batch size, and hands
// the probe's instance to the first worker.
Status PickBatchSize(const JobSpec& job, exec::JobContext& ctx, Ledger* ledger,
                     const std::string& model_sha, exec::TaskRun* tr) {
  bool one_row_model = false;  // exported with batch dimension 1: the binder fixed the size
  for (const auto& spec : ctx.model->inputs())
    one_row_model |= !spec.shape.empty() && spec.shape[0] == 1;
  if (job.batch.auto_size() && !tr->tasks.empty() && !one_row_model) {
    NS_ASSIGN_OR_RETURN(auto probe_instance, ctx.model->CreateInstance());
    exec::SizerLimits limits;
    limits.max_memory = job.batch.max_memory;
    limits.instances = std::max(1, job.model.instances);
    NS_ASSIGN_OR_RETURN(
        exec::BatchSizeChoice choice,
        exec::ChooseBatchSize(
            probe_instance.get(), ctx.source.get(), ctx.binding.read, tr->tasks[0], limits, ledger,
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
             obs::LogFields(job.name, "", -1, {{"batch_size", choice.size}}));
    // The probe's instance (a loaded session, warmed up) becomes the first
    // worker's instead of being thrown away.
    tr->first_instance = std::move(probe_instance);
  }
  return Status::Ok();
}

// Runs the claimed shards and records how the run ended. Every error here
// comes after the run started (RunJob turns it into a failed run).
Result<RunReport> RunClaimed(const JobSpec& job, const RunOptions& options, exec::JobContext& ctx,
                             Ledger* ledger, Sink* sink, const std::string& model_sha,
                             RunReport report, exec::TaskRun tr,
                             const std::vector<ShardTask>& claimed) {
  const RunRecord& run = report.run;
  NS_ASSIGN_OR_RETURN(RunCounts before, ledger->Counts(run.run_id));
  NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kRunning, ""));
  // The plan goes to the log at once: a slow first shard must not leave it empty.
  obs::Progress::LogPlan(
      run.run_id, static_cast<int64_t>(ctx.source->files().size()), run.total_rows,
      before.shards_total, static_cast<int64_t>(tr.tasks.size()),
      job.batch.auto_size() ? "auto" : std::to_string(ctx.binding.read.batch_rows));
  NS_RETURN_IF_ERROR(PickBatchSize(job, ctx, ledger, model_sha, &tr));
  NS_RETURN_IF_ERROR(ledger->PutTuning(exec::RunBatchSizeKey(run.run_id),
                                       std::to_string(ctx.binding.read.batch_rows)));
  Ledger* l = ledger;
  tr.commit = [l, id = run.run_id](const ShardTask& task, const ShardOutput& out) {
    return l->CommitShard(id, task.shard_id, task.epoch, out.rows_written, out.output_file,
                          out.dead_letter_file, out.failures);
  };
  tr.failure_limit = FailureLimit(job, run.total_rows);
  tr.failed_before = before.failed;
  tr.rows_total = run.total_rows;
  NS_ASSIGN_OR_RETURN(exec::TaskResult result,
                      exec::RunTasks(job, options, ctx, sink, l, run, std::move(tr)));

  report.rows_processed = result.rows_processed;
  report.stages = result.pipeline.stages;
  // Every file read must still be the one planned on when the run ends.
  if (result.pipeline.status.ok() && !result.pipeline.interrupted)
    result.pipeline.status = plan::CheckAllUnchanged(
        options.env != nullptr ? options.env : Env::Default(), ctx.source->read_files());
  if (!result.pipeline.status.ok()) return Error(result.pipeline.status);
  if (result.pipeline.interrupted) {
    report.exit_code = ExitCode::kInterrupted;
    report.message = fmt::format(
        "interrupted after committing {} shard(s); run the same command again to resume",
        result.pipeline.shards_committed);
    NS_RETURN_IF_ERROR(exec::RecordUnfinished(ledger, run.run_id, RunState::kInterrupted,
                                              result.drain_timed_out
                                                  ? "interrupted by a signal; the batches in "
                                                    "flight were cancelled after run.drain_timeout"
                                                  : "interrupted by a signal",
                                              claimed));
  } else {
    NS_RETURN_IF_ERROR(
        exec::WriteManifest(sink, l, run, options.env != nullptr ? options.env : Env::Default()));
    NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kCompleted, ""));
  }
  NS_ASSIGN_OR_RETURN(report.run, ledger->GetRun(report.run.run_id));
  NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(report.run.run_id));
  return report;
}

}  // namespace

Result<RunReport> RunJob(const JobSpec& job, const RunOptions& options) {
  Env* const env = options.env != nullptr ? options.env : Env::Default();
  const int64_t started_us = env->MonotonicMicros();
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, exec::PrepareJob(job, env));
  const std::string fingerprint = plan::Fingerprint(job, ctx.source->read_files());
  const std::string run_id =
      options.run_id.empty() ? plan::DeriveRunId(job, fingerprint) : options.run_id;
  if (run_id.empty() || run_id == "." || run_id == ".." ||
      run_id.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
          std::string::npos) {
    return Error(Code::kInvalidJob,
                 fmt::format("--run-id '{}' may only hold letters, digits, '_', '.' and '-' "
                             "(it becomes part of output.path)",
                             run_id));
  }
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger, env));

  RunReport report;
  auto existing = ledger->GetRun(run_id);
  if (!existing.has_value() && existing.error().code() != Code::kNotFound)
    return Error(existing.error());
  if (existing.has_value() && existing->state == RunState::kCompleted) {
    // Nothing to run, so nothing to take: a completed run is only checked
    // against its input (exec/input_pin.h) and left as it is, unless
    // run.allow_input_change re-planned it on new input.
    NS_RETURN_IF_ERROR(exec::AttachInput(job, ctx, ledger.get(), run_id));
    NS_ASSIGN_OR_RETURN(existing, ledger->GetRun(run_id));  // re-planned: runs again
    if (existing->state == RunState::kCompleted) return AlreadyCompleted(ledger.get(), *existing);
  }
  if (!existing.has_value()) {
    NS_RETURN_IF_ERROR(exec::CheckAllFiles(job, ctx));
    auto plan = plan::MakePlan(job, ctx.source.get());
    if (!plan.has_value()) return Error(Code::kInvalidData, plan.error().message());
    RunRecord rec;
    rec.run_id = run_id;
    rec.job_name = job.name;
    rec.fingerprint = fingerprint;
    rec.output_path = IsDatabase(job.output.format) ? exec::DatabaseOutputPath(job.output)
                                                    : ExpandOutputPath(job.output.path, job, run_id,
                                                                       UtcDate(env->NowMillis()));
    rec.model_path = job.model.path;
    rec.total_rows = plan->total_rows;
    NS_ASSIGN_OR_RETURN(report.run, ledger->CreateOrAttachRun(rec, plan->files, plan->shards));
    NS_RETURN_IF_ERROR(exec::RecordInput(job, ctx, ledger.get(), run_id));
  }
  // One process per run, taken before anything touches the output folder or
  // the shards; held (with a heartbeat) until this function returns.
  NS_ASSIGN_OR_RETURN(auto ownership, exec::RunOwnership::Acquire(ledger.get(), run_id, env));
  // A run id stands for one job and input (exec/input_pin.h): checked (or
  // re-planned) only by the process that holds the run.
  if (existing.has_value()) {
    NS_RETURN_IF_ERROR(exec::AttachInput(job, ctx, ledger.get(), run_id));
  }
  // Re-read: the owner we waited on may have finished the run meanwhile.
  NS_ASSIGN_OR_RETURN(report.run, ledger->GetRun(run_id));
  if (report.run.state == RunState::kCompleted) return AlreadyCompleted(ledger.get(), report.run);
  // The model a run started with is the model it finishes with: a resumed run
  // refuses a file that changed underneath it, unless told otherwise.
  NS_ASSIGN_OR_RETURN(const std::string model_sha, exec::ModelSha256(job, ctx));
  if (!report.run.model_sha256.empty() && report.run.model_sha256 != model_sha &&
      !job.model.allow_change) {
    return Error(
        Code::kModelError,
        fmt::format(
            "model '{}' changed since run {} started (sha256 {} then, {} now); restore it, start a "
            "new run with --run-id, or resume anyway with --set model.allow_change=true",
            job.model.path, report.run.run_id, report.run.model_sha256, model_sha));
  }
  if (report.run.model_sha256 != model_sha || report.run.model_path != job.model.path) {
    NS_RETURN_IF_ERROR(ledger->SetRunModel(report.run.run_id, job.model.path, model_sha));
    report.run.model_sha256 = model_sha;
    report.run.model_path = job.model.path;
  }
  const RunRecord& run = report.run;

  NS_ASSIGN_OR_RETURN(SinkLayout sink_layout, exec::MakeSinkLayout(job, ctx, run, env));
  NS_ASSIGN_OR_RETURN(auto sink, exec::OpenSink(job, run, std::move(sink_layout), ledger.get()));
  NS_RETURN_IF_ERROR(exec::AdoptHeldShards(sink.get(), ledger.get(), run.run_id));

  exec::TaskRun tr;
  std::vector<ShardTask> claimed;
  // From the first claim on, the run has started: its errors fail the run.
  Status claim = ClaimShards(ledger.get(), run, &tr, &claimed);
  Result<RunReport> ran = claim.ok() ? RunClaimed(job, options, ctx, ledger.get(), sink.get(),
                                                  model_sha, report, std::move(tr), claimed)
                                     : Result<RunReport>(Error(claim));
  if (ran.has_value()) {
    report = std::move(*ran);
  } else {
    report = exec::FailedAfterStart(ledger.get(), std::move(report), ran.error(), claimed);
  }
  report.seconds = static_cast<double>(env->MonotonicMicros() - started_us) / 1e6;
  return report;
}

}  // namespace nightshift
