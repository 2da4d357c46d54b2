// nightshift: the command line. A thin layer over the engine (engine.h):
// parse flags, call one engine function, map the outcome to an exit code.
//
//   0 completed · 1 run failed · 2 could not start · 75 interrupted
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <variant>

#include "exec/status_workers.h"
#include "io/sql_shell.h"
#include "nightshift/engine.h"
#include "nightshift/job_spec.h"
#include "obs/log.h"
#include "report_command.h"
#include "run_watch.h"
#include "schedule_command.h"
#include "spec/suggest.h"
#include "test_batch_sleep.h"
#include "version.h"
#include "worker_flags.h"

namespace {

using nightshift::ExitCode;

constexpr int kExitFailed = static_cast<int>(ExitCode::kFailed);
constexpr int kExitCannotStart = static_cast<int>(ExitCode::kCannotStart);
constexpr int kExitInterrupted = static_cast<int>(ExitCode::kInterrupted);

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) {
    // A second signal: the user wants out now, not after the drain. The one
    // exit outside main, by design (docs/shutdown.md): committed shards are
    // safe and the next run resumes the rest.
    const char msg[] = "nightshift: second signal, exiting now\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(kExitInterrupted);
  }
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int CannotStart(const nightshift::Status& s) {
  nightshift::obs::Log(nightshift::obs::LogLevel::kError, "cannot_start", "error: " + s.message());
  return kExitCannotStart;
}

// For an error about a job that parsed: prefixed with the line of the job key
// it is about, when it names one.
int CannotStart(const nightshift::Status& s, const nightshift::JobSpec& job) {
  const std::string site = nightshift::JobKeySite(job, s.message());
  if (site.empty()) return CannotStart(s);
  return CannotStart(nightshift::Status(s.code(), site + ": " + s.message()));
}

nightshift::Result<nightshift::JobSpec> LoadJob(const std::string& path,
                                                const std::vector<std::string>& sets) {
  std::vector<nightshift::Override> overrides;
  for (const auto& s : sets) {
    NS_ASSIGN_OR_RETURN(auto o, nightshift::ParseOverride(s));
    overrides.push_back(std::move(o));
  }
  return nightshift::ParseJobFile(path, overrides);
}

using Engine = nightshift::Result<nightshift::RunReport> (*)(const nightshift::JobSpec&,
                                                             const nightshift::RunOptions&);

// Loads the job and runs `engine` (RunJob or RetryFailures) with signal
// handling and progress; returns the report, or an exit code when it could
// not start. `watch` (may be null) observes the run.
std::variant<nightshift::RunReport, int> Execute(Engine engine, const std::string& job_path,
                                                 const std::vector<std::string>& sets,
                                                 const std::string& run_id,
                                                 nightshift::RunOptions opts = {},
                                                 nightshift::cli::RunWatch* watch = nullptr) {
  auto cannot_start = [watch](const nightshift::Status& s,
                              const nightshift::JobSpec* job = nullptr) {
    if (watch != nullptr) watch->FinishCannotStart(s);
    return job != nullptr ? CannotStart(s, *job) : CannotStart(s);
  };
  auto job = LoadJob(job_path, sets);
  if (!job.has_value()) return cannot_start(job.error());
  InstallSignalHandlers();
  opts.run_id = run_id;
  // JSON logs are for machines: no bar redrawn in place among them.
  opts.progress_bar =
      ::isatty(2) != 0 && nightshift::obs::GetLogFormat() == nightshift::obs::LogFormat::kText;
  opts.signals = &g_signals;
  opts.observer = watch != nullptr ? watch->observer() : nullptr;
  auto report = engine(*job, opts);
  if (!report.has_value()) return cannot_start(report.error(), &*job);
  return std::move(*report);
}

