#include "image/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace nightshift::image {
namespace {

TEST(WorkerPoolTest, RunsEveryItemOnceFromSeveralCallers) {
  WorkerPool pool(3);
  std::vector<std::atomic<int>> hits(4 * 500);
  std::vector<std::jthread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 5; ++round) {
        pool.ForEach(100, [&](int64_t i) { hits[c * 500 + round * 100 + i].fetch_add(1); });
      }
    });
  }
  callers.clear();
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(WorkerPoolTest, WorksWithoutWorkersAndWithNothingToDo) {
  WorkerPool none(0);
  int sum = 0;
  none.ForEach(10, [&](int64_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum, 45);
  none.ForEach(0, [&](int64_t) { sum = -1; });
  EXPECT_EQ(sum, 45);
}

}  // namespace
}  // namespace nightshift::image
