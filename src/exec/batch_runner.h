// BatchRunner: runs batches through one model instance and isolates failures.
//
//  * A batch the backend rejects (deterministic error) is bisected: halves
//    are re-run until the failing rows are single rows, which get a row error
//    (they become dead letters) while every other row gets its prediction.
//  * Transient errors (I/O, a lost connection) and timeouts are retried on the
//    whole batch with backoff and jitter (exec/backoff.h), up to
//    `max_retries`. They are not the rows' fault, so they are never bisected:
//    a batch that outlasts its retries has every row dead-lettered with the
//    reason, and counts toward the run's Breaker, which stops the run after a
//    few such batches in a row.
//  * Out of memory at a batch size halves the size at once (no backoff) and
//    caps later batches at the size that worked; the cap doubles back after a
//    run of successes, so a passing memory spike does not slow the whole job.
//  * Each call runs on the worker's own thread under a CallWatchdog, which
//    calls ModelInstance::Cancel() when the call passes `timeout_s` (the batch
//    then fails as Timeout) or when `cancel` is requested (Interrupted: the run
//    is stopping; the batch is dropped, never dead-lettered). The call is
//    always waited for: a backend that cannot cancel is bounded by its batch.
//
// Not thread-safe: one BatchRunner per worker thread.
#pragma once

#include <memory>
#include <stop_token>
#include <vector>

#include "exec/breaker.h"
#include "exec/call_watchdog.h"
#include "exec/ocr_steps.h"
#include "exec/top_k.h"
#include "nightshift/backend.h"
#include "nightshift/env.h"
#include "nightshift/row_batch.h"

namespace nightshift::obs {
class RunObserver;
}

namespace nightshift::exec {

struct BatchRunnerOptions {
  int max_retries = 2;
  double timeout_s = 0;                     // 0: none
  std::vector<int64_t> expected_last_dims;  // per output; -1: any
  int64_t backoff_base_us = 50000;          // first retry's delay
  Breaker* breaker = nullptr;               // shared by the run's workers; nullptr: none
  std::stop_token cancel;                   // requested: cancel the call in flight, stop retrying
  Env* env = nullptr;                       // for backoff sleeps; nullptr: Env::Default()
  const std::vector<TopKStep>* top_k = nullptr;  // run on the outputs of each batch
  const OcrSteps* ocr = nullptr;                 // likewise, after top_k
  obs::RunObserver* observer = nullptr;          // told of each retry; nullptr: none
};

class BatchRunner {
 public:
  BatchRunner(std::unique_ptr<ModelInstance> instance, BatchRunnerOptions options);

  // Fills batch->outputs (batch dimension = batch->num_rows) and marks rows
  // that could not be scored. Returns an error only for failures that are not
  // the rows' fault: the model returns tensors of the wrong shape (the job's
  // fault), the breaker tripped (Failed), or the run is being cancelled
  // (Interrupted: the batch is incomplete and must not be written).
  Status Run(RowBatch* batch);

  int64_t row_cap() const { return cap_; }

 private:
  // Run() without the postprocess steps.
  Status RunModel(RowBatch* batch);
  Status RunRange(RowBatch* batch, int64_t begin, int64_t end);
  // Dead-letters rows [begin, end) that failed with the transient `failure`
  // after `attempts` calls, and tells the breaker.
  Status FailRows(RowBatch* batch, int64_t begin, int64_t end, const Status& failure, int attempts);
  // Executes with retries for transient errors and timeouts. OutOfMemory is
  // returned at once.
  Status ExecuteWithRetry(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs, int* attempts);
  Status ExecuteOnce(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);
  Status CheckOutputs(const std::vector<Tensor>& outputs, int64_t rows) const;
  void NoteSuccess();

  std::unique_ptr<ModelInstance> instance_;
  BatchRunnerOptions options_;
  CallWatchdog watchdog_;
  int64_t cap_ = 0;  // max rows per Execute after an OOM; 0: none
  int successes_at_cap_ = 0;
  std::vector<Tensor> scratch_inputs_;
  std::vector<Tensor> scratch_outputs_;
};

}  // namespace nightshift::exec
