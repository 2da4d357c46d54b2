// top_k: the `postprocess: - top_k` steps, run on each batch right after the
// model, on the worker's thread (so that only k values per row, never the
// shard's whole score matrix, travel on to the writer).
//
// Tensor layout of a batch's outputs: first the model outputs named by
// ModelOutputNames() (model.outputs, then outputs only postprocess steps read), then two
// tensors per top_k step, [rows, k] int64 ids and [rows, k] float32 values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/row_batch.h"

namespace nightshift::exec {

// Text ids shared by a top_k step and the output column that writes them.
using TextLabels = std::shared_ptr<const std::vector<std::string>>;

struct TopKStep {
  size_t source = 0;  // index of the scored model output
  size_t out = 0;     // index of its ids tensor (values: out + 1)
  int64_t k = 0;
  std::vector<int64_t> labels;  // index -> id; empty: the index is the id
  std::string where;            // "postprocess[0].top_k", for messages
  // Text ids: the ids tensor keeps the indices and the sink writes
  // (*text_labels)[index] (OutputColumn::labels), so only k indices per row
  // travel to the writer.
  TextLabels text_labels = nullptr;
  // The scored output is not written itself (not in model.outputs): freed
  // once every step ran, so that batches waiting for the writer hold k values
  // per row, not [rows, n] scores.
  bool release_source = false;
  int64_t width = -1;  // n, where the model declares it; -1: known per batch
};

// A labels file: integer ids when every line is an integer written plainly
// (`42`, `-3`; not `007` or `+5`, whose text an integer would lose), else
// every line is a text id.
struct Labels {
  std::vector<int64_t> ids;  // integer ids
  TextLabels text;           // text ids; null when the ids are integers
  size_t size() const { return text ? text->size() : ids.size(); }
};

// The model outputs the engine asks the model for, in tensor order.
std::vector<std::string> ModelOutputNames(const JobSpec& job);

// Reads `path`: one id per line (a trailing newline is fine, a `\r` before
// it is dropped). InvalidJob naming `where`, the file and the line for an
// unreadable file or a blank line.
Result<Labels> ReadLabels(Env* env, const std::string& path, const std::string& where);

// Sets each step's ids and values tensors in batch->outputs. Ties are
// broken by the lower index; NaN ranks below every number. SchemaMismatch when
// a scored output is not float32 [rows, n] with n >= k or the labels (integer
// or text) are fewer than n.
Status ApplyTopK(const std::vector<TopKStep>& steps, RowBatch* batch);

}  // namespace nightshift::exec
