// Crash points for fault-injection tests of the real binary: when the
// environment variable NIGHTSHIFT_CRASH_AT is "NAME:N", the N-th call of
// MaybeCrash("NAME") in this process kills it with SIGKILL, as a power cut
// or the OOM killer would. Unset (always, outside tests) it costs one
// relaxed atomic load.
#pragma once

namespace nightshift {

void MaybeCrash(const char* name);

// Stop points, for tests of fencing: when NIGHTSHIFT_STOP_AT is "NAME" or
// "NAME:N", the N-th call of MaybeStop("NAME") stops this process with
// SIGSTOP (as a VM freeze would) at that exact step; the test continues it
// with SIGCONT. Inert when unset.
void MaybeStop(const char* name);

// Throw points, for tests of the guards that turn a stray C++ exception into
// an error: when NIGHTSHIFT_THROW_AT is "NAME" or "NAME:N", the N-th call
// (default the first) of MaybeThrow("NAME") throws std::runtime_error.
// Points: "reader", "model", "writer" (the pipeline's threads) and "main"
// (the thread that starts them). Inert when unset.
void MaybeThrow(const char* name);

}  // namespace nightshift
