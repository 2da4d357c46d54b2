#include "plan/replan.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace nightshift::plan {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

// [begin, end) minus the sorted, disjoint `done` ranges.
Ranges Subtract(int64_t begin, int64_t end, const Ranges& done) {
  Ranges out;
  int64_t pos = begin;
  for (auto [b, e] : done) {
    if (e <= pos || b >= end) continue;
    if (b > pos) out.emplace_back(pos, b);
    pos = std::max(pos, e);
  }
  if (pos < end) out.emplace_back(pos, end);
  return out;
}

// Old file index -> new file index, for files whose identity did not change.
std::map<int32_t, int32_t> UnchangedFiles(const std::vector<InputFileRecord>& old_files,
                                          const Plan& plan) {
  std::map<std::string, const InputFileRecord*> now;
  for (const auto& f : plan.files) now[f.path] = &f;
  std::map<int32_t, int32_t> out;
  for (const auto& f : old_files) {
    auto it = now.find(f.path);
    if (it != now.end() && it->second->size == f.size && it->second->mtime_ns == f.mtime_ns) {
      out[f.index] = it->second->index;
    }
  }
  return out;
}

}  // namespace

Replanned Replan(const std::vector<InputFileRecord>& old_files,
                 const std::vector<ShardRecord>& old_shards, const Plan& plan) {
  const std::map<int32_t, int32_t> unchanged = UnchangedFiles(old_files, plan);
  Replanned r;
  std::map<int32_t, Ranges> done;  // new file index -> committed row ranges
  int64_t next_id = 0;
  for (const ShardRecord& s : old_shards) {
    next_id = std::max(next_id, s.shard_id + 1);
    if (s.state != ShardState::kCommitted) continue;
    ShardRecord kept = s;
    auto it = unchanged.find(s.file_index);
    if (it == unchanged.end()) {
      kept.file_index = kStaleFile;
      ++r.stale;
    } else {
      kept.file_index = it->second;
      done[it->second].emplace_back(s.row_begin, s.row_end);
      ++r.kept;
    }
    r.shards.push_back(std::move(kept));
  }
  for (auto& [f, ranges] : done) std::sort(ranges.begin(), ranges.end());
  for (const ShardRecord& s : plan.shards) {
    auto it = done.find(s.file_index);
    Ranges pieces = it == done.end() ? Ranges{{s.row_begin, s.row_end}}
                                     : Subtract(s.row_begin, s.row_end, it->second);
    for (auto [b, e] : pieces) {
      ShardRecord n = s;
      n.shard_id = next_id++;
      n.row_begin = b;
      n.row_end = e;
      n.state = ShardState::kPending;
      r.shards.push_back(n);
      ++r.planned;
    }
  }
  return r;
}

}  // namespace nightshift::plan