void PrintStatusJson(const nightshift::RunReport& r) {
  nightshift::StatusReport s;
  s.run = r.run;
  s.counts = r.counts;
  s.found = true;
  auto j = nlohmann::json::parse(nightshift::StatusJson(s));
  // This invocation's own figures (status alone cannot know them).
  const nightshift::StageSeconds& st = r.stages;
  j["invocation"] = {{"rows_processed", r.rows_processed},
                     {"seconds", r.seconds},
                     {"stages",
                      {{"wall_s", st.wall},
                       {"read_s", st.read},
                       {"model_s", st.model},
                       {"write_s", st.write},
                       {"workers", st.workers},
                       {"model_busy", st.ModelBusy()}}}};
  std::printf("%s\n", j.dump().c_str());
}

int CmdRun(const std::string& job_path, const std::vector<std::string>& sets,
           const std::string& run_id, bool json, const nightshift::cli::WorkerArgs& worker,
           const nightshift::cli::ObserveArgs& observe) {
  nightshift::RunOptions opts;
  if (auto s = nightshift::cli::ResolveWorkers(worker, std::getenv, &opts); !s.ok())
    return CannotStart(s);
  if (auto s = nightshift::cli::ApplyTestBatchSleep(std::getenv, &opts); !s.ok())
    return CannotStart(s);
  auto watch = nightshift::cli::RunWatch::Start(observe);
  if (!watch.has_value()) return CannotStart(watch.error());
  auto outcome = Execute(nightshift::RunJob, job_path, sets, run_id, std::move(opts), watch->get());
  if (const int* rc = std::get_if<int>(&outcome)) return *rc;
  const auto& r = std::get<nightshift::RunReport>(outcome);
  (*watch)->Finish(r);
  FILE* human = json ? stderr : stdout;
  // A message and no fresh figures: nothing to do, or (a worker of a shared
  // run) the other workers complete the run.
  if (r.exit_code == ExitCode::kOk && !r.message.empty() &&
      (r.run.state != nightshift::RunState::kCompleted || r.rows_processed == 0)) {
    std::fprintf(human, "%s\n", r.message.c_str());
  } else if (r.exit_code == ExitCode::kOk) {
    double rate = r.seconds > 0 ? static_cast<double>(r.rows_processed) / r.seconds : 0;
    std::fprintf(
        human,
        "run %s completed: %lld rows (%lld succeeded, %lld failed); this invocation: %lld rows "
        "in %.2f s, %.0f rows/s\n"
        "stages: model busy %.0f%% of the pipeline's %.2f s (%d instance(s)); reader busy "
        "%.0f%%, writer busy %.0f%%\n"
        "output: %s\n",
        r.run.run_id.c_str(), static_cast<long long>(r.counts.total_rows),
        static_cast<long long>(r.counts.succeeded), static_cast<long long>(r.counts.failed),
        static_cast<long long>(r.rows_processed), r.seconds, rate, 100 * r.stages.ModelBusy(),
        r.stages.wall, r.stages.workers,
        r.stages.wall > 0 ? 100 * r.stages.read / r.stages.wall : 0.0,
        r.stages.wall > 0 ? 100 * r.stages.write / r.stages.wall : 0.0, r.run.output_path.c_str());
  } else {
    const bool interrupted = r.exit_code == ExitCode::kInterrupted;
    nightshift::obs::Log(
        interrupted ? nightshift::obs::LogLevel::kWarn : nightshift::obs::LogLevel::kError,
        interrupted ? "run_interrupted" : "run_failed",
        fmt::format("run {} {}: {}", r.run.run_id, interrupted ? "interrupted" : "failed",
                    r.message),
        nightshift::obs::LogFields(r.run.job_name, r.run.run_id));
  }
  if (json) PrintStatusJson(r);
  return static_cast<int>(r.exit_code);
}

int CmdRetry(const std::string& job_path, const std::vector<std::string>& sets,
             const std::string& run_id, bool json) {
  auto outcome = Execute(nightshift::RetryFailures, job_path, sets, run_id);
  if (const int* rc = std::get_if<int>(&outcome)) return *rc;
  const auto& r = std::get<nightshift::RunReport>(outcome);
  std::fprintf(json ? stderr : stdout, "%s\n", r.message.c_str());
  if (json) PrintStatusJson(r);
  return static_cast<int>(r.exit_code);
}

