// RetryFailures: re-run the dead-lettered rows of a run as extra parts.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>

#include "exec/input_pin.h"
#include "exec/item_counts.h"
#include "exec/job_context.h"
#include "exec/open_sink.h"
#include "exec/output_folders.h"
#include "exec/run_owner.h"
#include "exec/shard_tasks.h"
#include "exec/task_runner.h"
#include "exec/which_run.h"
#include "nightshift/engine.h"
#include "plan/planner.h"

namespace nightshift {
namespace {

// A dead letter is (shard, file, row within that file): a packed shard holds
// several files.
using RowRef = std::tuple<int64_t, int32_t, int64_t>;

// What a retry re-runs: one task per shard with dead letters still in the
// input, and the attempts each row has had so far: by (shard, file, row), or
// for an input read by key ranges (postgres), whose rows have no fixed
// number, by (shard, key).
struct RetryPlan {
  exec::TaskRun tasks;
  bool by_key = false;
  std::map<RowRef, int32_t> previous_attempts;
  std::map<std::pair<int64_t, std::string>, int32_t> previous_by_key;

  // Called by the writers of several lanes at once: reads only.
  int32_t PreviousAttempts(const ItemFailure& f) const {
    if (by_key) {
      auto it = previous_by_key.find({f.shard_id, f.key_json});
      return it == previous_by_key.end() ? 0 : it->second;
    }
    auto it = previous_attempts.find({f.shard_id, f.file_index, f.row});
    return it == previous_attempts.end() ? 0 : it->second;
  }
};

// One task per shard re-reading its dead-lettered keys (WHERE key = ANY).
void PlanRetryByKey(const std::map<int64_t, const ShardRecord*>& shard_by_id,
                    const std::map<int64_t, int32_t>& retries_done,
                    const std::vector<ItemFailure>& failures, RetryPlan* plan) {
  std::map<int64_t, std::vector<std::string>> keys_by_shard;
  for (const auto& f : failures) {
    keys_by_shard[f.shard_id].push_back(f.key_json);
    plan->previous_by_key[{f.shard_id, f.key_json}] = f.attempts;
  }
  exec::TaskRun& tr = plan->tasks;
  for (auto& [shard_id, keys] : keys_by_shard) {
    tr.rows_total += static_cast<int64_t>(keys.size());
    ShardTask t = exec::RetryTaskForKeys(*shard_by_id.at(shard_id), std::move(keys));
    t.shard_index = static_cast<int64_t>(tr.tasks.size());
    auto done = retries_done.find(shard_id);
    t.retry_seq = (done == retries_done.end() ? 0 : done->second) + 1;
    tr.tasks.push_back(std::move(t));
  }
}

Result<RetryPlan> PlanRetry(Ledger* ledger, const std::string& run_id,
                            const std::vector<ItemFailure>& failures, bool by_key) {
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run_id));
  NS_ASSIGN_OR_RETURN(auto parts, ledger->ListRetryParts(run_id));
  NS_ASSIGN_OR_RETURN(auto files, ledger->ListFiles(run_id));
  std::map<int64_t, const ShardRecord*> shard_by_id;
  for (const auto& s : shards) shard_by_id[s.shard_id] = &s;
  std::map<int64_t, int32_t> retries_done;
  for (const auto& p : parts) retries_done[p.shard_id] = std::max(retries_done[p.shard_id], p.seq);
  RetryPlan plan;
  plan.by_key = by_key;
  if (by_key) {
    PlanRetryByKey(shard_by_id, retries_done, failures, &plan);
    return plan;
  }
  std::map<int64_t, std::map<int32_t, std::vector<int64_t>>> rows_by_shard;
  for (const auto& f : failures) {
    rows_by_shard[f.shard_id][f.file_index].push_back(f.row);
    plan.previous_attempts[{f.shard_id, f.file_index, f.row}] = f.attempts;
  }
  exec::TaskRun& tr = plan.tasks;
  for (auto& [shard_id, by_file] : rows_by_shard) {
    const ShardRecord& s = *shard_by_id.at(shard_id);
    // Its rows came from a file no longer in the input (plan/replan.h).
    if (s.file_index < 0) continue;
    for (auto& [file, rows] : by_file) {
      std::sort(rows.begin(), rows.end());
      tr.rows_total += static_cast<int64_t>(rows.size());
    }
    ShardTask t = exec::RetryTaskForShard(s, files, by_file);
    t.shard_index = static_cast<int64_t>(tr.tasks.size());
    t.retry_seq = retries_done[shard_id] + 1;
    tr.tasks.push_back(std::move(t));
  }
  return plan;
}

