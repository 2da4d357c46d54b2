// ValidateJob, GetJobStatus and the status JSON.
#include <fmt/format.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "exec/batch_sizer.h"
#include "exec/job_context.h"
#include "nightshift/engine.h"
#include "plan/planner.h"

namespace nightshift {
namespace {

nlohmann::json Timestamp(int64_t ms) {
  if (ms <= 0) return nullptr;
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms % 1000);
}

}  // namespace

Result<std::string> ValidateJob(const JobSpec& job) {
  NS_ASSIGN_OR_RETURN(exec::JobContext ctx, exec::PrepareJob(job));
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

Result<StatusReport> GetJobStatus(const JobSpec& job, const std::string& run_id, bool with_failures,
                                  int64_t failure_limit) {
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger));
  StatusReport report;
  std::string id = run_id;
  if (id.empty()) {
    // The run that `run` would resume; if the input has changed since, the
    // latest run of this job.
    auto source = OpenSource(job.input, 1);
    if (source.has_value()) id = plan::DeriveRunId(job, plan::Fingerprint(job, (*source)->files()));
    auto r = id.empty() ? Result<RunRecord>(Error(Code::kNotFound, "")) : ledger->GetRun(id);
    if (!r.has_value()) r = ledger->LatestRun(job.name);
    if (r.has_value()) id = r->run_id;
  }
  auto run = ledger->GetRun(id);
  if (!run.has_value()) {
    if (run.error().code() != Code::kNotFound) return Error(run.error());
    if (!run_id.empty())
      return Error(Code::kNotFound,
                   fmt::format("no run '{}' in ledger {}", run_id, job.run.ledger));
    report.run.run_id = id;
    report.run.job_name = job.name;
    return report;
  }
  report.found = true;
  report.run = *run;
  NS_ASSIGN_OR_RETURN(report.counts, ledger->Counts(id));
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
  if (r.batch_size > 0) j["batch_size"] = r.batch_size;
  if (!r.failures.empty()) {
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
