// Input pinning: a run id stands for one job and one input. RunJob records
// what a new run was planned from and, when it resumes a run id, refuses a
// changed job or input unless run.allow_input_change re-plans it (the rules
// are in plan/input_identity.h and plan/replan.h).
#pragma once

#include <string>

#include "exec/job_context.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// Records what new run `run_id` was planned from (job keys, files read).
Status RecordInput(const JobSpec& job, const JobContext& ctx, Ledger* ledger,
                   const std::string& run_id);

// For run `run_id`, found in the ledger: OK when its recorded job keys and
// input listing match `job` and `ctx.source->read_files()`, or when nothing
// was recorded (a run of an older nightshift: recorded now). Otherwise
// InvalidJob naming every change, unless only input files changed and
// job.run.allow_input_change: the run is then re-planned on the new input and
// stderr says so. Changed job keys are always refused.
Status AttachInput(const JobSpec& job, JobContext& ctx, Ledger* ledger, const std::string& run_id);

// For a retry of run `run_id`: OK when its recorded job keys and input listing
// match (or nothing was recorded). A retry re-reads rows by their place in
// the files the run read, so changed files would give other rows: InvalidJob
// naming every change, unless only files changed and run.allow_input_change
// says they were corrected in place (then stderr says so). Changed job keys
// are always refused.
Status CheckInputForRetry(const JobSpec& job, const JobContext& ctx, Ledger* ledger,
                          const std::string& run_id);

}  // namespace nightshift::exec
