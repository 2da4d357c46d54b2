// What `status --json` adds for orchestrators (Airflow, Dagster and the like
// show it next to a task), read from the ledger beside the status object of
// engine.h, whose fields stay as they are:
//   "state_times":     when the run reached each state it reached, as far as
//                      the ledger knows;
//   "failure_reasons": the top failure classes (obs/failure_classes.h) with
//                      counts and example keys.
// docs/cli.md, "The status object", defines both field by field.
#pragma once

#include <nlohmann/json.hpp>

#include "nightshift/engine.h"
#include "nightshift/job_spec.h"

namespace nightshift::cli {

// At most this many classes, largest first.
inline constexpr size_t kTopFailureReasons = 5;
// Failed items read to make the classes: a run with more has its classes
// counted over the first ones (by shard, then row) and says so.
inline constexpr int64_t kFailuresClassified = 100000;

// Adds the fields above to `j` (a parsed StatusJson of `report`).
Status AddStatusDetails(const JobSpec& job, const StatusReport& report, nlohmann::json* j);

}  // namespace nightshift::cli
