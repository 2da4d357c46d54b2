#include "sched/catchup.h"

#include <deque>

namespace nightshift::sched {

bool Unfinished(RunState state) {
  return state == RunState::kPending || state == RunState::kRunning ||
         state == RunState::kInterrupted;
}

Result<StartPlan> PlanStart(const Schedule& schedule, const ScheduleSpec& spec,
                            std::string_view job_name, const std::vector<RunRecord>& runs,
                            SysSeconds now) {
  StartPlan plan;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {  // oldest first
    std::optional<LocalMinutes> nominal = ParseScheduledRunId(job_name, it->run_id);
    if (!nominal) continue;
    if (!plan.last_seen || *nominal > *plan.last_seen) plan.last_seen = nominal;
    if (Unfinished(it->state)) plan.resume.push_back(it->run_id);
  }
  if (!plan.last_seen) return plan;  // a first start ever: nothing was missed
  std::deque<Fire> newest;
  Fire last = schedule.FireOf(*plan.last_seen);
  while (plan.missed < kMaxMissedCounted) {
    NS_ASSIGN_OR_RETURN(Fire fire, schedule.NextAfter(last));
    if (fire.at > now) break;
    ++plan.missed;
    if (spec.catchup && spec.max_catchup > 0) {
      newest.push_back(fire);
      if (newest.size() > static_cast<size_t>(spec.max_catchup)) newest.pop_front();
    }
    last = fire;
  }
  plan.catch_up.assign(newest.begin(), newest.end());
  return plan;
}

}  // namespace nightshift::sched
