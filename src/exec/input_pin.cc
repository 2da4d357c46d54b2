#include "exec/input_pin.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>

#include "obs/log.h"
#include "plan/input_identity.h"
#include "plan/planner.h"
#include "plan/replan.h"

namespace nightshift::exec {
namespace {

// Plans the run again on the current input (plan/replan.h) and says what that
// did to its shards.
Status Replan(const JobSpec& job, JobContext& ctx, Ledger* ledger, const std::string& run_id,
              const RunInputs& now, const std::vector<std::string>& changes) {
  NS_RETURN_IF_ERROR(CheckAllFiles(job, ctx));
  auto plan = plan::MakePlan(job, ctx.source.get());
  if (!plan.has_value()) return Error(Code::kInvalidData, plan.error().message());
  NS_ASSIGN_OR_RETURN(auto old_files, ledger->ListFiles(run_id));
  NS_ASSIGN_OR_RETURN(auto old_shards, ledger->ListShards(run_id));
  plan::Replanned r = plan::Replan(old_files, old_shards, *plan);
  NS_RETURN_IF_ERROR(ledger->ReplanRun(run_id, plan->files, r.shards, now));
  std::string line = fmt::format(
      "run {}: resuming on changed input (run.allow_input_change): {}; uncommitted shards start "
      "over on the new input: {} committed shard(s) kept, {} new shard(s) planned",
      run_id, fmt::join(changes, "; "), r.kept, r.planned);
  if (r.stale > 0) {
    line += fmt::format(
        ", and {} committed shard(s) of changed or removed files keep their output from the old "
        "version",
        r.stale);
  }
  obs::Log(obs::LogLevel::kWarn, "run_replanned", line, obs::LogFields(job.name, run_id));
  return Status::Ok();
}

// What changed in run `run_id`'s job keys and input listing since it was
// planned; nullopt when the ledger recorded neither (a run of an older
// nightshift).
struct InputChanges {
  RunInputs now;
  std::vector<std::string> job;    // plan::JobChanges
  std::vector<std::string> files;  // plan::ListingChanges
  bool none() const { return job.empty() && files.empty(); }
  std::string Listed() const {
    return fmt::format("{}{}{}", fmt::join(job, "; "), job.empty() || files.empty() ? "" : "; ",
                       fmt::join(files, "; "));
  }
};

Result<std::optional<InputChanges>> ChangesSince(const JobSpec& job, const JobContext& ctx,
                                                 Ledger* ledger, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(std::optional<RunInputs> then, ledger->GetRunInputs(run_id));
  if (!then.has_value()) return std::optional<InputChanges>();
  InputChanges c;
  c.now = plan::RecordedInputs(job, ctx.source->read_files());
  c.job = plan::JobChanges(then->job, c.now.job);
  c.files = plan::ListingChanges(then->files, c.now.files);
  return std::optional<InputChanges>(std::move(c));
}

}  // namespace

Status RecordInput(const JobSpec& job, const JobContext& ctx, Ledger* ledger,
                   const std::string& run_id) {
  return ledger->SetRunInputs(run_id, plan::RecordedInputs(job, ctx.source->read_files()));
}

Status AttachInput(const JobSpec& job, JobContext& ctx, Ledger* ledger, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(std::optional<InputChanges> c, ChangesSince(job, ctx, ledger, run_id));
  if (!c.has_value()) return RecordInput(job, ctx, ledger, run_id);
  if (c->none()) return Status::Ok();
  // The job keys define the output's shape and where its rows go: a run
  // whose parts would differ in format or columns is never re-planned.
  if (c->job.empty() && job.run.allow_input_change) {
    return Replan(job, ctx, ledger, run_id, c->now, c->files);
  }
  return Status(
      Code::kInvalidJob,
      fmt::format("run {} was planned from another job or input: {}; start a new run "
                  "(another --run-id, or none), restore {}",
                  run_id, c->Listed(),
                  c->job.empty() ? "the input, or resume on the new input with --set "
                                   "run.allow_input_change=true"
                                 : "the job (run.allow_input_change re-plans on changed input "
                                   "files, never on changed job keys)"));
}

Status CheckInputForRetry(const JobSpec& job, const JobContext& ctx, Ledger* ledger,
                          const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(std::optional<InputChanges> c, ChangesSince(job, ctx, ledger, run_id));
  if (!c.has_value() || c->none()) return Status::Ok();  // nothing recorded: an older run
  if (c->job.empty() && job.run.allow_input_change) {
    obs::Log(obs::LogLevel::kWarn, "retry_on_changed_input",
             fmt::format("retrying run {} on changed input (run.allow_input_change): {}; its "
                         "dead-lettered rows are read again by their place in each file",
                         run_id, c->Listed()),
             obs::LogFields(job.name, run_id));
    return Status::Ok();
  }
  return Status(
      Code::kInvalidJob,
      fmt::format("cannot retry run {}: it was planned from another job or input: {}; a retry "
                  "re-reads its dead-lettered rows by their place in each file, so restore {}",
                  run_id, c->Listed(),
                  c->job.empty() ? "the input, or, if the files were only corrected in place "
                                   "(every row where it was), retry with --set "
                                   "run.allow_input_change=true"
                                 : "the job"));
}

}  // namespace nightshift::exec
