// A shared run completed by a worker that died before writing _SUCCESS (it
// completes the run in the ledger first: CompleteRunIfDone decides, among
// racing workers, which one writes it) is left without _SUCCESS. A later
// `run` of that completed run writes it: the manifest is made from the ledger
// alone, so writing it again is harmless.
#pragma once

#include "exec/job_context.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// Writes `run`'s _SUCCESS when it is a completed run of a shared ledger with
// file output whose folder lacks it; otherwise does nothing.
Status WriteMissingSuccess(const JobSpec& job, JobContext& ctx, Ledger* ledger,
                           const RunRecord& run, Env* env);

}  // namespace nightshift::exec
