// `--set KEY=VALUE` overrides applied to a job's YAML tree before validation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/status.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// Applies `overrides` to `root` (a mapping) in order. Each key is a dotted
// path checked against the job schema ("batch.size"; numeric components index
// lists: "model.inputs.0.dtype", also written "model.inputs[0].dtype"); missing
// intermediate mappings are created, and an index equal to a list's length
// appends. VALUE is parsed as YAML ("256" an integer, "auto" a string,
// "[a, b]" a list, "" null). Returns the applied sites, so that errors about
// their values can name the `--set` instead of a line; InvalidJob naming
// `--set KEY` for an unknown key (with the closest valid key), a bad index or
// a VALUE that is not YAML.
Result<std::vector<OverrideSite>> ApplyOverrides(YAML::Node& root,
                                                 const std::vector<Override>& overrides,
                                                 const std::string& file);

}  // namespace nightshift::spec
