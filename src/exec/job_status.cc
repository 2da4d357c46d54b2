// ValidateJob, GetJobStatus and the status JSON.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "exec/batch_sizer.h"
#include "exec/item_counts.h"
#include "exec/job_context.h"
#include "exec/run_owner.h"
#include "exec/status_workers.h"
#include "exec/which_run.h"
#include "nightshift/engine.h"
#include "nightshift/pg_location.h"
#include "nightshift/utc_time.h"
#include "plan/planner.h"

namespace nightshift {
namespace {

nlohmann::json Timestamp(int64_t ms) {
  if (ms <= 0) return nullptr;
  return UtcMillis(ms);
}

}  // namespace

Result<std::string> ValidateJob(const JobSpec& job_file, Env* env) {
  JobSpec job = job_file;
  const bool trigger = exec::TakesTriggerFiles(job);
  // A trigger job is checked against the files trigger.watch matches now, as
  // a run of them would read them.
  if (trigger) job.input = exec::WatchedInput(job);
  auto prepared = exec::PrepareJob(job, env != nullptr ? env : Env::Default());
  if (!prepared.has_value() && trigger && prepared.error().code() == Code::kNotFound) {
    return Error(Code::kInvalidJob,
                 fmt::format("trigger.watch '{}' matches no file yet, so the input's columns "
                             "cannot be checked against the model; run validate again once a file "
                             "is there ({})",
                             job.trigger->watch, prepared.error().message()));
  }
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, std::move(prepared));
  NS_RETURN_IF_ERROR(exec::CheckAllFiles(job, ctx));
  std::string out = fmt::format("job '{}' is valid\n", job.name);
  out += fmt::format("input: {} ({} file(s))\n", job.input.query.empty() ? job.input.path : "query",
                     ctx.source->files().size());
  for (const auto& c : ctx.columns) out += fmt::format("  column {} {}\n", c.name, c.sql_type);
  out += fmt::format("model: {} ({})\n  {}\n", job.model.path, job.model.backend,
                     ctx.model->Signature());
  for (size_t i = 0; i < ctx.binding.read.inputs.size(); ++i) {
    const auto& in = ctx.binding.read.inputs[i];
    std::vector<std::string> dims = {"batch"};
    for (int64_t d : in.row_shape) dims.push_back(std::to_string(d));
    out += fmt::format("  feeds {} {}[{}] from [{}]\n", ctx.model->inputs()[i].name,
                       DTypeName(in.dtype), fmt::join(dims, ", "), fmt::join(in.columns, ", "));
  }
  std::vector<std::string> cols(job.output.keep.begin(), job.output.keep.end());
  for (const auto& o : ctx.binding.sink.outputs) cols.push_back(o.name + (o.is_list ? "[]" : ""));
  out += fmt::format("output: {} ({}) columns [{}]\n", job.output.path,
                     OutputFormatName(job.output.format), fmt::join(cols, ", "));
  return out;
}

namespace {

// The id of the run `status` describes when none is given (exec/which_run.h).
// Without a ledger, or with no run of the job in it, the id `run` would give
// (so status says "not started"); the input's error when it cannot be listed.
Result<std::string> StatusRunId(const JobSpec& job, Ledger* ledger) {
  Result<std::string> fingerprint = plan::Fingerprint(job, {});
  // A postgres input reads no files: its run id needs no connection.
  if (job.input.format != InputFormat::kPostgres) {
    auto source = OpenSource(job.input, 1);
    fingerprint = source.has_value()
                      ? Result<std::string>(plan::Fingerprint(job, (*source)->read_files()))
                      : Result<std::string>(Error(source.error()));
  }
  if (ledger != nullptr) {
    auto resolved = exec::ResolveRunId(job, "", fingerprint, ledger);
    if (resolved.has_value() || resolved.error().code() != Code::kNotFound) return resolved;
  }
  if (!fingerprint.has_value()) return Error(fingerprint.error());
  return exec::RunIdFor(job, *fingerprint, "");
}

// A run stored as running whose process is gone (SIGKILL, crash, a second
// signal) is reported as interrupted, with when its owner was last seen.
Status CheckOwner(Ledger* ledger, StatusReport* report) {
  NS_ASSIGN_OR_RETURN(report->owner, ledger->GetRunOwner(report->run.run_id));
  if (report->run.state != RunState::kRunning) return Status::Ok();
  Env* env = Env::Default();
  if (report->owner.has_value() && !exec::OwnerGone(env, *report->owner, env->NowMicros() / 1000)) {
    return Status::Ok();
  }
  report->last_seen_ms =
      report->owner.has_value() ? report->owner->heartbeat_at_ms : report->run.updated_at_ms;
  report->run.state = RunState::kInterrupted;
  report->run.message =
      "the process running it is gone (killed or crashed); run the same "
      "command again to resume";
  return Status::Ok();
}

}  // namespace

