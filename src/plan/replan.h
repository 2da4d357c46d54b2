// Replan: what a run's shards become when it is resumed on changed input
// (run.allow_input_change).
//
// Committed work is never thrown away and never done twice for a file that
// did not change:
//   - every committed shard stays committed with its output part. If its
//     file is unchanged (same path, size and mtime in the new listing) it is
//     mapped to that file's new index; otherwise (its file changed or is gone)
//     its file_index becomes kStaleFile: its rows came from the old version.
//   - every shard that was not committed is dropped and the new plan takes
//     its place: for an unchanged file, the new plan's shards minus the row
//     ranges already committed (a shard that coincides with a committed one
//     vanishes; one that overlaps is cut to the rows not yet done); for a
//     changed or new file, all of the new plan's shards, so a changed file's
//     rows are all read again from its new version.
//   - a committed packed shard (whole small files) marks each of its
//     unchanged files done; it is kept when all of them are unchanged (and
//     still consecutive), stale otherwise. A new packed shard loses its files
//     that are done and is split into runs of the others (a changed file of
//     an old pack is read again alone, in full).
// New shards take ids above every id the run used, so no old output part
// name is reused.
#pragma once

#include <cstdint>
#include <vector>

#include "nightshift/ledger.h"
#include "plan/planner.h"

namespace nightshift::plan {

// file_index of a committed shard whose file is no longer part of the input.
inline constexpr int32_t kStaleFile = -1;

struct Replanned {
  std::vector<ShardRecord> shards;  // committed ones (state kCommitted) and new pending ones
  int64_t kept = 0;                 // committed shards of unchanged files
  int64_t stale = 0;                // committed shards of changed or removed files
  int64_t planned = 0;              // new pending shards
};

// REQUIRES: `old_files` and `old_shards` are the run's (Ledger::ListFiles,
// ListShards); `plan` is MakePlan() on the new input.
Replanned Replan(const std::vector<InputFileRecord>& old_files,
                 const std::vector<ShardRecord>& old_shards, const Plan& plan);

}  // namespace nightshift::plan