// The run's sink, for adding to it: a retry never empties its run's folder.
// `prior_attempts` (may be empty) counts each dead letter's earlier attempts.
Result<std::unique_ptr<Sink>> OpenAddingSink(
    const JobSpec& job, exec::JobContext& ctx, Ledger* ledger, const RunRecord& run,
    std::function<int32_t(const ItemFailure&)> prior_attempts = nullptr) {
  NS_ASSIGN_OR_RETURN(SinkLayout sink_layout, exec::MakeSinkLayout(job, ctx, run, ctx.env));
  if (prior_attempts) sink_layout.prior_attempts = std::move(prior_attempts);
  JobSpec adding = job;
  adding.output.overwrite = false;
  return exec::OpenSink(adding, run, std::move(sink_layout), ledger);
}

// Runs the planned tasks into new parts of the run's output folder, each
// written and committed with the attempts its rows had before added to theirs.
Result<exec::TaskResult> RunRetry(const JobSpec& job, const RunOptions& options,
                                  exec::JobContext& ctx, Ledger* ledger, const RunRecord& run,
                                  RetryPlan plan) {
  NS_ASSIGN_OR_RETURN(auto sink,
                      OpenAddingSink(job, ctx, ledger, run, [&plan](const ItemFailure& f) {
                        return plan.PreviousAttempts(f);
                      }));
  exec::TaskRun tr = std::move(plan.tasks);
  tr.commit = [&](const ShardTask& task, const ShardOutput& out) {
    return ledger->CommitRetry(run.run_id, task.shard_id, task.retry_seq, out.rows_written,
                               out.output_file, out.dead_letter_file, out.failures);
  };
  tr.failure_limit = -1;  // a retry never makes things worse than they were
  // From here the retry has started: its errors are a failed retry (exit 1),
  // never "could not start". A retry claims no shards; the run keeps its state.
  auto ran = exec::RunTasks(job, options, ctx, sink.get(), ledger, run, std::move(tr));
  exec::TaskResult result;
  if (ran.has_value()) {
    result = std::move(*ran);
  } else {
    result.pipeline.status = ran.error();
  }
  if (result.pipeline.status.ok() && !result.pipeline.interrupted &&
      run.state == RunState::kCompleted) {
    result.pipeline.status = exec::WriteManifest(job, sink.get(), ledger, run, ctx.env);
  }
  return result;
}

// A completed run with nothing left to retry: its _SUCCESS is written again
// from the ledger, in case a retry was killed after its last commit and
// before it rewrote the manifest (which would then list the dead letters
// since retried and miss the retry parts for ever).
Status RewriteManifest(const JobSpec& job, exec::JobContext& ctx, Ledger* ledger,
                       const RunRecord& run) {
  if (run.state != RunState::kCompleted || IsDatabase(job.output.format)) return Status::Ok();
  NS_ASSIGN_OR_RETURN(auto sink, OpenAddingSink(job, ctx, ledger, run));
  return exec::WriteManifest(job, sink.get(), ledger, run, ctx.env);
}

