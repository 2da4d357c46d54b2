// Crash points for fault-injection tests of the real binary: when the
// environment variable NIGHTSHIFT_CRASH_AT is "NAME:N", the N-th call of
// MaybeCrash("NAME") in this process kills it with SIGKILL, as a power cut
// or the OOM killer would. Unset (always, outside tests) it costs one
// relaxed atomic load.
#pragma once

namespace nightshift {

void MaybeCrash(const char* name);

}  // namespace nightshift
