// What the bindings (binder.cc, the image and crop steps, the OCR
// post-processing) share: a model shape as messages print it, an input
// column by name, which step feeds a model input, and the rule that an image
// or crop step's column is that input's only column.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// "[?, 3, 48, ?]": a dynamic dimension is "?".
std::string ShapeText(const std::vector<int64_t>& shape);

// The input column named `name`, or null.
const InputColumn* FindColumn(const std::vector<InputColumn>& cols, const std::string& name);

// The step of `steps` whose `into` column model input `in` takes, or null.
template <class Step>
const Step* StepFeeding(const std::vector<Step>& steps, const ModelInputSpec& in) {
  for (const Step& step : steps) {
    if (std::find(in.columns.begin(), in.columns.end(), step.into) != in.columns.end())
      return &step;
  }
  return nullptr;
}

// SchemaMismatch unless `in` takes column `into` (of step kind `kind`:
// "image", "crop") alone and has no mask.
Status CheckSoleColumn(const ModelInputSpec& in, const std::string& into, std::string_view kind);

}  // namespace nightshift::exec
