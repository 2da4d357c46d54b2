#include "exec/run_attach.h"

#include <fmt/format.h>

#include "exec/input_pin.h"
#include "exec/open_sink.h"
#include "nightshift/utc_time.h"
#include "plan/input_identity.h"
#include "plan/planner.h"

namespace nightshift::exec {
namespace {

Result<AttachedRun> AlreadyCompleted(Ledger* ledger, const RunRecord& run) {
  AttachedRun out;
  out.completed = true;
  out.report.run = run;
  NS_ASSIGN_OR_RETURN(out.report.counts, ledger->Counts(run.run_id));
  out.report.message = fmt::format("run {} already completed; nothing to do", run.run_id);
  return out;
}

// Plans new run `run_id` and records it with what it was planned from.
Status CreateRun(const JobSpec& job, JobContext& ctx, Ledger* ledger, const std::string& run_id,
                 const std::string& fingerprint, Env* env) {
  NS_RETURN_IF_ERROR(CheckAllFiles(job, ctx));
  auto plan = plan::MakePlan(job, ctx.source.get());
  if (!plan.has_value()) return Error(Code::kInvalidData, plan.error().message());
  RunRecord rec;
  rec.run_id = run_id;
  rec.job_name = job.name;
  rec.fingerprint = fingerprint;
  rec.output_path = IsDatabase(job.output.format)
                        ? DatabaseOutputPath(job.output)
                        : ExpandOutputPath(job.output.path, job, run_id, UtcDate(env->NowMillis()));
  rec.model_path = job.model.path;
  rec.total_rows = plan->total_rows;
  auto created = ledger->CreateOrAttachRun(rec, plan->files, plan->shards);
  if (!created.has_value()) return created.error();
  // Another worker may have created the run a moment before: then its inputs
  // are checked against this job's (or recorded, when it has not yet).
  return AttachInput(job, ctx, ledger, run_id);
}

// The model a run started with is the model it finishes with: a resumed run
// refuses a file that changed underneath it, unless told otherwise.
Status CheckModel(const JobSpec& job, Ledger* ledger, const std::string& model_sha,
                  RunRecord* run) {
  if (!run->model_sha256.empty() && run->model_sha256 != model_sha && !job.model.allow_change) {
    return Status(
        Code::kModelError,
        fmt::format(
            "model '{}' changed since run {} started (sha256 {} then, {} now); restore it, start a "
            "new run with --run-id, or resume anyway with --set model.allow_change=true",
            job.model.path, run->run_id, run->model_sha256, model_sha));
  }
  if (run->model_sha256 != model_sha || run->model_path != job.model.path) {
    NS_RETURN_IF_ERROR(ledger->SetRunModel(run->run_id, job.model.path, model_sha));
    run->model_sha256 = model_sha;
    run->model_path = job.model.path;
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> RunIdFor(const JobSpec& job, const RunOptions& options,
                             const std::string& fingerprint) {
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
  return run_id;
}

Result<AttachedRun> PlanOrAttach(const JobSpec& job, JobContext& ctx, Ledger* ledger,
                                 const std::string& run_id, const std::string& fingerprint,
                                 Env* env) {
  auto existing = ledger->GetRun(run_id);
  if (!existing.has_value() && existing.error().code() != Code::kNotFound)
    return Error(existing.error());
  if (existing.has_value() && existing->state == RunState::kCompleted) {
    // Nothing to run, so nothing to take: a completed run is only checked
    // against its input (exec/input_pin.h) and left as it is, unless
    // run.allow_input_change re-planned it on new input.
    NS_RETURN_IF_ERROR(AttachInput(job, ctx, ledger, run_id));
    NS_ASSIGN_OR_RETURN(existing, ledger->GetRun(run_id));  // re-planned: runs again
    if (existing->state == RunState::kCompleted) return AlreadyCompleted(ledger, *existing);
  }
  if (!existing.has_value()) {
    NS_RETURN_IF_ERROR(CreateRun(job, ctx, ledger, run_id, fingerprint, env));
  }
  AttachedRun out;
  // SQLite: one process per run, taken before anything touches the output
  // folder or the shards; held (with a heartbeat) until RunJob returns. A
  // shared ledger has no owner: every process is a worker that claims shards.
  if (!ledger->shared()) {
    NS_ASSIGN_OR_RETURN(out.ownership, RunOwnership::Acquire(ledger, run_id, env));
  }
  // A run id stands for one job and input (exec/input_pin.h): checked (or
  // re-planned) by the process that holds the run, or by each worker.
  if (existing.has_value()) NS_RETURN_IF_ERROR(AttachInput(job, ctx, ledger, run_id));
  // Re-read: the owner we waited on may have finished the run meanwhile.
  NS_ASSIGN_OR_RETURN(out.report.run, ledger->GetRun(run_id));
  if (out.report.run.state == RunState::kCompleted) {
    return AlreadyCompleted(ledger, out.report.run);
  }
  NS_ASSIGN_OR_RETURN(out.model_sha, ModelSha256(job, ctx));
  NS_RETURN_IF_ERROR(CheckModel(job, ledger, out.model_sha, &out.report.run));
  return out;
}

}  // namespace nightshift::exec
