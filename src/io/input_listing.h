// Lists the files an `input.path` names (a file, a glob or a directory) and
// tells their format.
#pragma once

#include <string>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::io {

// Returns the files of `spec.path` sorted by path, with sizes and mtimes.
// Directories are walked recursively; names starting with '.' or '_' are
// skipped (Hive/Spark convention for markers and temp files). NotFound when
// nothing matches; InvalidJob when a format cannot be told or formats mix.
// Every file operation goes through `env`.
Result<std::vector<InputFile>> ListInputFiles(const InputSpec& spec, Env* env);

// Whether ListInputFiles(spec) would list a file at `path` (absolute; it need
// not exist): a folder walk reaches it through no hidden name, or the glob
// matches it component by component, '*' never crossing a '/' and '.' at the
// start of a name matched only literally, as glob(3) does. A `**` component
// is taken to cross folders (as DuckDB's globs do), so a folder it could reach
// counts as read. False for a single-file input and for input.query. Used to
// keep outputs out of the input; extensions are not looked at.
bool InputWouldList(const InputSpec& spec, const std::string& path, Env* env);

// The paths a glob matches, sorted: glob(3), except that a `**` component
// matches any number of folders, none included (`in/**/*.parquet` lists
// in/a.parquet and in/x/y/b.parquet, as DuckDB, bash's globstar and Python's
// recursive glob do), walking the folder before the first wildcard with
// hidden and `_` names skipped. For input.path and trigger.watch alike.
Result<std::vector<std::string>> ExpandGlob(const std::string& pattern, Env* env);

// The format implied by a file name's extension, or kAuto when unknown.
InputFormat FormatFromExtension(const std::string& path);

}  // namespace nightshift::io