// The exit code and message of a retry that ran, from its pipeline's outcome.
void ReportOutcome(const exec::TaskResult& result, size_t retried, RunReport* report) {
  report->rows_processed = result.rows_processed;
  report->stages = result.pipeline.stages;
  if (!result.pipeline.status.ok()) {
    report->exit_code = ExitCode::kFailed;
    report->message = result.pipeline.status.message();
  } else if (result.pipeline.interrupted) {
    report->exit_code = ExitCode::kInterrupted;
    report->message = "retry interrupted; run it again to retry the rest";
  } else {
    report->message =
        fmt::format("retried {} dead-lettered row(s) of run {}: {} now succeed, {} still fail",
                    retried, report->run.run_id,
                    static_cast<int64_t>(retried) - report->counts.failed, report->counts.failed);
  }
}

// Exit 0 says the run is complete: a retry of a run that is not (failed
// past errors.max_failed_items, interrupted, with shards never run) is exit
// 1 saying so, whatever the retried rows did.
void RequireCompleteRun(RunReport* report) {
  if (report->exit_code != ExitCode::kOk || report->run.state == RunState::kCompleted) return;
  report->exit_code = ExitCode::kFailed;
  report->message +=
      fmt::format("; run {} is still {} ({} of {} shards committed): `nightshift run` finishes it",
                  report->run.run_id, RunStateName(report->run.state),
                  report->counts.shards_committed, report->counts.shards_total);
}

}  // namespace

Result<RunReport> RetryFailures(const JobSpec& job_file, const RunOptions& options) {
  Env* const env = options.env != nullptr ? options.env : Env::Default();
  const int64_t started_us = env->MonotonicMicros();
  NS_ASSIGN_OR_RETURN(const JobSpec job, exec::WithTriggerRunFiles(job_file, options.run_id, env));
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, exec::PrepareJob(job, env));
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger, env));
  NS_ASSIGN_OR_RETURN(
      std::string run_id,
      exec::ResolveRunId(job, options.run_id, plan::Fingerprint(job, ctx.source->read_files()),
                         ledger.get()));
  RunReport report;
  NS_ASSIGN_OR_RETURN(report.run, ledger->GetRun(run_id));
  // Not while another process runs or retries this run (see RunJob).
  NS_ASSIGN_OR_RETURN(auto ownership, exec::RunOwnership::Acquire(ledger.get(), run_id, env));
  const RunRecord run = report.run;
  NS_RETURN_IF_ERROR(exec::CheckInputForRetry(job, ctx, ledger.get(), run_id));
  NS_ASSIGN_OR_RETURN(auto failures, ledger->ListFailures(run_id, -1));
  NS_ASSIGN_OR_RETURN(RetryPlan plan, PlanRetry(ledger.get(), run_id, failures,
                                                job.input.format == InputFormat::kPostgres));
  if (plan.tasks.tasks.empty()) {
    // Nothing to re-run: no part is written, not even an empty one.
    NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(run_id));
    NS_RETURN_IF_ERROR(exec::CountByInputRow(job, ledger.get(), run_id, &report.counts));
    report.message = fmt::format("nothing to retry: run {} has no dead-lettered rows", run_id);
    NS_RETURN_IF_ERROR(RewriteManifest(job, ctx, ledger.get(), run));
    RequireCompleteRun(&report);
    return report;
  }
  NS_ASSIGN_OR_RETURN(exec::TaskResult result,
                      RunRetry(job, options, ctx, ledger.get(), run, std::move(plan)));
  if (auto r = ledger->GetRun(run_id); r.has_value()) report.run = *r;
  if (auto c = ledger->Counts(run_id); c.has_value()) report.counts = *c;
  (void)exec::CountByInputRow(job, ledger.get(), run_id, &report.counts);
  ReportOutcome(result, failures.size(), &report);
  RequireCompleteRun(&report);
  report.seconds = static_cast<double>(env->MonotonicMicros() - started_us) / 1e6;
  return report;
}

}  // namespace nightshift
