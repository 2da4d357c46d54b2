#include "exec/which_run.h"

#include "plan/planner.h"

namespace nightshift::exec {

std::string RunIdFor(const JobSpec& job, const std::string& fingerprint,
                     const std::string& run_id_flag) {
  return run_id_flag.empty() ? plan::DeriveRunId(job, fingerprint) : run_id_flag;
}

Result<std::string> ResolveRunId(const JobSpec& job, const std::string& run_id_flag,
                                 const Result<std::string>& fingerprint, Ledger* ledger) {
  if (!run_id_flag.empty()) return run_id_flag;
  if (fingerprint.has_value()) {
    std::string id = RunIdFor(job, *fingerprint, "");
    if (ledger->GetRun(id).has_value()) return id;
  }
  NS_ASSIGN_OR_RETURN(RunRecord latest, ledger->LatestRun(job.name));
  return latest.run_id;
}

bool TakesTriggerFiles(const JobSpec& job) {
  const InputSpec& in = job.input;
  return job.trigger.has_value() && in.path.empty() && in.query.empty() && in.files.empty();
}

InputSpec WatchedInput(const JobSpec& job) {
  InputSpec watched = job.input;
  watched.path = job.trigger->watch;
  watched.files.clear();
  return watched;
}

Result<JobSpec> WithTriggerRunFiles(const JobSpec& job, const std::string& run_id_flag, Env* env) {
  if (!TakesTriggerFiles(job) || run_id_flag.empty()) return job;
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::Open(job.run.ledger, env));
  auto files = ledger->ListFiles(run_id_flag);
  if (!files.has_value()) {
    if (files.error().code() == Code::kNotFound) return job;
    return Error(files.error());
  }
  JobSpec with_files = job;
  for (const InputFileRecord& f : *files) with_files.input.files.push_back(f.path);
  return with_files;
}

}  // namespace nightshift::exec
