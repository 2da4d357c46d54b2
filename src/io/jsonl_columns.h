// The columns a JSONL shard read spells out for read_json, so that DuckDB
// does not infer the file's column types again on every read.
//
// Why: read_json samples up to 20,480 rows of a file to infer its types on
// every query that reads it (the DESCRIBE that binds the job, each read); with the columns given it
// parses the rows straight into those types. On 20 files of 20,000 rows that cut the run's CPU time
// by about a third (docs/benchmarks.md); the DESCRIBE that binds each file still infers. The read
// needs no inference: the job already says which type each column is read as (a feature's ReadType,
// a kept column's common type), and the select list casts to those types anyway. Keys the job does
// not read are skipped by read_json.
//
// Only for files of kJsonlSpelledMinBytes or more: on a file of a few rows
// the inference costs next to nothing and the longer query costs more
// (1,000 files of 3 rows: ~10% more CPU when spelled).
//
// A value that does not parse as the spelled type (text where a number is
// read) fails the read; the scan then goes on with the file read with its
// scalar feature columns as text (`features_as_text`: ShardScanner's
// fallback), converted by TRY_CAST in the select list, so that the row becomes
// a dead letter, wherever it lies in the file (DuckDB's inference samples only
// its first 20,480 rows). A kept or key column keeps its type even then: a
// value of another type there stops the run naming the file and line.
#pragma once

#include <cstdint>
#include <string>

#include "nightshift/source.h"

namespace nightshift::io {

inline constexpr int64_t kJsonlSpelledMinBytes = 64 * 1024;

// read_json's `columns` struct body ("'id': 'BIGINT', 'f0': 'DOUBLE'") for
// the columns `layout` reads, or "" when it cannot be spelled (an input made
// by a step from its column, a kept column without a common type, a column
// read as two different types). With `features_as_text`, the scalar feature
// columns that are not kept are VARCHAR.
std::string JsonlReadColumns(const ReadLayout& layout, bool features_as_text = false);

}  // namespace nightshift::io
