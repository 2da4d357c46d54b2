// The files an `input.query` reads, for the run's fingerprint: DuckDB cannot
// say which files a query will open before running it, so the rule is
// syntactic and documented: every string literal of the query is taken as a
// glob, relative to the job file's folder unless absolute, and every regular
// file it matches counts. Literals that match nothing (a WHERE value, a
// remote URL) add nothing; a query that reads no file is fingerprinted by its
// text alone. A relative literal that matches a file is that file beside
// the job file, wherever nightshift runs from.
#pragma once

#include <string>
#include <vector>

#include "io/duck.h"
#include "nightshift/env.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::io {

// A single-quoted string literal of a query: its text ('' unescaped) and
// where it stands, quotes included: [begin, end).
struct Literal {
  std::string text;
  size_t begin = 0;
  size_t end = 0;
};

// The string literals of `sql`, skipping double-quoted identifiers and -- and
// /* */ comments.
std::vector<Literal> StringLiterals(const std::string& sql);

struct QueryInput {
  // The query as run: every relative literal that matches a file is made
  // absolute against the job's folder (DuckDB would look in the current
  // folder first, even with file_search_path set).
  std::string query;
  // The files the literals match, stat'ed (size, mtime, device, inode),
  // sorted by path without repeats; `index` is 0 for all.
  std::vector<InputFile> files;
};

// Applies the rule above to `query`, relative to `dir`, expanding literals
// with DuckDB's glob() on `conn` and stat'ing files through `env`.
Result<QueryInput> ResolveQuery(DuckConnection* conn, Env* env, const std::string& query,
                                const std::string& dir);

}  // namespace nightshift::io
