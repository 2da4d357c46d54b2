// The files an `input.query` reads, for the run's fingerprint: DuckDB cannot
// say which files a query will open before running it, so the rule is
// syntactic and documented: every string literal of the query is taken as a
// glob, relative to the job file's folder unless absolute, and every regular
// file it matches counts. Literals that match nothing (a WHERE value, a
// remote URL) add nothing; a query that reads no file is fingerprinted by its
// text alone.
#pragma once

#include <string>
#include <vector>

#include "io/duck.h"
#include "nightshift/env.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::io {

// The single-quoted string literals of `sql` ('' unescaped), skipping
// double-quoted identifiers and -- and /* */ comments.
std::vector<std::string> StringLiterals(const std::string& sql);

// The files `query`'s literals match (see above), expanded with DuckDB's
// glob() on `conn`, stat'ed through `env` (size, mtime, device, inode),
// sorted by path and without repeats; `index` is 0 for all of them.
Result<std::vector<InputFile>> ListQueryFiles(DuckConnection* conn, Env* env,
                                              const std::string& query, const std::string& dir);

}  // namespace nightshift::io
