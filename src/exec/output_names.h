// The rule for the names of an output's columns: keep columns and model
// output columns together must be distinct, compared case-insensitively,
// since DuckDB (which writes every output format) treats `ID` and `id` as one
// column. Checked when the job is bound, so `validate` and `run` refuse it
// (exit 2) before any row is read.
#pragma once

#include <string>
#include <vector>

#include "nightshift/status.h"

namespace nightshift::exec {

struct OutputName {
  std::string name;
  std::string origin;  // where the job names it: "output.keep", "model.outputs[0].columns"
};

// InvalidJob naming both columns and where each comes from, for the first
// pair that differs only in case or not at all.
Status CheckOutputNames(const std::vector<OutputName>& names);

}  // namespace nightshift::exec
