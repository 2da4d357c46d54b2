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
#include "run_id_option.h"
#include "run_watch.h"
#include "schedule_command.h"
#include "spec/suggest.h"
#include "status_details.h"
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
                       {"readers", st.readers},
                       {"writers", st.writers},
                       {"model_busy", st.ModelBusy()}}}};
  std::printf("%s\n", j.dump().c_str());
}

// The human summary of a completed run (or its message: nothing to do, or
// a worker of a shared run whose other workers complete it).
std::string SummaryText(const nightshift::RunReport& r) {
  if (!r.message.empty() &&
      (r.run.state != nightshift::RunState::kCompleted || r.rows_processed == 0)) {
    return r.message;
  }
  const double rate = r.seconds > 0 ? static_cast<double>(r.rows_processed) / r.seconds : 0;
  const nightshift::StageSeconds& st = r.stages;
  return fmt::format(
      "run {} completed: {} rows ({} succeeded, {} failed); this invocation: {} rows in {:.2f} s, "
      "{:.0f} rows/s\n"
      "stages: model busy {:.0f}% of the pipeline's {:.2f} s ({} instance(s)); reader busy "
      "{:.0f}%{}, writer busy {:.0f}%{}\n"
      "output: {}",
      r.run.run_id, r.counts.total_rows, r.counts.succeeded, r.counts.failed, r.rows_processed,
      r.seconds, rate, 100 * st.ModelBusy(), st.wall, st.workers, 100 * st.ReaderBusy(),
      st.readers > 1 ? fmt::format(" ({} readers)", st.readers) : "", 100 * st.WriterBusy(),
      st.writers > 1 ? fmt::format(" ({} writers)", st.writers) : "", r.run.output_path);
}

// On stdout; with --json (stdout holds the status object) on stderr, where
// --log-format json makes it one JSON line ("run_summary") like every other.
void Summarize(const nightshift::RunReport& r, bool json) {
  const std::string text = SummaryText(r);
  if (json && nightshift::obs::GetLogFormat() == nightshift::obs::LogFormat::kJson) {
    nightshift::obs::Log(nightshift::obs::LogLevel::kInfo, "run_summary", text,
                         nightshift::obs::LogFields(r.run.job_name, r.run.run_id));
    return;
  }
  std::fprintf(json ? stderr : stdout, "%s\n", text.c_str());
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
  if (r.exit_code == ExitCode::kOk) {
    Summarize(r, json);
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
  if (json && nightshift::obs::GetLogFormat() == nightshift::obs::LogFormat::kJson) {
    const bool ok = r.exit_code == ExitCode::kOk;
    nightshift::obs::Log(ok ? nightshift::obs::LogLevel::kInfo : nightshift::obs::LogLevel::kError,
                         ok ? "retry_summary" : "retry_failed", r.message,
                         nightshift::obs::LogFields(r.run.job_name, r.run.run_id));
  } else {
    std::fprintf(json ? stderr : stdout, "%s\n", r.message.c_str());
  }
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
    auto j = nlohmann::json::parse(nightshift::StatusJson(*report));
    if (auto s = nightshift::cli::AddStatusDetails(*job, *report, &j); !s.ok())
      return CannotStart(s, *job);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  auto j = nlohmann::json::parse(nightshift::StatusJson(*report));
  std::printf("run %s: %s\n", j["run_id"].get<std::string>().c_str(),
              j["state"].get<std::string>().c_str());
  std::printf("rows: %lld total, %lld succeeded, %lld failed\n",
              static_cast<long long>(report->counts.total_rows),
              static_cast<long long>(report->counts.succeeded),
              static_cast<long long>(report->counts.failed));
  if (report->counts.items_written >= 0)  // rows above are input rows (exec/item_counts.h)
    std::printf("items: %lld written (pages or boxes)\n",
                static_cast<long long>(report->counts.items_written));
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
  nightshift::obs::Log(nightshift::obs::LogLevel::kError, "cannot_start", "error: " + what);
  return kExitCannotStart;
}

// --log-format json (or =json) anywhere in argv: a command line that does not
// parse still gets its error as a JSON line, as every other error is.
bool AsksForJsonLogs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--log-format=json") return true;
    if (a == "--log-format" && i + 1 < argc && std::string_view(argv[i + 1]) == "json") return true;
  }
  return false;
}

// CLI11's parse error: its own text (with the hint to --help) in the text
// format; one cannot_start line in the json format. --help and --version
// (exit 0) print as CLI11 does.
int ParseFailed(const CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == 0 ||
      nightshift::obs::GetLogFormat() != nightshift::obs::LogFormat::kJson)
    return app.exit(e) == 0 ? 0 : kExitCannotStart;
  nightshift::obs::Log(nightshift::obs::LogLevel::kError, "cannot_start",
                       fmt::format("error: {}", e.what()));
  return kExitCannotStart;
}

}  // namespace

