#include "schedule_command.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "sched/schedule.h"

namespace nightshift::cli {
namespace {

constexpr int kExitCannotStart = 2;

int CannotStart(std::string_view message) {
  std::fprintf(stderr, "nightshift: error: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return kExitCannotStart;
}

struct ScheduledJob {
  std::string name;
  sched::Schedule schedule;
};

// Every job is loaded and checked before anything is printed, so a bad job
// file anywhere in the list prints nothing but its error.
Result<std::vector<ScheduledJob>> LoadScheduledJobs(const std::vector<std::string>& paths) {
  std::vector<ScheduledJob> jobs;
  for (const std::string& path : paths) {
    NS_ASSIGN_OR_RETURN(JobSpec job, ParseJobFile(path, {}));
    if (!job.schedule) {
      return Error(
          Code::kInvalidJob,
          fmt::format("{}: job '{}' has no schedule: section (add schedule.cron)", path, job.name));
    }
    Result<sched::Schedule> s = sched::Schedule::Make(job.schedule->cron, job.schedule->timezone);
    if (!s) return Error(s.error().WithContext(path));
    jobs.push_back({job.name, std::move(*s)});
  }
  return jobs;
}

Result<sched::SysSeconds> StartTime(const std::string& from) {
  if (!from.empty()) {
    Result<sched::SysSeconds> t = sched::ParseRfc3339(from);
    if (!t) return Error(t.error().WithContext("--from"));
    return t;
  }
  const std::chrono::microseconds now(Env::Default()->NowMicros());
  return sched::SysSeconds{std::chrono::floor<std::chrono::seconds>(now)};
}

void Print(const ScheduledJob& job, const sched::Fire& fire, bool json) {
  const std::string fire_at = sched::FormatRfc3339(fire);
  const std::string run_id = sched::ScheduledRunId(job.name, fire);
  if (json) {
    nlohmann::json line = {{"job", job.name},
                           {"fire_at", fire_at},
                           {"run_id", run_id},
                           {"timezone", job.schedule.zone_name()},
                           {"cron", job.schedule.cron().text()}};
    std::printf("%s\n", line.dump().c_str());
  } else {
    std::printf("%s  %s  %s\n", job.name.c_str(), fire_at.c_str(), run_id.c_str());
  }
}

}  // namespace

CLI::App* AddScheduleCommand(CLI::App& app, ScheduleArgs* args) {
  auto* cmd = app.add_subcommand(
      "schedule", "Run jobs on their schedules (only --dry-run in this version: fire times)");
  cmd->add_option("jobs", args->jobs, "Job files (YAML) with a schedule: section")->required();
  cmd->add_flag("--dry-run", args->dry_run, "Print the next fire times; run nothing");
  cmd->add_option("--from", args->from,
                  "With --dry-run: fire times strictly after this RFC 3339 time (default: now)");
  cmd->add_option("--count", args->count, "With --dry-run: fire times per job (default 5)")
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", args->json,
                "With --dry-run: one JSON object per line (job, fire_at, run_id)");
  cmd->add_option("--metrics-port", args->metrics_port, "Serve Prometheus metrics on this port");
  cmd->add_option("--log-format", args->log_format, "json or text");
  return cmd;
}

int RunScheduleCommand(const ScheduleArgs& args) {
  if (!args.dry_run) {
    return CannotStart(
        "the long-running scheduler is not built yet in this version; `nightshift schedule "
        "JOB.yaml... --dry-run` prints the fire times, and `nightshift run` runs a job once");
  }
  Result<sched::SysSeconds> start = StartTime(args.from);
  if (!start) return CannotStart(start.error().message());
  Result<std::vector<ScheduledJob>> jobs = LoadScheduledJobs(args.jobs);
  if (!jobs) return CannotStart(jobs.error().message());
  for (const ScheduledJob& job : *jobs) {
    sched::SysSeconds after = *start;
    for (int i = 0; i < args.count; ++i) {
      Result<sched::Fire> fire = job.schedule.NextAfter(after);
      if (!fire) return CannotStart(fire.error().message());
      Print(job, *fire, args.json);
      after = fire->at;
    }
  }
  return 0;
}

}  // namespace nightshift::cli
