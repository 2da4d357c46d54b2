// Database input in the job file (job-spec.md, "Databases in and out"):
// input.format postgres with input.url, input.query (PostgreSQL SQL) and one
// input.key column, instead of input.path.
#pragma once

#include <yaml-cpp/yaml.h>

#include "nightshift/job_spec.h"
#include "nightshift/status.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// Reads the input section when input.format is postgres: url and query
// required and non-empty, key exactly one column, no path, no trigger; true.
// False, touching nothing, for a file or DuckDB-query input, which must then
// not have input.url (an error naming it).
Result<bool> ReadDatabaseInput(const NodeReader& r, const YAML::Node& root, const YAML::Node& map,
                               InputSpec* input);

}  // namespace nightshift::spec
