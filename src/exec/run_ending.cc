#include "exec/run_ending.h"

#include <fmt/format.h>

#include <map>

namespace nightshift::exec {

Status RecordUnfinished(Ledger* ledger, const std::string& run_id, RunState state,
                        const std::string& reason, const std::vector<ShardTask>& claimed,
                        bool set_run_state) {
  Status first = set_run_state ? ledger->SetRunState(run_id, state, reason) : Status::Ok();
  auto shards = ledger->ListShards(run_id);
  if (!shards.has_value()) return first.ok() ? Status(shards.error()) : first;
  std::map<int64_t, const ShardRecord*> by_id;
  for (const ShardRecord& s : *shards) by_id[s.shard_id] = &s;
  for (const ShardTask& t : claimed) {
    auto it = by_id.find(t.shard_id);
    if (it == by_id.end() || it->second->state != ShardState::kRunning ||
        it->second->epoch != t.epoch)
      continue;
    Status s = ledger->FailShard(run_id, t.shard_id, t.epoch, reason);
    if (first.ok()) first = s;
  }
  return first;
}

RunReport FailedAfterStart(Ledger* ledger, RunReport report, const Status& error,
                           const std::vector<ShardTask>& claimed) {
  report.exit_code = ExitCode::kFailed;
  report.message = error.message();
  const std::string& run_id = report.run.run_id;
  Status recorded = RecordUnfinished(ledger, run_id, RunState::kFailed, report.message, claimed);
  if (!recorded.ok()) {
    report.message += fmt::format(" (and the ledger could not record it: {})", recorded.message());
  }
  if (auto run = ledger->GetRun(run_id); run.has_value()) report.run = *run;
  if (auto counts = ledger->Counts(run_id); counts.has_value()) report.counts = *counts;
  return report;
}

}  // namespace nightshift::exec
