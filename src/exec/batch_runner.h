// BatchRunner: runs one batch through a model instance and isolates failures.
//
// A batch that fails deterministically (the backend rejects it) is bisected:
// halves are re-run until the failing rows are single rows, which get a row
// error (they become dead letters) while every other row gets its
// prediction. Transient failures (out of memory, I/O) are retried with
// exponential backoff and jitter up to `max_retries` times, then bisected
// too, since a smaller batch may fit.
#pragma once

#include <vector>

#include "nightshift/backend.h"
#include "nightshift/row_batch.h"

namespace nightshift::exec {

class BatchRunner {
 public:
  BatchRunner(ModelInstance* instance, int max_retries, std::vector<int64_t> expected_last_dims);

  // Fills batch->outputs (batch dimension = batch->num_rows) and marks rows
  // that could not be scored. Returns an error only for failures that are not
  // the rows' fault (e.g. the model returns tensors of the wrong shape).
  Status Run(RowBatch* batch);

 private:
  Status RunRange(RowBatch* batch, int64_t begin, int64_t end);
  Status ExecuteWithRetry(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs, int* attempts);
  Status CheckOutputs(const std::vector<Tensor>& outputs, int64_t rows) const;

  ModelInstance* instance_;
  int max_retries_;
  std::vector<int64_t> expected_last_dims_;  // -1: any
  std::vector<Tensor> scratch_inputs_;
  std::vector<Tensor> scratch_outputs_;
};

}  // namespace nightshift::exec
