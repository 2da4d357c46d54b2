// top_k: the `postprocess: - top_k` steps, run on each batch right after the
// model, on the worker's thread (so that only k values per row, never the
// shard's whole score matrix, travel on to the writer).
//
// Tensor layout of a batch's outputs: first the model outputs named by
// ModelOutputNames() (model.outputs, then outputs only postprocess steps read), then two
// tensors per top_k step, [rows, k] int64 ids and [rows, k] float32 values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/row_batch.h"

namespace nightshift::exec {

struct TopKStep {
  size_t source = 0;  // index of the scored model output
  size_t out = 0;     // index of its ids tensor (values: out + 1)
  int64_t k = 0;
  std::vector<int64_t> labels;  // index -> id; empty: the index is the id
  std::string where;            // "postprocess[0].top_k", for messages
};

// The model outputs the engine asks the model for, in tensor order.
std::vector<std::string> ModelOutputNames(const JobSpec& job);

// Reads `path`: one integer id per line (blank lines are not allowed).
// InvalidJob naming `where`, the file and the line otherwise.
Result<std::vector<int64_t>> ReadLabels(Env* env, const std::string& path,
                                        const std::string& where);

// Sets each step's ids and values tensors in batch->outputs. Ties are
// broken by the lower index; NaN ranks below every number. InvalidData when a
// scored output is not float32 [rows, n] with n >= k or the labels are
// fewer than n.
Status ApplyTopK(const std::vector<TopKStep>& steps, RowBatch* batch);

}  // namespace nightshift::exec
