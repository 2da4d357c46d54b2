// `nightshift schedule JOB.yaml...`: the long-running scheduler
// (src/sched/scheduler.h); with `--dry-run [--from TIME] [--count N]
// [--json]`, the next fire times of each job's schedule, running nothing.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <string>
#include <vector>

#include "run_watch.h"

namespace nightshift::cli {

struct ScheduleArgs {
  std::vector<std::string> jobs;
  bool dry_run = false;
  std::string from;  // RFC 3339; empty = now
  int count = 5;
  bool json = false;
};

// Adds the `schedule` subcommand to `app`, writing its flags into `*args`.
CLI::App* AddScheduleCommand(CLI::App& app, ScheduleArgs* args);

// Runs it; returns the exit code: 0, 2 when it could not start, 75 when a
// run was interrupted by the stop. `observe`: --metrics-port/--metrics-addr
// (one endpoint for every run it starts) and --log-format (applied by the
// caller). `signals`: the SIGINT/SIGTERM counter (handlers installed by the
// caller).
int RunScheduleCommand(const ScheduleArgs& args, const ObserveArgs& observe,
                       const std::atomic<int>* signals);

}  // namespace nightshift::cli
