// XgbInstance: one BoosterHandle of a loaded XGBoost model, and the
// prediction call it makes. Internal to the xgboost backend (see
// xgb_backend.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nightshift/backend.h"
#include "xgb_status.h"

namespace nightshift::xgb {

// XGBoost's prediction types (the "type" of XGBoosterPredictFromDense's
// config).
enum class PredictType : int { kValue = 0, kMargin = 1 };

// An output the job selected: its name, what XGBoost computes for it, and the
// number of values per row (K of float32[-1, K]).
struct OutputKind {
  std::string name;
  PredictType type = PredictType::kValue;
  int64_t width = 1;
};

// The config JSON of a prediction of `type`: every tree, not training,
// XGBoost's default (non-strict) output shape, NaN as the missing value.
std::string PredictConfig(PredictType type);

// One XGBoosterPredictFromDense call on the row-major float32 matrix
// `rows` x `cols` at `data` (not copied). On success `*values` points at
// XGBoost's result buffer (owned by the booster, valid until its next
// prediction on this thread) and `*width` is the number of values per row.
// `context` prefixes XGBoost's error message. REQUIRES: rows > 0.
Status PredictDense(BoosterHandle booster, const float* data, int64_t rows, int64_t cols,
                    const std::string& config, const std::string& context, const float** values,
                    int64_t* width);

// Runs batches on its own booster. Not thread-safe: Execute is never called
// concurrently on one instance; different instances run in parallel.
// Cancel() is the default no-op: XGBoost's C API has no way to stop a
// prediction, and one call is bounded by the batch (rows x trees).
class XgbInstance final : public ModelInstance {
 public:
  // `input`: the model's one input, float32[-1, num_feature]. `outputs`: the
  // outputs the job selected, in the job's order. `path` names the model in
  // error messages.
  XgbInstance(std::string path, Booster booster, TensorSpec input, std::vector<OutputKind> outputs);

  // SchemaMismatch when the input is not one float32[rows, num_feature]
  // tensor (naming both feature counts when only the width differs);
  // OutOfMemory when XGBoost or an output buffer could not allocate;
  // ModelError for anything else XGBoost rejects. Output tensors this
  // instance returned earlier keep their storage while a batch fits; other
  // tensors in `outputs` are replaced.
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override;

 private:
  Status CheckInput(std::span<const Tensor> inputs) const;
  // Makes (*outputs)[j] an owned float32[rows, width] tensor, reusing its
  // storage when it is one this instance returned.
  Status PrepareOutput(size_t j, int64_t rows, std::vector<Tensor>* outputs);

  const std::string path_;
  Booster booster_;
  const TensorSpec input_;
  const int64_t num_features_;
  const std::vector<OutputKind> outputs_;
  std::vector<std::string> configs_;  // PredictConfig of each output
  // The data pointer of the tensor this instance last returned as output j:
  // how Execute recognises storage it may reuse.
  std::vector<const void*> returned_data_;
};

}  // namespace nightshift::xgb
