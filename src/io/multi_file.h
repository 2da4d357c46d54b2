// What reading an input of several files needs beyond one file: the common
// types of carried (key and kept) columns whose types drift between files,
// and the per-file pieces of a packed shard (several small files).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "io/duck.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::io {

// The common supertype of SQL types `a` and `b`, or SchemaMismatch when
// they have none (see Source::CommonType).
Result<std::string> CommonSqlType(DuckConnection* conn, const std::string& a, const std::string& b);

// All of `files` (one format) as one relation whose columns have, by name,
// the supertype of their types across the files (DuckDB's union_by_name).
std::string AllFilesRelation(const std::vector<InputFile>& files);

// `shards` with each packed shard replaced by one task per file that has
// rows to read (a whole file, or its selected rows), all but the last marked
// !shard_ends: the reader cuts batches per file and ends the shard with its
// last file.
std::vector<ShardTask> FilePieces(std::span<const ShardTask> shards);

}  // namespace nightshift::io
