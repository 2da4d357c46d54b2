// What the bindings of the steps that make a whole model input (image,
// crop) share: which step feeds a model input, and the rule that such a
// step's column is that input's only column.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/status.h"

namespace nightshift::exec {

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
