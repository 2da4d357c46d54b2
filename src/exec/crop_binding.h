// The binder's half for `preprocess: crop` steps: a model input whose one
// column is a crop step's `into` is made per row from the step's box and
// page columns (src/image/crop_filler.h), not read from a column of that
// name. The recogniser's input is [batch, 3, height, width]; a dynamic width
// (-1 in the model) is padded per batch to its widest crop.
#pragma once

#include <string>
#include <vector>

#include "exec/binder.h"
#include "nightshift/backend.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::exec {

// The column `box_index` a crop step adds to every output row.
inline constexpr char kBoxIndexColumn[] = "box_index";

// True when `column` is box_index and the job has a crop step: then
// output.keep may name it although no input has it.
bool MadeByCrop(const JobSpec& job, const std::string& column);

// Adds the box_index output column when the job has a crop step, right after
// the kept columns. SchemaMismatch with batch.sort_by_length or beside
// pdf_pages (one step fans rows out). A database output's table is keyed by
// input.key and box_index (io/db_columns.h, TableKey).
Status BindCropFanOut(const JobSpec& job, Binding* b);

// Packs `in` from crop step `step`: SchemaMismatch naming both sides when the
// step's image column is missing or neither text nor BLOB, its boxes column
// is missing or not a list of numbers, the input takes more than the step's
// column, or the model's input is not float32 [batch, 3, height, width].
Status BindCropInput(const CropSpec& step, const ModelInputSpec& in, const TensorSpec& spec,
                     const std::vector<InputColumn>& cols, const std::string& where,
                     InputPacking* out);

// Gives every input bound to a crop step its filler (reading and decoding
// pages through `env`, on worker threads), which also fans each row's boxes
// out (the layout's expander). REQUIRES: `layout` from Bind.
void AttachCropFillers(const JobSpec& job, const std::vector<InputColumn>& cols, Env* env,
                       ReadLayout* layout);

}  // namespace nightshift::exec
