// RunJob: plan or attach the run, claim pending shards, run the pipeline,
// finish with the _SUCCESS manifest.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "exec/job_context.h"
#include "exec/pipeline.h"
#include "nightshift/engine.h"
#include "nightshift/env.h"
#include "obs/progress.h"
#include "plan/planner.h"

namespace nightshift {
namespace {

int64_t NowMs() { return Env::Default()->NowMicros() / 1000; }

std::string UtcDate(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string DeadLetterDir(const JobSpec& job, const std::string& output_dir) {
  std::string d = job.errors.dead_letter;
  const std::string token = "{output}";
  for (auto pos = d.find(token); pos != std::string::npos; pos = d.find(token)) d.replace(pos, token.size(), output_dir);
  return d;
}

int64_t FailureLimit(const JobSpec& job, int64_t total_rows) {
  if (job.errors.max_failed_fraction.has_value()) {
    return static_cast<int64_t>(*job.errors.max_failed_fraction * static_cast<double>(total_rows));
  }
  return job.errors.max_failed_count;  // -1: never stop
}

Status WriteManifest(Sink* sink, Ledger* ledger, const RunRecord& run) {
  NS_ASSIGN_OR_RETURN(RunCounts counts, ledger->Counts(run.run_id));
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run.run_id));
  nlohmann::json files = nlohmann::json::array();
  nlohmann::json dead = nlohmann::json::array();
  for (const auto& s : shards) {
    files.push_back({{"path", s.output_file}, {"rows", s.rows_written}, {"shard", s.shard_id}});
    if (!s.dead_letter_file.empty()) dead.push_back({{"path", s.dead_letter_file}, {"rows", s.rows_failed}});
  }
  nlohmann::json m = {{"run_id", run.run_id},
                      {"job", run.job_name},
                      {"counts", {{"total", counts.total_rows}, {"succeeded", counts.succeeded}, {"failed", counts.failed}}},
                      {"files", files},
                      {"dead_letter_files", dead},
                      {"completed_at_ms", NowMs()}};
  return sink->WriteSuccess(m.dump(2) + "\n");
}

}  // namespace

