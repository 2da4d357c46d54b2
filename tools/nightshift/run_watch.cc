#include "run_watch.h"

#include <fmt/format.h>

#include "obs/log.h"

namespace nightshift::cli {
namespace {

std::string_view PythonLevel(obs::LogLevel level) {
  switch (level) {
    case obs::LogLevel::kDebug: return "DEBUG";
    case obs::LogLevel::kInfo: return "INFO";
    case obs::LogLevel::kWarn: return "WARNING";
    case obs::LogLevel::kError: return "ERROR";
  }
  return "INFO";
}

}  // namespace

void AddLogFormatFlag(CLI::App* cmd, ObserveArgs* args) {
  if (cmd->get_option_no_throw("--log-format") != nullptr) return;
  cmd->add_option("--log-format", args->log_format,
                  "stderr lines as text (default) or JSON lines (ts, level, event, job, run_id, "
                  "shard)")
      ->check(CLI::IsMember({"text", "json"}));
}

void AddMetricsFlags(CLI::App* cmd, ObserveArgs* args) {
  CLI::Option* port = cmd->add_option("--metrics-port", args->metrics_port,
                                      "Serve Prometheus metrics at http://ADDR:N/metrics while "
                                      "running (0: any free port, logged)")
                          ->check(CLI::Range(0, 65535));
  // Alone it would be ignored without a word: no endpoint without a port.
  cmd->add_option("--metrics-addr", args->metrics_addr,
                  "IPv4 address the metrics endpoint binds to (default 127.0.0.1; 0.0.0.0: all)")
      ->check(CLI::ValidIPV4)
      ->needs(port);
}

void ApplyLogFormat(const ObserveArgs& args) {
  obs::LogFormat f = obs::LogFormat::kText;
  obs::ParseLogFormat(args.log_format, &f);  // CLI11 checked the name
  obs::SetLogFormat(f);
}

Result<std::unique_ptr<obs::MetricsServer>> StartMetrics(const ObserveArgs& args) {
  if (args.metrics_port < 0) return std::unique_ptr<obs::MetricsServer>();
  NS_ASSIGN_OR_RETURN(std::unique_ptr<obs::MetricsServer> server,
                      obs::MetricsServer::Start(args.metrics_addr, args.metrics_port));
  obs::Log(obs::LogLevel::kInfo, "metrics_listening",
           fmt::format("metrics at http://{}:{}/metrics", args.metrics_addr, server->port()),
           obs::LogFields("", "", -1, {{"port", server->port()}, {"addr", args.metrics_addr}}));
  return server;
}

Result<std::unique_ptr<RunWatch>> RunWatch::Start(const ObserveArgs& args) {
  std::unique_ptr<RunWatch> w(new RunWatch());
  NS_ASSIGN_OR_RETURN(w->pipes_, obs::PipesSession::OpenFromEnv(Env::Default()));
  if (w->pipes_ != nullptr) {
    w->pipes_->Opened();
    obs::PipesSession* pipes = w->pipes_.get();
    obs::SetLogTap([pipes](obs::LogLevel level, std::string_view, std::string_view text) {
      pipes->Log(PythonLevel(level), text);
    });
  }
  auto server = StartMetrics(args);
  if (!server.has_value()) {
    w->FinishCannotStart(server.error());
    return Error(server.error());
  }
  w->metrics_ = std::move(*server);
  if (w->metrics_ != nullptr) w->metrics_observer_ = w->metrics_->NewRunObserver();
  w->observers_ = obs::ObserverList({w->metrics_observer_.get(), &w->failures_});
  return w;
}

RunWatch::~RunWatch() {
  if (pipes_ != nullptr) obs::SetLogTap({});
}

void RunWatch::Finish(const RunReport& r) {
  failures_.LogClasses();
  if (pipes_ == nullptr) return;
  if (r.exit_code == ExitCode::kOk) {
    nlohmann::json md = {{"nightshift_run_id", obs::PipesValue(r.run.run_id, "text")},
                         {"rows", obs::PipesValue(r.counts.total_rows, "int")},
                         {"succeeded", obs::PipesValue(r.counts.succeeded, "int")},
                         {"failed", obs::PipesValue(r.counts.failed, "int")},
                         {"output", obs::PipesValue(r.run.output_path, "path")},
                         {"duration_s", obs::PipesValue(r.seconds, "float")},
                         {"rows_processed", obs::PipesValue(r.rows_processed, "int")}};
    // The run id names the data: a re-run of the same input is the same version.
    pipes_->ReportMaterialization(md, r.run.run_id);
    pipes_->Closed(std::nullopt, std::nullopt);
    return;
  }
  const bool interrupted = r.exit_code == ExitCode::kInterrupted;
  pipes_->Closed(interrupted ? "NightshiftRunInterrupted" : "NightshiftRunFailed",
                 fmt::format("run {} {}: {}", r.run.run_id, interrupted ? "interrupted" : "failed",
                             r.message));
}

void RunWatch::FinishCannotStart(const Status& error) {
  if (pipes_ == nullptr) return;
  pipes_->Closed("NightshiftCannotStart", error.message());
}

}  // namespace nightshift::cli
