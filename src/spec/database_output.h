// Database output in the job file (job-spec.md, "Databases in and out"):
// output.format postgres | sqlite | duckdb with output.url, output.table and
// output.mode instead of output.path.
#pragma once

#include <yaml-cpp/yaml.h>

#include "nightshift/job_spec.h"
#include "nightshift/status.h"
#include "spec/job_schema.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// Reads output.format when it names a database, then output.url (required),
// output.table (required; "table" or "schema.table") and output.mode (default
// upsert); false, touching nothing, when the format is a file format. Also
// refuses url/table/mode next to a file format, and output.path next to a
// database, naming the key.
Result<bool> ReadDatabaseOutput(const NodeReader& r, const YAML::Node& map, OutputSpec* output);

// After parsing: a relative sqlite/duckdb url becomes relative to `job_dir`;
// errors.dead_letter defaults to `<job_dir>/failed/{run_id}` ({output} has no
// meaning for a table: InvalidJob); output.overwrite is refused (a table is
// replaced with mode: swap).
Status ResolveDatabaseOutput(const std::string& job_dir, OutputSpec* output, ErrorsSpec* errors);

}  // namespace nightshift::spec
