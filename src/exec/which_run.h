// Which run a command means: one rule for `run`, `retry` and `status`.
//
// `run` names its run by --run-id, else by an id derived from the job and the
// fingerprint of its input (plan::DeriveRunId), so running the same job on
// the same input resumes the same run. `retry` and `status` mean an existing
// run: --run-id, else the run `run` would resume for this input when the
// ledger holds it, else the job's latest run (the input has changed since).
#pragma once

#include <string>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// The id `run` gives its run: `run_id_flag` when set, else derived.
std::string RunIdFor(const JobSpec& job, const std::string& fingerprint,
                     const std::string& run_id_flag);

// The existing run `retry` and `status` mean (see above). `fingerprint` is the
// input's, or the error listing it failed with (then only the latest run can
// be meant). kNotFound when the ledger holds no run of the job.
Result<std::string> ResolveRunId(const JobSpec& job, const std::string& run_id_flag,
                                 const Result<std::string>& fingerprint, Ledger* ledger);

// A trigger job that has not been handed its files: its runs' input is what
// trigger.watch finds (it has no input.path, query or files of its own).
bool TakesTriggerFiles(const JobSpec& job);

// The input trigger.watch stands for: every file it matches, as input.path.
// REQUIRES: job.trigger.
InputSpec WatchedInput(const JobSpec& job);

// `job` as run `run_id_flag` of it reads its input. A trigger job has no
// input.path: each of its runs reads the files the scheduler handed it, which
// the ledger recorded. So that `run --run-id ID` and `retry --run-id ID` can
// resume or retry a trigger run, the job gets that run's files as its input
// (input.files); any other job, or a run the ledger does not hold, is
// returned as it is.
Result<JobSpec> WithTriggerRunFiles(const JobSpec& job, const std::string& run_id_flag, Env* env);

}  // namespace nightshift::exec
