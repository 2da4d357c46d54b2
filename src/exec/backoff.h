// Backoff: the one retry delay of the engine (model calls, publishing and
// committing a shard): exponential from a base, capped, with jitter so that
// workers that failed together do not retry together.
#pragma once

#include <cstdint>
#include <stop_token>

#include "nightshift/env.h"

namespace nightshift::exec {

// The delay before retry `attempt` (0 for the first retry): base x 2^attempt,
// capped at 5 s, times a jitter factor in [0.5, 1.5). Thread-safe.
int64_t BackoffMicros(int attempt, int64_t base_us);

// Sleeps BackoffMicros(attempt, base_us) through `env`
// (Env::SleepUnlessStopped: a stop request cuts the wait short). Returns false when `stop`
// was requested (the caller should give up rather than retry).
bool SleepBackoff(Env* env, int attempt, int64_t base_us, std::stop_token stop);

}  // namespace nightshift::exec
