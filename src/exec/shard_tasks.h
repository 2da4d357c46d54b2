// ShardTasks: the work a shard of the ledger stands for, as the Source reads
// it: a row range of one file, or, for a packed shard, its whole files.
#pragma once

#include <map>
#include <tuple>
#include <vector>

#include "nightshift/ledger.h"
#include "nightshift/source.h"

namespace nightshift::exec {

// The ShardTask of shard `s` (without epoch or shard_index), with `files` the
// run's input files as planned (their row counts). `file_end`: the shard ends
// where its file's last shard ends (see ShardTask::file_end).
ShardTask TaskForShard(const ShardRecord& s, const std::vector<InputFileRecord>& files,
                       bool file_end);

// The retry task of shard `s` reading only `rows_by_file` (file index ->
// sorted rows within that file): one file's rows, or a packed shard's files.
// The retry task of shard `s` of an input read by key ranges, reading only
// the rows with `keys` (JSON values) in its range.
ShardTask RetryTaskForKeys(const ShardRecord& s, std::vector<std::string> keys);

ShardTask RetryTaskForShard(const ShardRecord& s, const std::vector<InputFileRecord>& files,
                            const std::map<int32_t, std::vector<int64_t>>& rows_by_file);

}  // namespace nightshift::exec
