// The binder's half for `preprocess: image` steps: a model input whose one
// column is an image step's `into` is made per row from the step's path or
// BLOB column (src/image), not read from a column of that name.
#pragma once

#include <string>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::exec {

// Packs `in` from image step `step`: SchemaMismatch naming both sides when
// the step's column is missing or neither text nor BLOB, the input takes
// more than the step's column, the model's input is not float32, or its
// shape does not hold the step's [C, H, W] / [H, W, C] rows.
// `column_of` names the step whose column is read, for messages: "image
// step", or "pdf_pages step" when the image step reads rendered pages.
Status BindImageInput(const ImageSpec& step, const ModelInputSpec& in, const TensorSpec& spec,
                      const std::vector<InputColumn>& cols, const std::string& where,
                      InputPacking* out, std::string_view column_of = "image step");

// Gives every input bound to an image step its filler (decoding through
// `env`, on worker threads). REQUIRES: `layout` from Bind(job, cols, ...).
void AttachImageFillers(const JobSpec& job, const std::vector<InputColumn>& cols, Env* env,
                        ReadLayout* layout);

}  // namespace nightshift::exec
