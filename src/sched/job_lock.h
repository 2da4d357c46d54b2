// JobLock: the ledger lock that lets one `nightshift schedule` process at a
// time decide a job's runs (docs/scheduling.md, "Two schedulers").
//
// Two schedulers watching the same job would otherwise both fire an interval
// and both take a settled file (into runs of different ids when they see
// different sets of files). The scheduler that holds the lock "schedule:JOB"
// in the job's ledger (Ledger::AcquireLock) schedules it; any other is on
// standby: it tries again every few seconds and takes over once the holder is
// gone: stopped, SIGKILLed (its pid is gone or belongs to a later process),
// or, on another host, silent for exec::kOwnerStaleMs. Taking over reads the
// ledger afresh exactly as a restart does, so the new scheduler resumes the
// old one's unfinished run, never takes a file a run holds, and catches up
// missed intervals as its `catchup` says.
//
// Not thread-safe: the scheduler's loop calls it.
#pragma once

#include <cstdint>
#include <string>

#include "nightshift/env.h"
#include "nightshift/ledger.h"

namespace nightshift::sched {

class JobLock {
 public:
  enum class Change { kNone, kTaken, kLost };

  // How often a standby scheduler asks for the lock, and how often the
  // holder renews it (both well inside exec::kOwnerStaleMs).
  static constexpr int64_t kRetryMicros = 2'000'000;
  static constexpr int64_t kRenewMicros = 5'000'000;

  // `ledger` and `env` outlive the lock; `me` is this process.
  JobLock(Ledger* ledger, const std::string& job_name, Env* env, RunOwner me);

  // At `now_micros`: a standby asks for the lock (at most every
  // kRetryMicros), the holder renews it (every kRenewMicros). kTaken when
  // this call took it, kLost when a renewal found another process had taken
  // it over (this one was silent too long). An IoError of the ledger is
  // returned as is; the state is unchanged then.
  Result<Change> Poll(int64_t now_micros);
  bool held() const { return held_; }
  // The process holding the lock, as the last Poll saw it (me when held).
  const RunOwner& holder() const { return holder_; }
  // Gives the lock up (a stop), so that a standby takes over at once.
  Status Release();

  const std::string& name() const { return name_; }

 private:
  Ledger* const ledger_;
  const std::string name_;
  Env* const env_;
  const RunOwner me_;
  bool held_ = false;
  int64_t last_poll_ = -1;  // micros; -1: never
  RunOwner holder_;
};

}  // namespace nightshift::sched