int CmdStatus(const std::string& job_path, const std::vector<std::string>& sets,
              const std::string& run_id, bool json, bool failed, int64_t limit) {
  auto job = LoadJob(job_path, sets);
  if (!job.has_value()) return CannotStart(job.error());
  auto report = nightshift::GetJobStatus(*job, run_id, failed, limit);
  if (!report.has_value()) return CannotStart(report.error(), *job);
  if (json) {
    std::printf("%s\n", nightshift::StatusJson(*report).c_str());
    return 0;
  }
  auto j = nlohmann::json::parse(nightshift::StatusJson(*report));
  std::printf("run %s: %s\n", j["run_id"].get<std::string>().c_str(),
              j["state"].get<std::string>().c_str());
  std::printf("rows: %lld total, %lld succeeded, %lld failed\n",
              static_cast<long long>(report->counts.total_rows),
              static_cast<long long>(report->counts.succeeded),
              static_cast<long long>(report->counts.failed));
  std::printf("shards: %lld of %lld committed\n",
              static_cast<long long>(report->counts.shards_committed),
              static_cast<long long>(report->counts.shards_total));
  if (!report->run.output_path.empty())
    std::printf("output: %s\n", report->run.output_path.c_str());
  if (!report->run.message.empty()) std::printf("message: %s\n", report->run.message.c_str());
  if (j.contains("owner")) {
    std::printf("owner: pid %lld on host %s, last seen %s\n",
                static_cast<long long>(report->owner->pid), report->owner->host.c_str(),
                j["owner"]["heartbeat_at"].dump().c_str());
  }
  if (report->shared) std::printf("%s", nightshift::exec::WorkersText(report->workers).c_str());
  if (failed) {
    std::printf("failed items%s:\n", report->failures.empty() ? " (none)" : "");
    for (const auto& f : report->failures) {
      std::printf("  key=%s shard=%lld file=%s row=%lld attempts=%d: %s\n", f.key_json.c_str(),
                  static_cast<long long>(f.shard_id), f.file.c_str(), static_cast<long long>(f.row),
                  f.attempts, f.error.c_str());
    }
  }
  return 0;
}

int CmdValidate(const std::string& job_path, const std::vector<std::string>& sets) {
  auto job = LoadJob(job_path, sets);
  if (!job.has_value()) return CannotStart(job.error());
  auto report = nightshift::ValidateJob(*job);
  if (!report.has_value()) return CannotStart(report.error(), *job);
  std::printf("%s", report->c_str());
  return 0;
}

// A first argument that is no command ("runn"): CLI11 would only say the
// arguments were unexpected; name it and the closest command. nullopt when
// argv[1] is a command or a flag.
std::optional<int> UnknownCommand(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == argv[1]) return std::nullopt;
    names.push_back(sub->get_name());
  }
  std::vector<std::string_view> views(names.begin(), names.end());
  std::string what = fmt::format("unknown command '{}'", argv[1]);
  if (auto close = nightshift::spec::ClosestMatch(argv[1], views)) {
    what += fmt::format("; did you mean '{}'?", *close);
  } else {
    what += fmt::format(" (commands: {})", fmt::join(names, ", "));
  }
  std::fprintf(stderr, "nightshift: error: %s\n", what.c_str());
  return kExitCannotStart;
}

}  // namespace