namespace {

// Every command's flags and arguments, filled in by CLI11.
struct Commands {
  std::string job_path, run_id, sql;
  std::vector<std::string> sets;
  bool json = false;
  bool failed = false;   // status --failed
  int64_t limit = 1000;  // status --limit
  CLI::Option* limit_opt = nullptr;
  nightshift::cli::WorkerArgs worker;
  nightshift::cli::ScheduleArgs schedule_args;
  nightshift::cli::ReportArgs report_args;
  nightshift::cli::ObserveArgs observe;
  CLI::App *run = nullptr, *retry = nullptr, *status = nullptr, *validate = nullptr,
           *sql_cmd = nullptr, *schedule = nullptr, *report = nullptr;
};

// `run` and `retry`: the commands that run a job.
void AddRunCommands(CLI::App& app, Commands* c) {
  c->run = app.add_subcommand("run", "Run (or resume) a job");
  c->run->add_option("job", c->job_path, "Job file (YAML)")->required();
  nightshift::cli::AddRunIdOption(c->run, &c->run_id,
                                  "Run id (default: derived from the job and its input)");
  c->run->add_option("--set", c->sets, "Override one job key: --set batch.size=256");
  c->run->add_flag("--json", c->json, "Print the final status as JSON on stdout");
  nightshift::cli::AddWorkerFlags(c->run, &c->worker);

  c->retry = app.add_subcommand(
      "retry", "Re-run only the dead-lettered rows of a run (e.g. after fixing the model)");
  c->retry->add_option("job", c->job_path, "Job file (YAML)")->required();
  nightshift::cli::AddRunIdOption(c->retry, &c->run_id,
                                  "Run id (default: the run `run` would resume, else the latest)");
  c->retry->add_option("--set", c->sets, "Override one job key");
  c->retry->add_flag("--json", c->json, "Print the final status as JSON on stdout");
}

// `status`, `validate` and `sql`: the commands that look without running.
void AddLookCommands(CLI::App& app, Commands* c) {
  c->status = app.add_subcommand("status", "Show the status of a job's run");
  c->status->add_option("job", c->job_path, "Job file (YAML)")->required();
  nightshift::cli::AddRunIdOption(c->status, &c->run_id,
                                  "Run id (default: the run `run` would resume)");
  c->status->add_option("--set", c->sets, "Override one job key");
  c->status->add_flag("--json", c->json, "Print one JSON object");
  c->status->add_flag("--failed", c->failed,
                      "List the dead-lettered items (key, shard, row, error, attempts)");
  c->limit_opt = c->status->add_option(
      "--limit", c->limit, "With --failed: list at most this many (0: all; default 1000)");

  c->validate =
      app.add_subcommand("validate", "Check a job against its input and model without running it");
  c->validate->add_option("job", c->job_path, "Job file (YAML)")->required();
  c->validate->add_option("--set", c->sets, "Override one job key");

  c->sql_cmd = app.add_subcommand(
      "sql", "Run DuckDB SQL and print the result as CSV (inspect outputs, convert data)");
  c->sql_cmd->add_option("query", c->sql, "SQL text")->required();
}

void AddCommands(CLI::App& app, Commands* c) {
  AddRunCommands(app, c);
  AddLookCommands(app, c);
  c->schedule = nightshift::cli::AddScheduleCommand(app, &c->schedule_args);
  c->report = nightshift::cli::AddReportCommand(app, &c->report_args);
  nightshift::cli::AddMetricsFlags(c->run, &c->observe);
  nightshift::cli::AddMetricsFlags(c->schedule, &c->observe);
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    nightshift::cli::AddLogFormatFlag(sub, &c->observe);
}

int CmdStatusChecked(const Commands& c) {
  if (c.limit_opt->count() > 0 && !c.failed) {
    return CannotStart(
        nightshift::Status(nightshift::Code::kInvalidJob, "--limit applies to --failed only"));
  }
  if (c.limit < 0) {
    return CannotStart(nightshift::Status(
        nightshift::Code::kInvalidJob,
        fmt::format("--limit {} is negative; use --limit 0 to list every failed item", c.limit)));
  }
  return CmdStatus(c.job_path, c.sets, c.run_id, c.json, c.failed, c.limit == 0 ? -1 : c.limit);
}

int CmdSql(const std::string& sql) {
  auto out = nightshift::io::RunSqlToCsv(sql);
  if (!out.has_value()) {
    nightshift::obs::Log(nightshift::obs::LogLevel::kError, "error",
                         "error: " + out.error().message());
    return kExitFailed;
  }
  std::fputs(out->c_str(), stdout);
  return 0;
}

// Runs the one command given. Every engine call joins the threads it
// started before it returns, so main returns normally (static destructors
// run) with the code it got.
int Dispatch(const Commands& c) {
  if (*c.run) return CmdRun(c.job_path, c.sets, c.run_id, c.json, c.worker, c.observe);
  if (*c.retry) return CmdRetry(c.job_path, c.sets, c.run_id, c.json);
  if (*c.status) return CmdStatusChecked(c);
  if (*c.validate) return CmdValidate(c.job_path, c.sets);
  if (*c.report) return nightshift::cli::RunReportCommand(c.report_args);
  if (*c.schedule) {
    if (!c.schedule_args.dry_run) InstallSignalHandlers();
    return nightshift::cli::RunScheduleCommand(c.schedule_args, c.observe, &g_signals);
  }
  if (*c.sql_cmd) return CmdSql(c.sql);
  return kExitCannotStart;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "nightshift: batch inference over Parquet, CSV and JSONL with resumable, exactly-once "
      "output"};
  app.set_version_flag("--version", [] { return nightshift::cli::VersionText(); });
  app.require_subcommand(1);
  Commands commands;
  AddCommands(app, &commands);
  if (AsksForJsonLogs(argc, argv)) nightshift::obs::SetLogFormat(nightshift::obs::LogFormat::kJson);
  if (auto rc = UnknownCommand(app, argc, argv)) return *rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailed(app, e);
  }
  nightshift::cli::ApplyLogFormat(commands.observe);
  return Dispatch(commands);
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
