// Scheduler: `nightshift schedule JOB.yaml...` without --dry-run
// (docs/cli.md, "schedule"). A loop on the Env's clock that starts each
// job's runs when its schedule fires or its trigger's files settle, and
// logs every decision, one line each.
//
// Decisions, per job:
//  - at start (Start): unfinished runs of the scheduler's own (scheduled or
//    trigger run ids) are resumed first; missed intervals are caught up
//    (catchup.h); files that runs in the ledger hold are never taken again.
//  - a fire: the run `{name}-{YYYYMMDDTHHMM}` of its nominal local time, with
//    {date} the interval's date. A run id the ledger has as completed is
//    never run again.
//  - a job whose run is still going: the fire is skipped (overlap: skip) or
//    queued behind it (overlap: queue); resumed and caught-up runs always
//    queue, one after another, oldest first.
//  - a trigger without a schedule: once no run of the job is going, the
//    settled files (trigger.h) are the next run's input, its id made from
//    them. A trigger with a schedule: each fire takes the files settled by
//    then (none: the interval is skipped).
//  - a stop (the signal counter): no run starts any more; the running ones
//    drain (they watch the same counter); Drain returns 75 when one was
//    interrupted, else 0.
//  - another scheduler on the same job (same name, same ledger): only the one
//    holding the job's ledger lock decides its runs; this one waits on
//    standby and takes over, reading the ledger as at a start, when that one
//    is gone (job_lock.h). A stop gives the lock up.
// Every clock read and sleep goes through the Env (a fake clock in tests).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "obs/log.h"
#include "sched/job_lock.h"
#include "sched/run_launcher.h"
#include "sched/schedule.h"
#include "sched/trigger.h"

namespace nightshift::sched {

struct SchedulerOptions {
  Env* env = nullptr;                         // nullptr: Env::Default()
  const std::atomic<int>* signals = nullptr;  // SIGINT/SIGTERM counter; nullptr: never stops
  int64_t tick_micros = 200000;               // the loop's longest sleep
  bool force_polling = false;                 // triggers list their folder, no inotify
  int64_t poll_micros = 1000000;              // how often a polled folder is listed
  // One call per decision (its event name and line); nullptr: obs::Log, so
  // --log-format json gives each its own JSON line (docs/cli.md, "schedule").
  std::function<void(std::string_view event, const std::string& line)> log;
  // Who this scheduler is to the job locks; nullopt: this process
  // (exec::ThisProcess). Tests give two schedulers two identities.
  std::optional<RunOwner> identity;
};

class Scheduler {
 public:
  // REQUIRES: every job has a schedule or a trigger (checked by the caller,
  // which names the file).
  Scheduler(std::vector<JobSpec> jobs, RunLauncher* launcher, SchedulerOptions options);
  ~Scheduler();

  // Opens each job's ledger and asks for the job's lock; for each job it
  // holds, reads the job's runs and plans resumes and catch-ups (nothing
  // starts before Step); the others stand by. IoError when a ledger cannot
  // be opened.
  Status Start();
  // One pass at the Env's now: ended runs, due fires, settled files, queued
  // runs. Starts nothing once the signal counter is non-zero.
  Status Step();
  // Start, then Step and sleep (at most tick_micros, less when a fire is
  // due sooner) until the signal counter moves; then Drain. The exit code.
  Result<int> Run();
  // Waits for the running runs; 75 when one was interrupted, else 0.
  int Drain();

 private:
  struct Job;
  bool Stopping() const;
  // One decision: `event` names it in JSON logs; `run_id` and `fields` go
  // into the JSON line too.
  void Log(const Job& job, std::string_view event, const std::string& what,
           const std::string& run_id = "", nlohmann::json fields = nlohmann::json::object(),
           obs::LogLevel level = obs::LogLevel::kInfo);
  // Asks for or renews the job's lock; true when this scheduler decides
  // the job's runs now (taking over reads the ledger: TakeOver).
  Result<bool> PollLock(Job& job, int64_t now_micros);
  Status TakeOver(Job& job);
  void Forget(Job& job);
  Status ResumeTriggerRuns(Job& job, const std::vector<RunRecord>& runs);
  void Reap();
  Status FireDue(Job& job, int64_t now_micros);
  Status OnFire(Job& job, const Fire& fire, int64_t now_micros);
  Status TakeFiles(Job& job, int64_t now_micros, const std::string& why, std::string_view event);
  void Offer(Job& job, RunRequest request);
  void StartNext(Job& job, int64_t now_micros);
  void Launch(Job& job, const RunRequest& request);
  int64_t MicrosToNextFire(int64_t now_micros) const;

  std::vector<std::unique_ptr<Job>> jobs_;
  RunLauncher* const launcher_;
  SchedulerOptions options_;
  Env* const env_;
  bool interrupted_ = false;  // a run ended interrupted
};

}  // namespace nightshift::sched