Result<StatusReport> GetJobStatus(const JobSpec& job, const std::string& run_id, bool with_failures,
                                  int64_t failure_limit) {
  // Read-only: status never creates a ledger or writes to one.
  std::unique_ptr<Ledger> ledger;
  auto opened = Ledger::OpenForReading(job.run.ledger);
  if (opened.has_value()) {
    ledger = std::move(*opened);
  } else if (opened.error().code() != Code::kNotFound) {
    return Error(opened.error());
  }
  StatusReport report;
  report.failures_listed = with_failures;
  std::string id = run_id;
  if (id.empty()) {
    NS_ASSIGN_OR_RETURN(id, StatusRunId(job, ledger.get()));
  }
  auto run = ledger ? ledger->GetRun(id) : Result<RunRecord>(Error(Code::kNotFound, ""));
  if (!run.has_value()) {
    if (run.error().code() != Code::kNotFound) return Error(run.error());
    if (!run_id.empty())
      return Error(Code::kNotFound, fmt::format("no run '{}' in ledger {}", run_id,
                                                RedactPostgresLocation(job.run.ledger)));
    report.run.run_id = id;
    report.run.job_name = job.name;
    return report;
  }
  report.found = true;
  report.run = *run;
  // The run's last change: a shard's commit counts (the run's row is written
  // at its start and end only), so that a stuck run shows as stale.
  NS_ASSIGN_OR_RETURN(std::vector<ShardRecord> shards, ledger->ListShards(id));
  for (const ShardRecord& s : shards) {
    report.run.updated_at_ms = std::max(report.run.updated_at_ms, s.committed_at_ms);
  }
  // Workers of a shared ledger hold leases, not the run: no owner to check.
  report.shared = ledger->shared();
  if (report.shared) {
    NS_ASSIGN_OR_RETURN(report.workers, ledger->ListWorkers(id));
  } else {
    NS_RETURN_IF_ERROR(CheckOwner(ledger.get(), &report));
  }
  NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(id));
  NS_RETURN_IF_ERROR(exec::CountByInputRow(job, ledger.get(), id, &report.counts));
  NS_ASSIGN_OR_RETURN(auto batch_size, ledger->GetTuning(exec::RunBatchSizeKey(id)));
  if (batch_size.has_value()) report.batch_size = std::atoll(batch_size->c_str());
  if (with_failures) {
    NS_ASSIGN_OR_RETURN(report.failures, ledger->ListFailures(id, failure_limit));
  }
  return report;
}

std::string StatusJson(const StatusReport& r) {
  nlohmann::json j = {
      {"run_id", r.run.run_id},
      {"job", r.run.job_name},
      {"state", std::string(RunStateName(r.found ? r.run.state : RunState::kPending))},
      {"counts",
       {{"total", r.counts.total_rows},
        {"succeeded", r.counts.succeeded},
        {"failed", r.counts.failed}}},
      {"shards", {{"total", r.counts.shards_total}, {"committed", r.counts.shards_committed}}},
      {"output_path", r.run.output_path},
      {"created_at", Timestamp(r.run.created_at_ms)},
      {"updated_at", Timestamp(r.run.updated_at_ms)},
      {"finished_at", Timestamp(r.run.finished_at_ms)},
  };
  if (!r.run.message.empty()) j["message"] = r.run.message;
  // Database output (exec/open_sink.h, DatabaseOutputPath): the table and its rows.
  const std::string& out = r.run.output_path;
  if (out.starts_with("postgres:") || out.starts_with("sqlite:") || out.starts_with("duckdb:")) {
    j["table"] = out.substr(out.find(':') + 1);
    // The table's rows: pages or boxes for a job that makes several of an
    // input row (failed is still input rows: the ledger's unit).
    const int64_t written =
        r.counts.items_written >= 0 ? r.counts.items_written : r.counts.succeeded;
    j["rows"] = {{"written", written}, {"failed", r.counts.failed}};
  }
  if (r.counts.items_written >= 0) j["counts"]["items"] = r.counts.items_written;
  if (r.batch_size > 0) j["batch_size"] = r.batch_size;
  if (r.owner.has_value()) {
    j["owner"] = {{"host", r.owner->host},
                  {"pid", r.owner->pid},
                  {"acquired_at", Timestamp(r.owner->acquired_at_ms)},
                  {"heartbeat_at", Timestamp(r.owner->heartbeat_at_ms)}};
  }
  if (r.last_seen_ms > 0) j["last_seen"] = Timestamp(r.last_seen_ms);
  if (r.shared) j["workers"] = exec::WorkersJson(r.workers);
  if (r.failures_listed || !r.failures.empty()) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& f : r.failures) {
      nlohmann::json key = nlohmann::json::parse(f.key_json, nullptr, /*allow_exceptions=*/false);
      if (key.is_discarded()) key = f.key_json;
      items.push_back({{"key", key},
                       {"shard", f.shard_id},
                       {"file", f.file},
                       {"row", f.row},
                       {"error", f.error},
                       {"attempts", f.attempts}});
    }
    j["failed_items"] = items;
  }
  return j.dump();
}

}  // namespace nightshift
