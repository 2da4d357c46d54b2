#include "plan/replan.h"

#include <algorithm>
#include <limits>
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

// A file all of whose rows are committed (it was in a committed packed shard).
constexpr int64_t kWholeFile = std::numeric_limits<int64_t>::max();

bool Whole(const std::map<int32_t, Ranges>& done, int32_t file) {
  auto it = done.find(file);
  return it != done.end() && std::any_of(it->second.begin(), it->second.end(), [](const auto& r) {
           return r.first == 0 && r.second == kWholeFile;
         });
}

// A committed packed shard: each of its unchanged files is done whole. It is
// kept (remapped) when all its files are unchanged and still consecutive;
// otherwise it is stale (its output holds rows of an old version), and its
// changed files are read again in full by the new plan.
void KeepPacked(const ShardRecord& s, const std::map<int32_t, int32_t>& unchanged,
                std::map<int32_t, Ranges>* done, Replanned* r) {
  bool intact = true;
  int32_t prev = -1;
  for (int32_t f = s.file_index; f <= s.file_last; ++f) {
    auto it = unchanged.find(f);
    if (it == unchanged.end()) {
      intact = false;
      continue;
    }
    (*done)[it->second].emplace_back(0, kWholeFile);
    if (prev >= 0 && it->second != prev + 1) intact = false;
    prev = it->second;
  }
  ShardRecord kept = s;
  if (intact) {
    kept.file_index = unchanged.at(s.file_index);
    kept.file_last = unchanged.at(s.file_last);
    ++r->kept;
  } else {
    kept.file_index = kStaleFile;
    kept.file_last = -1;
    ++r->stale;
  }
  r->shards.push_back(std::move(kept));
}

// A new packed shard: its files that are not done whole, as runs of
// consecutive files (one file alone is an ordinary shard of it).
void PlanPacked(const ShardRecord& s, const Plan& plan, const std::map<int32_t, Ranges>& done,
                int64_t* next_id, Replanned* r) {
  for (int32_t f = s.file_index; f <= s.file_last;) {
    if (Whole(done, f)) {
      ++f;
      continue;
    }
    ShardRecord n = s;
    n.shard_id = (*next_id)++;
    n.file_index = f;
    n.row_begin = 0;
    n.row_end = 0;
    for (; f <= s.file_last && !Whole(done, f); ++f) n.row_end += plan.files[f].rows;
    n.file_last = f - 1 > n.file_index ? f - 1 : -1;
    n.state = ShardState::kPending;
    r->shards.push_back(n);
    ++r->planned;
  }
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
    if (s.file_last >= 0) {
      KeepPacked(s, unchanged, &done, &r);
      continue;
    }
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
    if (s.file_last >= 0) {
      PlanPacked(s, plan, done, &next_id, &r);
      continue;
    }
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
