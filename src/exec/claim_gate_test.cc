#include "exec/claim_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

namespace nightshift::exec {
namespace {

using namespace std::chrono_literals;

// Runs WaitToClaim on another thread.
class Waiter {
 public:
  explicit Waiter(ClaimGate& gate, std::stop_token stop = {})
      : thread_([&gate, this, stop] {
          result_ = gate.WaitToClaim(stop);
          done_ = true;
        }) {}
  // The wait's result once it ended (within 5 s); nullopt if it did not.
  std::optional<bool> Outcome() {
    for (int i = 0; i < 500 && !done_; ++i) std::this_thread::sleep_for(10ms);
    if (!done_) return std::nullopt;
    return result_.load();
  }
  bool StillWaiting() {
    std::this_thread::sleep_for(50ms);
    return !done_;
  }

 private:
  std::atomic<bool> done_{false}, result_{false};
  std::jthread thread_;
};

TEST(ClaimGate, ClaimsWhileAtMostTheBoundIsUnfinished) {
  ClaimGate gate(1);
  EXPECT_TRUE(gate.WaitToClaim({}));
  gate.HandedOut(1);  // the shard the writer will commit
  EXPECT_TRUE(gate.WaitToClaim({}));
  gate.HandedOut(1);  // the shard read meanwhile
  EXPECT_EQ(gate.unfinished(), 2);
  Waiter w(gate);
  EXPECT_TRUE(w.StillWaiting());
  gate.Finished();  // committed or dropped alike
  EXPECT_EQ(w.Outcome(), true);
  EXPECT_EQ(gate.unfinished(), 1);
  EXPECT_EQ(gate.handed_out(), 2);
}

TEST(ClaimGate, SeveralShardsHandedOutAtOnceWaitForAllButTheBound) {
  ClaimGate gate(1);
  gate.HandedOut(3);
  Waiter w(gate);
  gate.Finished();
  EXPECT_TRUE(w.StillWaiting());
  gate.Finished();
  EXPECT_EQ(w.Outcome(), true);
}

TEST(ClaimGate, AStopEndsTheWaitWithoutAClaim) {
  ClaimGate gate(1);
  gate.HandedOut(2);
  std::stop_source stop;
  Waiter w(gate, stop.get_token());
  EXPECT_TRUE(w.StillWaiting());
  stop.request_stop();
  EXPECT_EQ(w.Outcome(), false);
  EXPECT_FALSE(gate.WaitToClaim(stop.get_token()));  // and any later one
}

TEST(ClaimGate, ClosingEndsEveryWaitWithoutAClaim) {
  ClaimGate gate(1);
  gate.HandedOut(2);
  Waiter w(gate);
  EXPECT_TRUE(w.StillWaiting());
  gate.Close();  // the writer is gone (failed, or done)
  EXPECT_EQ(w.Outcome(), false);
  EXPECT_FALSE(gate.WaitToClaim({}));
}

TEST(ClaimGate, UnboundedNeverWaits) {
  ClaimGate gate(ClaimGate::kUnbounded);
  gate.HandedOut(1000000);
  EXPECT_TRUE(gate.WaitToClaim({}));
}

}  // namespace
}  // namespace nightshift::exec
