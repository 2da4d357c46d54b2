// Prometheus metrics (--metrics-port): an HTTP endpoint serving the text
// format at /metrics for as long as the MetricsServer lives, and RunObservers
// that feed it. The names are fixed by the job spec ("Seeing what happened"):
//   nightshift_rows_total{job,run_id,outcome="succeeded|failed"}     counter
//   nightshift_shards_committed_total{job,run_id}                    counter
//   nightshift_batch_seconds{job}                                    histogram
//   nightshift_batch_size{job}                                       gauge
//   nightshift_model_busy_ratio{job}                                 gauge
//   nightshift_retries_total{job,reason}                             counter
// One server per process (run or schedule); one observer per run, so a
// scheduler running several jobs feeds one endpoint.
#pragma once

#include <memory>
#include <string>

#include "nightshift/status.h"
#include "obs/run_observer.h"

namespace nightshift::obs {

class MetricsServer {
 public:
  // Listens on addr:port (port 0: any free port). A port that cannot be bound
  // (in use, no permission) is InvalidJob naming it: the run cannot start.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& addr, int port);
  ~MetricsServer();

  int port() const;  // the port it listens on
  // A fresh observer for one run; it takes its labels at OnRunStarted.
  // Must not outlive the server.
  std::unique_ptr<RunObserver> NewRunObserver();

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nightshift::obs
