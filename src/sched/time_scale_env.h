// TEST ONLY: a faster clock for the scheduler, so that an end-to-end test can
// watch a `* * * * *` schedule fire every second instead of every minute.
//
// `NIGHTSHIFT_TEST_TIME_SCALE=ANCHOR:FACTOR` (ANCHOR a unix time in seconds,
// FACTOR > 0) is read in one place (tools/nightshift/schedule_command.cc) and
// only by `nightshift schedule`: its loop then sees the time
// ANCHOR + (real now - ANCHOR) x FACTOR, and its sleeps last 1/FACTOR of what
// it asks. Every scheduler process given the same value sees one continuous
// clock, so a test can stop one and start another "minutes" later. Runs keep
// the real clock. Not for production use: it is not part of the job file or
// the flags, and it says so on stderr when it is on.
#pragma once

#include <memory>
#include <string_view>

#include "nightshift/env.h"

namespace nightshift::sched {

inline constexpr const char* kTimeScaleVariable = "NIGHTSHIFT_TEST_TIME_SCALE";

// An Env that forwards to `base` (which must outlive it) with the clock
// above. InvalidJob when `value` is not "ANCHOR:FACTOR".
Result<std::unique_ptr<Env>> MakeTimeScaleEnv(Env* base, std::string_view value);

}  // namespace nightshift::sched
