#include "exec/shard_tasks.h"

namespace nightshift::exec {
namespace {

int64_t RowsOf(const std::vector<InputFileRecord>& files, int32_t index) {
  for (const auto& f : files) {
    if (f.index == index) return f.rows;
  }
  return 0;
}

}  // namespace

ShardTask TaskForShard(const ShardRecord& s, const std::vector<InputFileRecord>& files,
                       bool file_end) {
  ShardTask t;
  t.shard_id = s.shard_id;
  t.file_index = s.file_index;
  t.row_begin = s.row_begin;
  t.row_end = s.row_end;
  t.file_end = file_end;
  t.key_after = s.key_after;
  t.key_upto = s.key_upto;
  if (s.file_last >= 0) {
    for (int32_t f = s.file_index; f <= s.file_last; ++f) {
      t.packed.push_back(FilePart{f, RowsOf(files, f)});
    }
  }
  return t;
}

ShardTask RetryTaskForKeys(const ShardRecord& s, std::vector<std::string> keys) {
  ShardTask t = TaskForShard(s, {}, false);
  t.keys = std::move(keys);
  return t;
}

ShardTask RetryTaskForShard(const ShardRecord& s, const std::vector<InputFileRecord>& files,
                            const std::map<int32_t, std::vector<int64_t>>& rows_by_file) {
  ShardTask t;
  t.shard_id = s.shard_id;
  t.file_index = s.file_index;
  if (s.file_last < 0) {
    const std::vector<int64_t>& rows = rows_by_file.begin()->second;
    t.row_begin = rows.front();
    t.row_end = rows.back() + 1;
    t.rows = rows;
    return t;
  }
  for (const auto& [f, rows] : rows_by_file) {
    t.packed.push_back(FilePart{f, RowsOf(files, f), rows});
  }
  return t;
}

}  // namespace nightshift::exec
