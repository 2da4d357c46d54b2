// Lists the files an `input.path` names (a file, a glob or a directory) and
// tells their format.
#pragma once

#include <string>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::io {

// Returns the files of `spec.path` sorted by path, with sizes and mtimes.
// Directories are walked recursively; names starting with '.' or '_' are
// skipped (Hive/Spark convention for markers and temp files). NotFound when
// nothing matches; InvalidJob when a format cannot be told or formats mix.
Result<std::vector<InputFile>> ListInputFiles(const InputSpec& spec);

// The format implied by a file name's extension, or kAuto when unknown.
InputFormat FormatFromExtension(const std::string& path);

}  // namespace nightshift::io
