// What a scheduled job does when the scheduler starts, decided from the
// job's runs in the ledger (docs/job-file.md, "schedule"):
//  - a scheduled run that did not finish (pending, running with its process
//    gone, interrupted) is resumed under its own run id;
//  - the intervals that fired while no scheduler ran, after the last one
//    the ledger has a run for, are "missed"; with `catchup: true` the newest
//    `max_catchup` of them run now, oldest first. A job with no scheduled run
//    in the ledger (a first start ever) has missed nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "sched/schedule.h"

namespace nightshift::sched {

struct StartPlan {
  std::vector<std::string> resume;        // unfinished scheduled runs, oldest first
  std::vector<Fire> catch_up;             // missed intervals to run now, oldest first
  int64_t missed = 0;                     // missed intervals in all (catch_up: the newest)
  std::optional<LocalMinutes> last_seen;  // the latest interval with a run in the ledger
};

// `runs`: the job's runs, newest first (Ledger::ListRuns); ids that are not
// scheduled run ids are not looked at. Counting missed intervals stops after
// kMaxMissedCounted (a minutely cron down for years).
inline constexpr int64_t kMaxMissedCounted = 1000000;
Result<StartPlan> PlanStart(const Schedule& schedule, const ScheduleSpec& spec,
                            std::string_view job_name, const std::vector<RunRecord>& runs,
                            SysSeconds now);

// A run that has not ended for good: resumed when the scheduler starts.
bool Unfinished(RunState state);

}  // namespace nightshift::sched
