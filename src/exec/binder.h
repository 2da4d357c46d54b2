// Binder: checks a job against its input's columns and its model's signature
// and produces the read and write layouts. Every mismatch is a
// SchemaMismatch naming both sides (the job's key and column, the model's
// input or output and its shape), so `run` and `validate` fail before any
// row is read.
#pragma once

#include <string>
#include <vector>

#include "exec/ocr_steps.h"
#include "exec/top_k.h"
#include "nightshift/backend.h"
#include "nightshift/job_spec.h"
#include "nightshift/sink.h"
#include "nightshift/source.h"

namespace nightshift::exec {

struct Binding {
  ReadLayout read;              // inputs in the model's input order
  SinkLayout sink;              // without directories
  std::vector<TopKStep> top_k;  // without labels (PrepareJob reads them)
  OcrSteps ocr;                 // without alphabets (PrepareJob reads them)
};

// `where` names the input for messages ("input file 'a.parquet'").
Result<Binding> Bind(const JobSpec& job, const std::vector<InputColumn>& columns,
                     const std::string& where, const Model& model);

}  // namespace nightshift::exec
