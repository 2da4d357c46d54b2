#include "exec/bounded_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace nightshift::exec {
namespace {

TEST(BoundedQueueTest, DeliversEveryItemOnceAcrossThreads) {
  BoundedQueue<int> q(3);
  std::vector<int> seen;
  std::thread consumer([&] {
    while (auto v = q.Pop()) seen.push_back(*v);
  });
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.Push(i));
  q.Close();
  consumer.join();
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
}

TEST(BoundedQueueTest, CloseUnblocksAFullProducerAndRejectsPushes) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1));
  bool pushed = true;
  std::thread producer([&] { pushed = q.Push(2); });
  q.Close();
  producer.join();
  EXPECT_FALSE(pushed);
  EXPECT_EQ(q.Pop().value(), 1);  // drains what is left
  EXPECT_FALSE(q.Pop().has_value());
}

}  // namespace
}  // namespace nightshift::exec
