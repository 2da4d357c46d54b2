#include "exec/status_workers.h"

#include <fmt/format.h>

#include "nightshift/utc_time.h"

namespace nightshift::exec {

nlohmann::json WorkersJson(const std::vector<WorkerRecord>& workers) {
  nlohmann::json out = nlohmann::json::array();
  for (const WorkerRecord& w : workers) {
    out.push_back({{"host", w.who.host},
                   {"pid", w.who.pid},
                   {"worker_index", w.worker_index},
                   {"workers", w.workers},
                   {"shards_held", w.shards_held},
                   {"shards_committed", w.shards_committed},
                   {"started_at", UtcMillis(w.who.acquired_at_ms)},
                   {"heartbeat_at", UtcMillis(w.who.heartbeat_at_ms)}});
  }
  return out;
}

std::string WorkersText(const std::vector<WorkerRecord>& workers) {
  std::string out = fmt::format("workers: {}\n", workers.size());
  for (const WorkerRecord& w : workers) {
    out += fmt::format(
        "  worker {} of {}: pid {} on host {}, {} shard(s) held, {} committed, last heartbeat {}\n",
        w.worker_index, w.workers, w.who.pid, w.who.host, w.shards_held, w.shards_committed,
        UtcMillis(w.who.heartbeat_at_ms));
  }
  return out;
}

}  // namespace nightshift::exec
