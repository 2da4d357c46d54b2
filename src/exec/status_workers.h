// The workers section of `status` for a run on a shared ledger (PostgreSQL):
// who works on it, what each holds, and when each was last heard from.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nightshift/ledger.h"

namespace nightshift::exec {

// `status --json` "workers": one object per worker, newest heartbeat first
// (fields in docs/cli.md).
nlohmann::json WorkersJson(const std::vector<WorkerRecord>& workers);

// The text `status` prints: a "workers: N" line, then one line per worker.
std::string WorkersText(const std::vector<WorkerRecord>& workers);

}  // namespace nightshift::exec