Result<RunReport> RunJob(const JobSpec& job, const RunOptions& options) {
  auto started = std::chrono::steady_clock::now();
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, exec::PrepareJob(job));
  const std::string fingerprint = plan::Fingerprint(job, ctx.source->files());
  const std::string run_id = options.run_id.empty() ? plan::DeriveRunId(job, fingerprint) : options.run_id;
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger));

  RunReport report;
  auto existing = ledger->GetRun(run_id);
  if (!existing.has_value() && existing.error().code() != Code::kNotFound) return Error(existing.error());
  if (existing.has_value() && existing->state == RunState::kCompleted) {
    report.run = *existing;
    NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(run_id));
    report.message = fmt::format("run {} already completed; nothing to do", run_id);
    return report;
  }
  if (!existing.has_value()) {
    NS_RETURN_IF_ERROR(exec::CheckAllFiles(job, ctx));
    auto plan = plan::MakePlan(job, ctx.source.get());
    if (!plan.has_value()) return Error(Code::kInvalidData, plan.error().message());
    RunRecord rec;
    rec.run_id = run_id;
    rec.job_name = job.name;
    rec.fingerprint = fingerprint;
    rec.output_path = ExpandOutputPath(job.output.path, job, run_id, UtcDate(NowMs()));
    rec.model_path = job.model.path;
    rec.total_rows = plan->total_rows;
    NS_ASSIGN_OR_RETURN(report.run, ledger->CreateOrAttachRun(rec, plan->files, plan->shards));
  } else {
    report.run = *existing;
  }
  const RunRecord& run = report.run;

  SinkLayout sink_layout = ctx.binding.sink;
  sink_layout.env = options.env;
  sink_layout.output_dir = run.output_path;
  sink_layout.dead_letter_dir = DeadLetterDir(job, run.output_path);
  NS_ASSIGN_OR_RETURN(sink_layout.carried_types, ctx.source->CarriedTypes(ctx.binding.read));
  NS_ASSIGN_OR_RETURN(auto sink, OpenFileSink(sink_layout, 1));

  // Claim every shard not yet committed (one worker per run; the shared
  // PostgreSQL ledger will claim shard by shard instead).
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run.run_id));
  std::vector<ShardTask> tasks;
  int64_t rows_before = 0;
  for (const auto& s : shards) {
    if (s.state == ShardState::kCommitted) {
      rows_before += s.row_end - s.row_begin;
      continue;
    }
    NS_ASSIGN_OR_RETURN(int64_t epoch, ledger->ClaimShard(run.run_id, s.shard_id));
    tasks.push_back({s.shard_id, static_cast<int64_t>(tasks.size()), s.file_index, s.row_begin, s.row_end, epoch});
  }
  NS_ASSIGN_OR_RETURN(RunCounts before, ledger->Counts(run.run_id));
  NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kRunning, ""));

  // Model instances: one per worker thread.
  std::vector<std::unique_ptr<ModelInstance>> instances;
  for (int i = 0; i < std::max(1, job.model.instances); ++i) {
    NS_ASSIGN_OR_RETURN(auto inst, ctx.model->CreateInstance());
    instances.push_back(options.wrap_instance ? options.wrap_instance(std::move(inst)) : std::move(inst));
  }

  exec::PipelineConfig pc;
  pc.source = ctx.source.get();
  pc.sink = sink.get();
  pc.ledger = ledger.get();
  pc.instances = std::move(instances);
  Model* model = ctx.model.get();
  pc.make_instance = [model, wrap = options.wrap_instance]() -> Result<std::unique_ptr<ModelInstance>> {
    NS_ASSIGN_OR_RETURN(auto inst, model->CreateInstance());
    return wrap ? wrap(std::move(inst)) : std::move(inst);
  };
  pc.layout = ctx.binding.read;
  for (const auto& o : job.model.outputs) pc.output_names.push_back(o.name);
  pc.output_columns = sink_layout.outputs;
  pc.run_id = run.run_id;
  pc.shards = tasks;
  pc.errors = job.errors;
  pc.failure_limit = FailureLimit(job, run.total_rows);
  pc.failed_before = before.failed;
  exec::Pipeline pipeline(std::move(pc));
  obs::Progress progress(options.progress_bar, run.total_rows, rows_before);
  pipeline.on_commit = [&](int64_t shard, int64_t written, int64_t failed) {
    progress.ShardCommitted(shard, written, failed, pipeline.rows_done());
  };

  exec::PipelineResult result;
  std::thread runner([&] { result = pipeline.Run(); });
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    bool stopping = false;
    auto stop_at = std::chrono::steady_clock::now();
    while (!done.load()) {
      if (!stopping && options.signals != nullptr && options.signals->load() > 0) {
        stopping = true;
        stop_at = std::chrono::steady_clock::now();
        pipeline.RequestStop();
      }
      if (stopping && std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_at).count() >
                          job.run.drain_timeout_s) {
        // In-flight work did not drain in time (a slow model): give up on it.
        // Committed shards are durable; temp files are removed by the next run.
        (void)ledger->SetRunState(run.run_id, RunState::kInterrupted,
                                  "interrupted by a signal; in-flight work abandoned after run.drain_timeout");
        std::fprintf(stderr, "nightshift: drain timeout (%.0f s) passed; exiting\n", job.run.drain_timeout_s);
        std::_Exit(75);
      }
      progress.Tick(pipeline.rows_done());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  runner.join();
  done.store(true);
  watcher.join();
  progress.Finish(pipeline.rows_done());

  report.rows_processed = pipeline.rows_done();
  if (!result.status.ok()) {
    report.exit_code = 1;
    report.message = result.status.message();
    NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kFailed, result.status.message()));
  } else if (result.interrupted) {
    report.exit_code = 75;
    report.message = fmt::format("interrupted after committing {} shard(s); run the same command again to resume",
                                 result.shards_committed);
    NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kInterrupted, "interrupted by a signal"));
  } else {
    NS_RETURN_IF_ERROR(WriteManifest(sink.get(), ledger.get(), run));
    NS_RETURN_IF_ERROR(ledger->SetRunState(run.run_id, RunState::kCompleted, ""));
  }
  NS_ASSIGN_OR_RETURN(report.run, ledger->GetRun(run.run_id));
  NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(run.run_id));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace nightshift
