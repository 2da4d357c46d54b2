// RunOwnership: one process runs a run at a time. `run` and `retry` take the
// run in the ledger (Ledger::AcquireRun) before they touch its output folder
// or claim shards, renew a heartbeat while they work, and give it up on every
// way out. A second process on the same run is refused at once (exit 2)
// naming the holder. `status` uses OwnerGone to tell a run whose process died
// (SIGKILL, a crash, a second signal) from one that is still running.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "nightshift/env.h"
#include "nightshift/ledger.h"

namespace nightshift::exec {

// An owner on another host that has not renewed its heartbeat for this long
// is taken to be gone (there is no way to ask another host about a pid).
inline constexpr int64_t kOwnerStaleMs = 60000;
// How often the owner renews its heartbeat: well inside kOwnerStaleMs.
inline constexpr int64_t kHeartbeatEveryMs = 5000;

// This process as a run owner (host, pid, start time).
RunOwner ThisProcess(Env* env);

// True when `owner` no longer runs: on this host, its pid is not alive or
// belongs to a later process (another start time); a stopped (SIGSTOP)
// process is alive. On another host, its heartbeat is older than
// kOwnerStaleMs at `now_ms`.
bool OwnerGone(Env* env, const RunOwner& owner, int64_t now_ms);

// Holds a run for this process while it exists. Thread-safe (its only
// method is the destructor).
class RunOwnership {
 public:
  // Takes `run_id` for this process and starts the heartbeat. InvalidJob
  // ("run R is being run by pid P on host H since T") when a live process
  // holds it. REQUIRES: `ledger` outlives the returned object.
  static Result<std::unique_ptr<RunOwnership>> Acquire(Ledger* ledger, const std::string& run_id,
                                                       Env* env);
  RunOwnership(const RunOwnership&) = delete;
  RunOwnership& operator=(const RunOwnership&) = delete;
  // Stops the heartbeat and releases the run.
  ~RunOwnership();

 private:
  RunOwnership(Ledger* ledger, std::string run_id, RunOwner me);
  void Beat();

  Ledger* const ledger_;
  const std::string run_id_;
  const RunOwner me_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread heartbeat_;
};

}  // namespace nightshift::exec
