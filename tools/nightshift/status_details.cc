#include "status_details.h"

#include <algorithm>

#include "nightshift/utc_time.h"
#include "obs/failure_classes.h"

namespace nightshift::cli {
namespace {

nlohmann::json Time(int64_t ms) {
  return ms > 0 ? nlohmann::json(UtcMillis(ms)) : nullptr;
}

// pending: the run was created; running: its first shard started (else the
// process that holds it took it); a final state: when it was reached (a
// run whose process is gone: when that process was last seen). States the
// run never reached are absent; a time the ledger lacks is null.
nlohmann::json StateTimes(const StatusReport& r, const std::vector<ShardRecord>& shards) {
  nlohmann::json t = nlohmann::json::object();
  if (!r.found) return t;
  t["pending"] = Time(r.run.created_at_ms);
  int64_t started = 0;
  for (const ShardRecord& s : shards) {
    if (s.started_at_ms > 0 && (started == 0 || s.started_at_ms < started))
      started = s.started_at_ms;
  }
  if (started == 0 && r.owner.has_value()) started = r.owner->acquired_at_ms;
  if (started > 0 || r.run.state != RunState::kPending) t["running"] = Time(started);
  switch (r.run.state) {
    case RunState::kCompleted:
    case RunState::kFailed:
      t[std::string(RunStateName(r.run.state))] = Time(r.run.finished_at_ms);
      break;
    case RunState::kInterrupted:
      t["interrupted"] = Time(r.run.finished_at_ms > 0 ? r.run.finished_at_ms : r.last_seen_ms);
      break;
    default: break;
  }
  return t;
}

nlohmann::json FailureReasons(const std::vector<ItemFailure>& failures) {
  obs::FailureTally tally;
  for (const ItemFailure& f : failures) tally.Add(f.error, f.key_json);
  nlohmann::json out = nlohmann::json::array();
  std::vector<obs::FailureGroup> groups = tally.Groups();
  groups.resize(std::min(groups.size(), kTopFailureReasons));
  for (const obs::FailureGroup& g : groups) {
    nlohmann::json keys = nlohmann::json::array();
    for (const std::string& k : g.example_keys) {
      nlohmann::json key = nlohmann::json::parse(k, nullptr, /*allow_exceptions=*/false);
      keys.push_back(key.is_discarded() ? nlohmann::json(k) : key);
    }
    out.push_back({{"reason", g.reason}, {"count", g.count}, {"example_keys", keys}});
  }
  return out;
}

}  // namespace

Status AddStatusDetails(const JobSpec& job, const StatusReport& report, nlohmann::json* j) {
  std::vector<ShardRecord> shards;
  std::vector<ItemFailure> failures;
  if (report.found) {
    NS_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::OpenForReading(job.run.ledger));
    NS_ASSIGN_OR_RETURN(shards, ledger->ListShards(report.run.run_id));
    if (report.counts.failed > 0) {
      NS_ASSIGN_OR_RETURN(failures, ledger->ListFailures(report.run.run_id, kFailuresClassified));
    }
  }
  (*j)["state_times"] = StateTimes(report, shards);
  (*j)["failure_reasons"] = FailureReasons(failures);
  // Classes counted over fewer items than failed: say over how many.
  if (static_cast<int64_t>(failures.size()) < report.counts.failed) {
    (*j)["failure_reasons_over"] = failures.size();
  }
  return Status::Ok();
}

}  // namespace nightshift::cli
