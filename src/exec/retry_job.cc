// RetryFailures: re-run the dead-lettered rows of a run as extra parts.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "exec/job_context.h"
#include "exec/output_folders.h"
#include "exec/run_owner.h"
#include "exec/shard_tasks.h"
#include "exec/task_runner.h"
#include "nightshift/engine.h"
#include "plan/planner.h"

namespace nightshift {

Result<RunReport> RetryFailures(const JobSpec& job, const RunOptions& options) {
  auto started = std::chrono::steady_clock::now();
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, exec::PrepareJob(job));
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger));
  std::string run_id = options.run_id;
  if (run_id.empty()) {
    run_id = plan::DeriveRunId(job, plan::Fingerprint(job, ctx.source->read_files()));
    if (!ledger->GetRun(run_id).has_value()) {
      NS_ASSIGN_OR_RETURN(RunRecord latest, ledger->LatestRun(job.name));
      run_id = latest.run_id;
    }
  }
  RunReport report;
  NS_ASSIGN_OR_RETURN(report.run, ledger->GetRun(run_id));
  // Not while another process runs or retries this run (see RunJob).
  NS_ASSIGN_OR_RETURN(auto ownership,
                      exec::RunOwnership::Acquire(ledger.get(), run_id,
                                                  options.env ? options.env : Env::Default()));
  const RunRecord run = report.run;
  NS_ASSIGN_OR_RETURN(auto failures, ledger->ListFailures(run_id, -1));
  if (failures.empty()) {
    NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(run_id));
    report.message = fmt::format("run {} has no dead-lettered items; nothing to retry", run_id);
    return report;
  }
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run_id));
  NS_ASSIGN_OR_RETURN(auto parts, ledger->ListRetryParts(run_id));
  std::map<int64_t, const ShardRecord*> shard_by_id;
  for (const auto& s : shards) shard_by_id[s.shard_id] = &s;
  std::map<int64_t, int32_t> retries_done;
  for (const auto& p : parts) retries_done[p.shard_id] = std::max(retries_done[p.shard_id], p.seq);
  // A dead letter is (shard, file, row within that file): a packed shard
  // holds several files.
  std::map<std::tuple<int64_t, int32_t, int64_t>, int32_t> previous_attempts;
  std::map<int64_t, std::map<int32_t, std::vector<int64_t>>> rows_by_shard;
  for (const auto& f : failures) {
    rows_by_shard[f.shard_id][f.file_index].push_back(f.row);
    previous_attempts[{f.shard_id, f.file_index, f.row}] = f.attempts;
  }
  NS_ASSIGN_OR_RETURN(auto files, ledger->ListFiles(run_id));

  exec::TaskRun tr;
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
  NS_ASSIGN_OR_RETURN(SinkLayout sink_layout, exec::MakeSinkLayout(job, ctx, run, options.env));
  JobSpec adding = job;  // a retry adds parts to its run's folder, never empties one
  adding.output.overwrite = false;
  NS_RETURN_IF_ERROR(exec::ClaimOutputFolders(adding, run, sink_layout, ledger.get()));
  NS_ASSIGN_OR_RETURN(auto sink, OpenFileSink(sink_layout, 1));
  Ledger* l = ledger.get();
  tr.commit = [&, l](const ShardTask& task, const ShardOutput& out) {
    std::vector<ItemFailure> remaining = out.failures;
    for (auto& f : remaining) f.attempts += previous_attempts[{f.shard_id, f.file_index, f.row}];
    return l->CommitRetry(run.run_id, task.shard_id, task.retry_seq, out.rows_written,
                          out.output_file, out.dead_letter_file, remaining);
  };
  tr.failure_limit = -1;  // a retry never makes things worse than they were
  // From here the retry has started: its errors are a failed retry (exit 1),
  // never "could not start". A retry claims no shards; the run keeps its state.
  auto ran = exec::RunTasks(job, options, ctx, sink.get(), l, run, std::move(tr));
  exec::TaskResult result;
  if (ran.has_value()) {
    result = std::move(*ran);
  } else {
    result.pipeline.status = ran.error();
  }
  report.rows_processed = result.rows_processed;
  report.stages = result.pipeline.stages;
  if (!result.pipeline.status.ok()) {
    report.exit_code = ExitCode::kFailed;
    report.message = result.pipeline.status.message();
  } else if (result.pipeline.interrupted) {
    report.exit_code = ExitCode::kInterrupted;
    report.message = "retry interrupted; run it again to retry the rest";
  } else if (run.state == RunState::kCompleted) {
    if (Status s = exec::WriteManifest(sink.get(), l, run); !s.ok()) {
      report.exit_code = ExitCode::kFailed;
      report.message = s.message();
    }
  }
  if (auto r = ledger->GetRun(run_id); r.has_value()) report.run = *r;
  if (auto c = ledger->Counts(run_id); c.has_value()) report.counts = *c;
  if (report.message.empty()) {
    report.message = fmt::format(
        "retried {} dead-lettered row(s) of run {}: {} now succeed, {} still fail", failures.size(),
        run_id, static_cast<int64_t>(failures.size()) - report.counts.failed, report.counts.failed);
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace nightshift
