// The engine: runs, validates and reports on jobs. The CLI is a thin layer
// over these three calls.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/status.h"

namespace nightshift {

namespace obs {
class RunObserver;  // obs/run_observer.h
}

// The exit codes of the CLI (docs/cli.md), in one place: the engine reports
// them as values in RunReport and `main` returns them.
enum class ExitCode : int {
  kOk = 0,            // completed, or already completed
  kFailed = 1,        // failed while running; the ledger (`status`) says why
  kCannotStart = 2,   // bad job, flag, input, model or output; refused
  kInterrupted = 75,  // stopped by a signal after committing complete shards (EX_TEMPFAIL)
};

struct RunOptions {
  std::string run_id;         // empty: derived from the job and its input
  bool progress_bar = false;  // draw a progress bar on stderr (a terminal)
  // Incremented by the CLI's SIGINT/SIGTERM handler; the run drains and stops.
  const std::atomic<int>* signals = nullptr;
  // The Env every file operation and clock read of the run goes through:
  // input listing, the model's stat and hash, output folders, the sink, the
  // ledger (nullptr: Env::Default()). Tests pass a fault-injecting one. And
  // a wrapper around every model instance the run creates (a testing seam).
  Env* env = nullptr;
  std::function<std::unique_ptr<ModelInstance>(std::unique_ptr<ModelInstance>)> wrap_instance;
  // This process as one of `workers` worker processes of the run
  // (--worker-index/--workers): it claims shards % workers == worker_index
  // first. `wait`: with a shared ledger, return only once the whole run is
  // completed (--wait).
  int32_t worker_index = 0;
  int32_t workers = 1;
  bool wait = false;
  // Told of batches, retries and shard commits (metrics, Pipes); nullptr: none.
  obs::RunObserver* observer = nullptr;
};

// Where a run's wall time went, per pipeline stage: the seconds each stage
// spent working (not waiting on its queues). `model` sums the workers', so the
// model was busy model / (wall x workers) of the run.
struct StageSeconds {
  double wall = 0;   // the pipeline's whole run, first read to last commit
  double read = 0;   // reading and packing rows, summed over the reader threads
  double model = 0;  // running batches, summed over the workers
  double write = 0;  // appending, publishing and committing, summed over the writers
  int workers = 0;   // model.instances
  int writers = 1;   // writer threads (run.writers)
  int readers = 1;   // reader threads (run.readers)
  double ModelBusy() const { return wall > 0 && workers > 0 ? model / (wall * workers) : 0; }
  double WriterBusy() const { return wall > 0 && writers > 0 ? write / (wall * writers) : 0; }
  double ReaderBusy() const { return wall > 0 && readers > 0 ? read / (wall * readers) : 0; }
};

struct RunReport {
  ExitCode exit_code = ExitCode::kOk;  // never kCannotStart: that is an error Status
  RunRecord run;
  RunCounts counts;
  std::string message;         // one line for the user
  double seconds = 0;          // wall time of this invocation's processing
  int64_t rows_processed = 0;  // rows scored by this invocation
  StageSeconds stages;         // of this invocation's pipeline
};

// Runs (or resumes) the job. Returns an error Status only when the run could
// not start (exit code 2: bad input, model, schema, output directory), before
// any shard is claimed. Anything that goes wrong once shards are claimed is a
// report with exit_code kFailed: the run is recorded as failed with the reason
// and its uncommitted shards as failed with it, so `status` can say why. A
// stop (RunOptions::signals) is exit_code kInterrupted, likewise recorded.
// Every thread the run started is joined before it returns.
Result<RunReport> RunJob(const JobSpec& job, const RunOptions& options);

// Re-processes only the dead-lettered rows of a run (after a model fix, say):
// their outputs become additional committed parts (part-<shard>-r<k>), the
// dead letters that now succeed are cleared, and the rest stay with their new
// reasons. `options.run_id` empty: the run `run` would resume, else the
// job's latest. Errors as RunJob; NotFound when there is no such run.
Result<RunReport> RetryFailures(const JobSpec& job, const RunOptions& options);

// Loads the model and the input's schema and checks them against the job
// without reading rows. On success returns a human-readable report (the
// model's signature, the input's columns and the bound layout).
// File operations through `env` (nullptr: Env::Default()).
Result<std::string> ValidateJob(const JobSpec& job, Env* env = nullptr);

struct StatusReport {
  RunRecord run;
  RunCounts counts;
  bool found = false;                 // false: the run has not started yet (state pending)
  std::vector<ItemFailure> failures;  // filled when asked for
  bool failures_listed = false;       // asked for: the JSON has "failed_items", maybe empty
  int64_t batch_size = 0;             // the batch size the run used (0: unknown)
  // The process running the run (or that last ran it and died), if recorded.
  // A run stored as running whose owner is gone is reported as interrupted.
  std::optional<RunOwner> owner;
  int64_t last_seen_ms = 0;  // when a gone owner was last seen alive (0: not gone)
  // A shared ledger (PostgreSQL): the run's workers instead of one owner.
  bool shared = false;
  std::vector<WorkerRecord> workers;
};

// The status of `run_id`, or of the run the job would resume when empty (if
// the input cannot be listed, the job's latest run; with none, the input's
// error, as `run` gives it). With `with_failures`, also the run's
// dead-lettered items (at most `failure_limit`; -1 all). Reads the ledger
// only: a missing ledger means no run yet (state pending), and nothing is
// created or written.
Result<StatusReport> GetJobStatus(const JobSpec& job, const std::string& run_id,
                                  bool with_failures = false, int64_t failure_limit = -1);

// One JSON object as docs/cli.md defines for `status --json`;
// with failures listed, a "failed_items" array too.
std::string StatusJson(const StatusReport& report);

}  // namespace nightshift
