#include "schedule_command.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "exec/output_folders.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "obs/log.h"
#include "sched/run_launcher.h"
#include "sched/schedule.h"
#include "sched/scheduler.h"
#include "sched/time_scale_env.h"

namespace nightshift::cli {
namespace {

constexpr int kExitCannotStart = 2;

int CannotStart(std::string_view message) {
  obs::Log(obs::LogLevel::kError, "cannot_start", fmt::format("error: {}", message));
  return kExitCannotStart;
}

struct ScheduledJob {
  std::string name;
  sched::Schedule schedule;
  bool trigger = false;  // its fires take the trigger's settled files: no fixed run id
};

Result<std::vector<JobSpec>> LoadJobsToRun(const std::vector<std::string>& paths);

// Every job is loaded and checked (as the scheduler would) before anything is
// printed, so a bad job file anywhere in the list prints nothing but its error.
Result<std::vector<ScheduledJob>> LoadScheduledJobs(const std::vector<std::string>& paths) {
  NS_ASSIGN_OR_RETURN(std::vector<JobSpec> specs, LoadJobsToRun(paths));
  std::vector<ScheduledJob> jobs;
  for (const JobSpec& job : specs) {
    if (!job.schedule) {
      return Error(Code::kInvalidJob,
                   fmt::format("{}: job '{}' has no schedule: section (add schedule.cron)",
                               job.job_file, job.name));
    }
    Result<sched::Schedule> s = sched::Schedule::Make(job.schedule->cron, job.schedule->timezone);
    if (!s) return Error(s.error().WithContext(job.job_file));
    jobs.push_back({job.name, std::move(*s), job.trigger.has_value()});
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

// A job with a trigger too runs at each fire on the files settled by then,
// under an id made from those files: none to print in advance.
void Print(const ScheduledJob& job, const sched::Fire& fire, bool json) {
  const std::string fire_at = sched::FormatRfc3339(fire);
  const std::string run_id = job.trigger ? "" : sched::ScheduledRunId(job.name, fire);
  if (json) {
    nlohmann::json line = {{"job", job.name},
                           {"fire_at", fire_at},
                           {"run_id", job.trigger ? nlohmann::json() : nlohmann::json(run_id)},
                           {"timezone", job.schedule.zone_name()},
                           {"cron", job.schedule.cron().text()}};
    if (job.trigger) line["takes"] = "the trigger's files settled by then";
    std::printf("%s\n", line.dump().c_str());
  } else {
    std::printf("%s  %s  %s\n", job.name.c_str(), fire_at.c_str(),
                job.trigger ? "(a run of the trigger's files settled by then)" : run_id.c_str());
  }
}

// The jobs the scheduler runs: each needs a schedule or a trigger.
Result<std::vector<JobSpec>> LoadJobsToRun(const std::vector<std::string>& paths) {
  std::vector<JobSpec> jobs;
  for (const std::string& path : paths) {
    NS_ASSIGN_OR_RETURN(JobSpec job, ParseJobFile(path, {}));
    if (!job.schedule && !job.trigger) {
      return Error(Code::kInvalidJob,
                   fmt::format("{}: job '{}' has neither a schedule: nor a trigger: section, so "
                               "the scheduler would never run it (use `nightshift run`)",
                               path, job.name));
    }
    if (job.trigger.has_value()) {
      // Any of its runs: the same folders up to the run id.
      NS_RETURN_IF_ERROR(
          exec::CheckOutputOutsideInput(job, job.name + "-files-0000000000000000", Env::Default()));
    }
    for (const JobSpec& other : jobs) {
      if (other.name == job.name) {
        return Error(Code::kInvalidJob,
                     fmt::format("{}: job name '{}' is given twice (also {}); each job the "
                                 "scheduler runs needs its own name",
                                 path, job.name, other.job_file));
      }
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// The scheduler's clock: the real one, or the test-only faster one
// (sched/time_scale_env.h). Read here and nowhere else.
Result<std::unique_ptr<Env>> SchedulerClock() {
  const char* scale = std::getenv(sched::kTimeScaleVariable);
  if (scale == nullptr || *scale == '\0') return std::unique_ptr<Env>();
  obs::Log(obs::LogLevel::kWarn, "clock_scaled",
           fmt::format("{} is set: the scheduler's clock is scaled (tests only)",
                       sched::kTimeScaleVariable));
  return sched::MakeTimeScaleEnv(Env::Default(), scale);
}

// NIGHTSHIFT_TRIGGER_POLL=1: list trigger folders every second instead of
// waiting for inotify notices (network file systems give none).
bool ForcePolling() {
  const char* poll = std::getenv("NIGHTSHIFT_TRIGGER_POLL");
  return poll != nullptr && *poll != '\0' && std::string_view(poll) != "0";
}

int RunScheduler(const ScheduleArgs& args, const ObserveArgs& observe,
                 const std::atomic<int>* signals) {
  Result<std::vector<JobSpec>> jobs = LoadJobsToRun(args.jobs);
  if (!jobs) return CannotStart(jobs.error().message());
  Result<std::unique_ptr<Env>> clock = SchedulerClock();
  if (!clock) return CannotStart(clock.error().message());
  // Declared before the launcher: every run (and its observer) ends before
  // the endpoint goes.
  Result<std::unique_ptr<obs::MetricsServer>> metrics = StartMetrics(observe);
  if (!metrics) return CannotStart(metrics.error().message());
  sched::ObserverFactory new_observer;
  if (*metrics != nullptr) {
    new_observer = [server = metrics->get()] { return server->NewRunObserver(); };
  }
  sched::ThreadLauncher launcher(signals, std::move(new_observer));
  sched::SchedulerOptions options;
  options.env = *clock ? clock->get() : Env::Default();
  options.signals = signals;
  options.force_polling = ForcePolling();
  sched::Scheduler scheduler(std::move(*jobs), &launcher, options);
  Result<int> rc = scheduler.Run();
  if (!rc) {
    const int drained = scheduler.Drain();
    obs::Log(obs::LogLevel::kError, "scheduler_failed", "error: " + rc.error().message());
    return drained == 0 ? kExitCannotStart : drained;
  }
  return *rc;
}

}  // namespace

CLI::App* AddScheduleCommand(CLI::App& app, ScheduleArgs* args) {
  auto* cmd = app.add_subcommand(
      "schedule",
      "Run jobs when their schedules fire or their trigger files arrive, until stopped");
  cmd->add_option("jobs", args->jobs, "Job files (YAML) with a schedule: section")->required();
  // Without --dry-run these would be ignored while real runs start: refused.
  CLI::Option* dry =
      cmd->add_flag("--dry-run", args->dry_run, "Print the next fire times; run nothing");
  cmd->add_option("--from", args->from,
                  "With --dry-run: fire times strictly after this RFC 3339 time (default: now)")
      ->needs(dry);
  cmd->add_option("--count", args->count, "With --dry-run: fire times per job (default 5)")
      ->check(CLI::Range(1, 100000))
      ->needs(dry);
  cmd->add_flag("--json", args->json,
                "With --dry-run: one JSON object per line (job, fire_at, run_id)")
      ->needs(dry);
  return cmd;
}

int RunScheduleCommand(const ScheduleArgs& args, const ObserveArgs& observe,
                       const std::atomic<int>* signals) {
  if (!args.dry_run) return RunScheduler(args, observe, signals);
  Result<sched::SysSeconds> start = StartTime(args.from);
  if (!start) return CannotStart(start.error().message());
  Result<std::vector<ScheduledJob>> jobs = LoadScheduledJobs(args.jobs);
  if (!jobs) return CannotStart(jobs.error().message());
  for (const ScheduledJob& job : *jobs) {
    std::optional<sched::Fire> last;
    for (int i = 0; i < args.count; ++i) {
      Result<sched::Fire> fire =
          last ? job.schedule.NextAfter(*last) : job.schedule.NextAfter(*start);
      if (!fire) return CannotStart(fire.error().message());
      Print(job, *fire, args.json);
      last = *fire;
    }
  }
  return 0;
}

}  // namespace nightshift::cli
