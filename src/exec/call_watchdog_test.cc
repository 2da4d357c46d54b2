#include "exec/call_watchdog.h"

#include <gtest/gtest.h>

#include <atomic>

#include "exec/backoff.h"

namespace nightshift::exec {
namespace {

using Outcome = CallWatchdog::Outcome;

// A call that spins until cancelled; returns how many cancels it saw.
struct Spinner {
  std::atomic<int> cancels{0};
  void Call() {
    while (cancels.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

TEST(CallWatchdogTest, AQuickCallFinishesWithoutACancel) {
  CallWatchdog w;
  int cancels = 0;
  EXPECT_EQ(w.Run(
                5, {}, [&] { ++cancels; }, [] {}),
            Outcome::kFinished);
  EXPECT_EQ(cancels, 0);
}

TEST(CallWatchdogTest, ACallPastItsDeadlineIsCancelled) {
  CallWatchdog w;
  Spinner sp;
  EXPECT_EQ(w.Run(
                0.05, {}, [&] { ++sp.cancels; }, [&] { sp.Call(); }),
            Outcome::kTimedOut);
  EXPECT_GE(sp.cancels.load(), 1);
  // The watchdog is reusable, and a later quick call is not cancelled.
  int later = 0;
  EXPECT_EQ(w.Run(
                5, {}, [&] { ++later; }, [] {}),
            Outcome::kFinished);
  EXPECT_EQ(later, 0);
}

TEST(CallWatchdogTest, AStopRequestCancelsACallWithoutDeadline) {
  CallWatchdog w;
  Spinner sp;
  std::stop_source stop;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.request_stop();
  });
  EXPECT_EQ(w.Run(
                0, stop.get_token(), [&] { ++sp.cancels; }, [&] { sp.Call(); }),
            Outcome::kStopped);
  t.join();
}

TEST(CallWatchdogTest, ACancelMissedByTheCallIsRepeated) {
  CallWatchdog w;
  std::atomic<int> cancels{0};
  // Ignores the first cancels, as a backend between two steps might.
  EXPECT_EQ(w.Run(
                0.01, {}, [&] { ++cancels; },
                [&] {
                  while (cancels.load() < 3)
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }),
            Outcome::kTimedOut);
  EXPECT_GE(cancels.load(), 3);
}

TEST(BackoffTest, GrowsExponentiallyWithJitterAndIsCapped) {
  for (int i = 0; i < 50; ++i) {
    EXPECT_GE(BackoffMicros(0, 1000), 500);
    EXPECT_LT(BackoffMicros(0, 1000), 1500);
    EXPECT_GE(BackoffMicros(3, 1000), 4000);
    EXPECT_LT(BackoffMicros(3, 1000), 12000);
    EXPECT_LT(BackoffMicros(30, 1000), 7500000);  // 5 s cap x 1.5
  }
}

TEST(BackoffTest, AStopRequestEndsTheSleepAtOnce) {
  std::stop_source stop;
  stop.request_stop();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(SleepBackoff(Env::Default(), 10, 1000000, stop.get_token()));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
}

}  // namespace
}  // namespace nightshift::exec
