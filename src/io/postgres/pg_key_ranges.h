// Key-range shards of a PostgreSQL input (input.format postgres): how the
// plan cuts the key space, and how a range's bounds are kept (JSON values in
// the ledger) and given back to the server (text parameters).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nightshift/source.h"

namespace nightshift::io::pg {

// Ranges of about `shard_rows` rows from the keys at rows shard_rows,
// 2*shard_rows, ... of the key order (`boundaries`, JSON values) of `total`
// rows. The first range is open below and the last open above, so every key
// falls in exactly one range, also one inserted after the plan. A last range
// of under a quarter of shard_rows joins the one before (as CutFile does for
// files); no rows at all is one open range of 0 rows.
std::vector<KeyRange> CutKeyRanges(const std::vector<std::string>& boundaries, int64_t total,
                                   int64_t shard_rows);

// A key as PostgreSQL's text form gives it, as a JSON value: a number for an
// integer key (`integer`), a string otherwise.
std::string KeyJson(const std::string& text, bool integer);
// The text form of a JSON value made by KeyJson, to pass as a parameter.
std::string KeyText(const std::string& json);
// PostgreSQL's text form of an array of the keys `jsons` (JSON values made
// by KeyJson, or by a dead letter's key), each element quoted: {"1","2"}.
std::string KeyArray(const std::vector<std::string>& jsons);

}  // namespace nightshift::io::pg
