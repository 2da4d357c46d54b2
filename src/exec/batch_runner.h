// BatchRunner: runs batches through one model instance and isolates failures.
//
//  * A batch the backend rejects (deterministic error) is bisected: halves
//    are re-run until the failing rows are single rows, which get a row error
//    (they become dead letters) while every other row gets its prediction.
//  * Transient errors (I/O, a lost connection) are retried with exponential
//    backoff and jitter, up to `max_retries`, then bisected like the rest.
//  * Out of memory at a batch size halves the size at once (no backoff) and
//    caps later batches at the size that worked; the cap doubles back after a
//    run of successes, so a passing memory spike does not slow the whole job.
//  * With a timeout, Execute runs on an executor thread; a call that does not
//    return in time is abandoned with its instance (the thread is left to
//    finish or hang on its own), a fresh instance is created, and the batch
//    counts as failed and is retried. A stuck model never hangs the job.
//
// Not thread-safe: one BatchRunner per worker thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/row_batch.h"

namespace nightshift::exec {

using InstanceFactory = std::function<Result<std::unique_ptr<ModelInstance>>()>;

// Number of executor threads abandoned by timeouts in this process; the CLI
// exits without running static destructors when it is non-zero.
extern std::atomic<int> g_abandoned_executors;

struct BatchRunnerOptions {
  int max_retries = 2;
  double timeout_s = 0;                     // 0: none
  std::vector<int64_t> expected_last_dims;  // per output; -1: any
  int64_t backoff_base_us = 50000;          // first retry's delay
};

class BatchRunner {
 public:
  // `factory` creates instances (the first at construction time by the caller,
  // passed in `instance`; more after timeouts).
  BatchRunner(std::unique_ptr<ModelInstance> instance, InstanceFactory factory,
              BatchRunnerOptions options);
  ~BatchRunner();

  // Fills batch->outputs (batch dimension = batch->num_rows) and marks rows
  // that could not be scored. Returns an error only for failures that are not
  // the rows' fault (the model returns tensors of the wrong shape, or a new
  // instance cannot be created).
  Status Run(RowBatch* batch);

  int64_t row_cap() const { return cap_; }

 private:
  struct Executor;
  Status RunRange(RowBatch* batch, int64_t begin, int64_t end);
  // Executes with retries for transient errors and timeouts. OutOfMemory is
  // returned at once.
  Status ExecuteWithRetry(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs, int* attempts);
  Status ExecuteOnce(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);
  Status CheckOutputs(const std::vector<Tensor>& outputs, int64_t rows) const;
  void NoteSuccess();

  std::shared_ptr<ModelInstance> instance_;
  InstanceFactory factory_;
  BatchRunnerOptions options_;
  std::shared_ptr<Executor> executor_;
  int64_t cap_ = 0;  // max rows per Execute after an OOM; 0: none
  int successes_at_cap_ = 0;
  std::vector<Tensor> scratch_inputs_;
  std::vector<Tensor> scratch_outputs_;
};

}  // namespace nightshift::exec
