// RunLauncher: how the scheduler starts a run and learns that it ended.
//
// The scheduler runs each run in-process, on a thread of its own, through
// nightshift::RunJob (ThreadLauncher), rather than as a child `nightshift run`
// process:
//  - stopping: SIGTERM/SIGINT bump the one signal counter every running
//    RunJob watches, so they drain exactly as `run` does and report
//    interrupted (exit 75) with nothing to forward or reap;
//  - SIGKILL of the scheduler ends its runs with it: no orphaned run keeps
//    writing while a restarted scheduler resumes the same run id (the ledger's
//    run owner, this process, is then gone and the run is taken over);
//  - the run sees the scheduler's job as parsed (trigger files, the
//    interval's {date}) without a round trip through flags.
// The cost: a backend that crashes the process takes the scheduler down
// with it; a restart resumes what was running.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nightshift/engine.h"
#include "nightshift/job_spec.h"
#include "obs/run_observer.h"

namespace nightshift::sched {

// One run the scheduler wants started.
struct RunRequest {
  size_t job = 0;                  // index into the scheduler's jobs
  std::string run_id;              // "{name}-{YYYYMMDDTHHMM}" or a trigger run's id
  std::string date;                // {date} in output paths: the interval's date (YYYY-MM-DD)
  std::vector<std::string> files;  // a trigger run's input; empty for a scheduled run
  std::string why;                 // "fired", "caught up", "resumed", "files settled", "queued"
  // The decision's event name in JSON logs: fired, caught_up, resumed,
  // files_settled, queued_fire.
  std::string event = "fired";
  std::string due = {};  // a scheduled run's fire (RFC 3339); empty for others
};

struct RunOutcome {
  size_t job = 0;
  std::string run_id;
  ExitCode exit_code = ExitCode::kOk;
  std::string message;  // one line: the run's message, or why it could not start
};

class RunLauncher {
 public:
  virtual ~RunLauncher() = default;
  virtual void Start(const JobSpec& job, const RunRequest& request) = 0;
  // Runs that ended since the previous call.
  virtual std::vector<RunOutcome> TakeFinished() = 0;
  // Waits for every run started to end (the signal counter makes them drain).
  virtual void JoinAll() = 0;
};

// The job as a run of `request` sees it: {date} in output.path and
// errors.dead_letter replaced by the interval's date, and a trigger run's
// files as its input.
JobSpec JobForRun(const JobSpec& job, const RunRequest& request);

// A fresh observer for one run (obs::MetricsServer::NewRunObserver), so the
// metrics of every run the scheduler starts carry that run's labels.
using ObserverFactory = std::function<std::unique_ptr<obs::RunObserver>()>;

class ThreadLauncher final : public RunLauncher {
 public:
  // `signals`: the counter the CLI's SIGINT/SIGTERM handler bumps.
  // `new_observer` (may be empty): called once per run. Each run also logs
  // its failures by class (obs::FailureLog), as `nightshift run` does.
  explicit ThreadLauncher(const std::atomic<int>* signals, ObserverFactory new_observer = {})
      : signals_(signals), new_observer_(std::move(new_observer)) {}
  ~ThreadLauncher() override { JoinAll(); }
  void Start(const JobSpec& job, const RunRequest& request) override;
  std::vector<RunOutcome> TakeFinished() override;
  void JoinAll() override;

 private:
  struct Running {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  const std::atomic<int>* const signals_;
  const ObserverFactory new_observer_;
  std::mutex mu_;
  std::vector<Running> running_;
  std::vector<RunOutcome> finished_;  // guarded by mu_
};

}  // namespace nightshift::sched
