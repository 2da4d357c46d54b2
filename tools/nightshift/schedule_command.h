// `nightshift schedule JOB.yaml... --dry-run [--from TIME] [--count N] [--json]`:
// the next fire times of each job's schedule, without running anything.
// The long-running scheduler (without --dry-run) is not built yet.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace nightshift::cli {

struct ScheduleArgs {
  std::vector<std::string> jobs;
  bool dry_run = false;
  std::string from;  // RFC 3339; empty = now
  int count = 5;
  bool json = false;
  int metrics_port = 0;
  std::string log_format;
};

// Adds the `schedule` subcommand to `app`, writing its flags into `*args`.
CLI::App* AddScheduleCommand(CLI::App& app, ScheduleArgs* args);

// Runs it; returns the exit code (0, or 2 when it could not start).
int RunScheduleCommand(const ScheduleArgs& args);

}  // namespace nightshift::cli
