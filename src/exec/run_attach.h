// The first step of RunJob: plan a new run or attach to the one the run id
// names, take it (SQLite: one process per run), check its input and model.
// Nothing here claims a shard, so every error is "could not start" (exit 2).
#pragma once

#include <memory>
#include <string>

#include "exec/job_context.h"
#include "exec/run_owner.h"
#include "nightshift/engine.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"

namespace nightshift::exec {

struct AttachedRun {
  RunReport report;        // report.run: the run as attached
  bool completed = false;  // nothing to do: `report` is final
  std::string model_sha;   // of the model this invocation runs
  // SQLite ledger: this process holds the run until this is destroyed. A
  // shared ledger has no run owner (every process is a worker): null.
  std::unique_ptr<RunOwnership> ownership;
};

// The run id of `job`: options.run_id, or derived from the job and its
// input. InvalidJob when it holds characters that cannot be part of a path.
Result<std::string> RunIdFor(const JobSpec& job, const RunOptions& options,
                             const std::string& fingerprint);

// Plans run `run_id` (new) or attaches to it: a completed run is only checked
// against its input and reported; otherwise the run is taken (SQLite), its
// input pin checked (or re-planned, run.allow_input_change), and its model
// checked against the one it started with (model.allow_change).
Result<AttachedRun> PlanOrAttach(const JobSpec& job, JobContext& ctx, Ledger* ledger,
                                 const std::string& run_id, const std::string& fingerprint,
                                 Env* env);

}  // namespace nightshift::exec
