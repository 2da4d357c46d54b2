// The XGBoost backend ("xgboost" in job files): runs XGBoost models saved as
// JSON or UBJSON (Booster.save_model("m.json" / "m.ubj"); the legacy binary
// format loads too) on the CPU through XGBoost's C API (libxgboost, 1.7).
// Nothing XGBoost-specific appears in this header.
#pragma once

#include <memory>

#include "nightshift/backend.h"
#include "nightshift/status.h"

namespace nightshift {

// Creates the XGBoost backend.
//
// LoadModel: `config.device` must be "cpu" (InvalidJob otherwise: this build's
// libxgboost has no CUDA); `config.threads` >= 0 becomes XGBoost's `nthread`
// (0: XGBoost's default, every core). NotFound when `config.path` does not
// exist; ModelError with the path and XGBoost's reason when it cannot be
// loaded.
//
// Model: one input, float32[-1, num_feature], named after
// `config.input_names[0]` (XGBoost models do not name their input), or
// "features" when none is given; SchemaMismatch when `config.input_names` has
// more than one name. Outputs, both float32[-1, K]:
//   prediction  the value XGBoost predicts (type 0): the probability for
//               binary:logistic (K = 1), one probability per class for
//               multi:softprob (K = num_class), the class index for
//               multi:softmax (K = 1), the value for regression (K = 1 or
//               num_target)
//   margin      the raw, untransformed score (type 1): K = num_class for
//               multi-class models, 1 (or num_target) otherwise
// K comes from the model's configuration (objective, num_class, num_target)
// and is checked at load time with a one-row prediction. An empty
// `config.output_names` selects both; a name other than these is a
// SchemaMismatch.
//
// Instances: each owns its own BoosterHandle (the first reuses the one
// LoadModel opened). Execute feeds the float32 batch to
// XGBoosterPredictFromDense without copying it; NaN is a missing value.
// SchemaMismatch naming both feature counts when the batch's width differs
// from the model's; OutOfMemory when XGBoost runs out of memory; ModelError
// (with the path) for any other XGBoost error.
Result<std::unique_ptr<Backend>> CreateXgbBackend();

}  // namespace nightshift
