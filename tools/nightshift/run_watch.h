// What watches a `run` from outside the engine: --log-format (every command),
// --metrics-port/--metrics-addr (run and schedule: StartMetrics; the
// scheduler takes one observer per run from it), and Dagster Pipes when DAGSTER_PIPES_CONTEXT is
// set. The CLI starts a RunWatch before the run, hands its observer to the engine, and finishes it
// with the run's outcome.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "nightshift/engine.h"
#include "obs/dagster_pipes.h"
#include "obs/failure_classes.h"
#include "obs/metrics.h"
#include "obs/run_observer.h"

namespace nightshift::cli {

struct ObserveArgs {
  std::string log_format = "text";
  int metrics_port = -1;  // -1: no endpoint
  std::string metrics_addr = "127.0.0.1";
};

// --log-format json|text on `cmd` (left alone if the command has it already).
void AddLogFormatFlag(CLI::App* cmd, ObserveArgs* args);
// --metrics-port N and --metrics-addr ADDR on `cmd`.
void AddMetricsFlags(CLI::App* cmd, ObserveArgs* args);
// Sets the process's log format from the parsed flags.
void ApplyLogFormat(const ObserveArgs& args);

// The metrics endpoint of --metrics-port (nullptr when not asked), its
// address logged ("metrics at http://ADDR:PORT/metrics"). `run` and
// `schedule` both start it here. A port that cannot be bound: exit 2.
Result<std::unique_ptr<obs::MetricsServer>> StartMetrics(const ObserveArgs& args);

class RunWatch {
 public:
  // Starts the metrics endpoint (if asked) and the Pipes session (if Dagster
  // launched us). Errors (a port in use, unreadable Pipes parameters) mean the
  // run cannot start: exit 2.
  static Result<std::unique_ptr<RunWatch>> Start(const ObserveArgs& args);
  ~RunWatch();

  obs::RunObserver* observer() { return &observers_; }
  // The run ended (completed, failed or interrupted).
  void Finish(const RunReport& report);
  // The run could not start.
  void FinishCannotStart(const Status& error);

 private:
  RunWatch() = default;
  std::unique_ptr<obs::MetricsServer> metrics_;
  std::unique_ptr<obs::RunObserver> metrics_observer_;
  std::unique_ptr<obs::PipesSession> pipes_;
  obs::FailureLog failures_;
  obs::ObserverList observers_{{}};
};

}  // namespace nightshift::cli
