// How a run that started ends when it does not complete, recorded in the
// ledger where `status` reads it. A run has started once it claims shards:
// from then on nothing is "could not start" (exit 2); every error is a failed
// run (exit 1) with its reason, and no shard is left `running` by a process
// that has gone.
#pragma once

#include <string>
#include <vector>

#include "nightshift/engine.h"
#include "nightshift/ledger.h"
#include "nightshift/sink.h"
#include "nightshift/source.h"

namespace nightshift::exec {

// Records the run `run_id` as `state` (failed or interrupted) with `reason`,
// and every shard of `claimed` still `running` at its claimed epoch as failed
// with the reason (the next run claims it again). A shard committed or claimed
// by someone else since is left alone. `set_run_state` false: only the shards
// (a worker interrupted on a shared ledger, where other workers go on).
// Returns the first ledger error.
Status RecordUnfinished(Ledger* ledger, const std::string& run_id, RunState state,
                        const std::string& reason, const std::vector<ShardTask>& claimed,
                        bool set_run_state = true);

// The report of a run that failed with `error` after it started: exit_code
// kFailed, the error as its message, recorded with RecordUnfinished. The
// ledger's own errors (it may be what failed) are added to the message rather
// than returned, so that this is never "could not start".
RunReport FailedAfterStart(Ledger* ledger, RunReport report, const Status& error,
                           const std::vector<ShardTask>& claimed);

}  // namespace nightshift::exec
