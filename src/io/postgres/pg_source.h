// The Source of input.format postgres (see pg_source.cc): input.query on
// input.url, planned as ranges of input.key and read range by range.
#pragma once

#include <memory>

#include "nightshift/source.h"

namespace nightshift::io::pg {

// Connects to spec.url and describes spec.query. InvalidJob, naming
// input.url (described, never with its password), when the server cannot be
// reached or refuses the login, when the query fails, or when input.key is
// not one of its columns.
Result<std::unique_ptr<Source>> OpenPgSource(const InputSpec& spec, int duckdb_threads, Env* env);

}  // namespace nightshift::io::pg