namespace {

int Main(int argc, char** argv) {
  CLI::App app{
      "nightshift: batch inference over Parquet, CSV and JSONL with resumable, exactly-once "
      "output"};
  app.set_version_flag("--version", [] { return nightshift::cli::VersionText(); });
  app.require_subcommand(1);

  std::string job_path, run_id, sql;
  std::vector<std::string> sets;
  bool json = false;

  auto* run = app.add_subcommand("run", "Run (or resume) a job");
  run->add_option("job", job_path, "Job file (YAML)")->required();
  run->add_option("--run-id", run_id, "Run id (default: derived from the job and its input)");
  run->add_option("--set", sets, "Override one job key: --set batch.size=256");
  run->add_flag("--json", json, "Print the final status as JSON on stdout");
  nightshift::cli::WorkerArgs worker;
  nightshift::cli::AddWorkerFlags(run, &worker);

  auto* retry = app.add_subcommand(
      "retry", "Re-run only the dead-lettered rows of a run (e.g. after fixing the model)");
  retry->add_option("job", job_path, "Job file (YAML)")->required();
  retry->add_option("--run-id", run_id,
                    "Run id (default: the run `run` would resume, else the latest)");
  retry->add_option("--set", sets, "Override one job key");
  retry->add_flag("--json", json, "Print the final status as JSON on stdout");

  auto* status = app.add_subcommand("status", "Show the status of a job's run");
  status->add_option("job", job_path, "Job file (YAML)")->required();
  status->add_option("--run-id", run_id, "Run id (default: the run `run` would resume)");
  status->add_option("--set", sets, "Override one job key");
  status->add_flag("--json", json, "Print one JSON object");
  bool failed = false;
  int64_t limit = 1000;
  status->add_flag("--failed", failed,
                   "List the dead-lettered items (key, shard, row, error, attempts)");
  auto* limit_opt = status->add_option(
      "--limit", limit, "With --failed: list at most this many (0: all; default 1000)");

  auto* validate =
      app.add_subcommand("validate", "Check a job against its input and model without running it");
  validate->add_option("job", job_path, "Job file (YAML)")->required();
  validate->add_option("--set", sets, "Override one job key");

  auto* sqlcmd = app.add_subcommand(
      "sql", "Run DuckDB SQL and print the result as CSV (inspect outputs, convert data)");
  sqlcmd->add_option("query", sql, "SQL text")->required();

  nightshift::cli::ScheduleArgs schedule_args;
  auto* schedule = nightshift::cli::AddScheduleCommand(app, &schedule_args);

  nightshift::cli::ReportArgs report_args;
  auto* report = nightshift::cli::AddReportCommand(app, &report_args);

  nightshift::cli::ObserveArgs observe;
  nightshift::cli::AddMetricsFlags(run, &observe);
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    nightshift::cli::AddLogFormatFlag(sub, &observe);

  if (auto rc = UnknownCommand(app, argc, argv)) return *rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitCannotStart;
  }
  // `schedule` declares its own --log-format (it runs jobs itself).
  if (*schedule && !schedule_args.log_format.empty()) observe.log_format = schedule_args.log_format;
  nightshift::cli::ApplyLogFormat(observe);
  // Every engine call joins the threads it started before it returns, so
  // main returns normally (static destructors run) with the code it got.
  if (*run) return CmdRun(job_path, sets, run_id, json, worker, observe);
  if (*retry) return CmdRetry(job_path, sets, run_id, json);
  if (*status) {
    if (limit_opt->count() > 0 && !failed) {
      return CannotStart(
          nightshift::Status(nightshift::Code::kInvalidJob, "--limit applies to --failed only"));
    }
    if (limit < 0) {
      return CannotStart(nightshift::Status(
          nightshift::Code::kInvalidJob,
          fmt::format("--limit {} is negative; use --limit 0 to list every failed item", limit)));
    }
    return CmdStatus(job_path, sets, run_id, json, failed, limit == 0 ? -1 : limit);
  }
  if (*validate) return CmdValidate(job_path, sets);
  if (*report) return nightshift::cli::RunReportCommand(report_args);
  if (*schedule) {
    if (!schedule_args.dry_run) InstallSignalHandlers();
    return nightshift::cli::RunScheduleCommand(schedule_args, &g_signals);
  }
  if (*sqlcmd) {
    auto out = nightshift::io::RunSqlToCsv(sql);
    if (!out.has_value()) {
      nightshift::obs::Log(nightshift::obs::LogLevel::kError, "error",
                           "error: " + out.error().message());
      return kExitFailed;
    }
    std::fputs(out->c_str(), stdout);
    return 0;
  }
  return kExitCannotStart;
}

}  // namespace

// The last resort: an exception that escaped every adapter and thread guard
// is still an error message and exit 1, never an abort (exit 134).
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nightshift: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "nightshift: internal error: an unknown exception\n");
  }
  return kExitFailed;
}
