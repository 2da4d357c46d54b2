// RowOrigins: where each good row of a shard's output came from, as
// ((file index << 40) + row within the file), kept as runs of consecutive
// values: a batch's rows are mostly consecutive file rows, so a shard of
// 131,072 rows is a few dozen runs instead of a 1 MiB vector grown row by row
// and freed per shard (its reallocations and page faults were 1-3% of a light
// Parquet job's CPU, on the writer thread).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nightshift::io {

class RowOrigins {
 public:
  // Appends the origin of the next row.
  void Add(int64_t origin) {
    if (runs_.empty() ||
        runs_.back().first + static_cast<int64_t>(size_ - runs_.back().index) != origin) {
      runs_.push_back(Run{size_, origin});
    }
    ++size_;
  }

  size_t size() const { return size_; }

  // The origin of row `i`. REQUIRES: i < size().
  int64_t operator[](size_t i) const {
    auto it = std::upper_bound(runs_.begin(), runs_.end(), i,
                               [](size_t row, const Run& r) { return row < r.index; });
    --it;
    return it->first + static_cast<int64_t>(i - it->index);
  }

 private:
  struct Run {
    size_t index;   // the row the run starts at
    int64_t first;  // its origin; the run's later rows follow it by one
  };
  std::vector<Run> runs_;
  size_t size_ = 0;
};

}  // namespace nightshift::io
