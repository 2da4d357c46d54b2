#include "exec/batch_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

namespace nightshift::exec {
namespace {

// A model computing y = 2x that rejects any batch holding a negative x, and
// runs out of memory on batches larger than `max_rows`. Its first
// `hang_calls` calls hang until cancelled (or, `cancellable` false, sleep
// 300 ms whatever Cancel() says).
class FakeInstance : public ModelInstance {
 public:
  explicit FakeInstance(int64_t max_rows, int* calls, int transient_failures = 0,
                        int hang_calls = 0, bool cancellable = true)
      : max_rows_(max_rows),
        calls_(calls),
        transient_failures_(transient_failures),
        hang_calls_(hang_calls),
        cancellable_(cancellable) {}
  void Cancel() override {
    if (in_flight_.load()) cancelled_.store(true);
  }
  int cancels() const { return cancels_; }
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    ++*calls_;
    if (hang_calls_ > 0) {
      --hang_calls_;
      if (!cancellable_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      } else {
        in_flight_.store(true);
        while (!cancelled_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        in_flight_.store(false);
        cancelled_.store(false);
        ++cancels_;
        return Status(Code::kInterrupted, "cancelled");
      }
    }
    if (transient_failures_ > 0) {
      --transient_failures_;
      return Status(Code::kTransient, "connection reset");
    }
    const Tensor& x = inputs[0];
    int64_t n = x.shape()[0];
    if (n > max_rows_) return Status(Code::kOutOfMemory, "too big");
    for (int64_t i = 0; i < n; ++i) {
      if (x.data_as<float>()[i] < 0) return Status(Code::kModelError, "negative input");
    }
    outputs->resize(1);
    (*outputs)[0] = Tensor::Allocate(DType::kFloat32, {n, 1});
    for (int64_t i = 0; i < n; ++i) (*outputs)[0].data_as<float>()[i] = 2 * x.data_as<float>()[i];
    return Status::Ok();
  }

 private:
  int64_t max_rows_;
  int* calls_;
  int transient_failures_;
  int hang_calls_;
  bool cancellable_;
  std::atomic<bool> in_flight_{false};
  std::atomic<bool> cancelled_{false};
  int cancels_ = 0;
};

struct Harness {
  explicit Harness(int64_t max_rows, int max_retries = 0, int transient = 0, int hang = 0,
                   double timeout = 0, Breaker* breaker = nullptr, std::stop_token cancel = {},
                   bool cancellable = true) {
    BatchRunnerOptions o;
    o.max_retries = max_retries;
    o.timeout_s = timeout;
    o.expected_last_dims = {1};
    o.backoff_base_us = 1000;
    o.breaker = breaker;
    o.cancel = cancel;
    auto inst = std::make_unique<FakeInstance>(max_rows, &calls, transient, hang, cancellable);
    instance = inst.get();
    runner = std::make_unique<BatchRunner>(std::move(inst), o);
  }
  int calls = 0;
  FakeInstance* instance = nullptr;  // owned by runner
  std::unique_ptr<BatchRunner> runner;
};

// Threads of this process, from /proc (Linux).
int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

RowBatch MakeBatch(const std::vector<float>& xs) {
  RowBatch b;
  b.num_rows = static_cast<int64_t>(xs.size());
  b.inputs.push_back(Tensor::Allocate(DType::kFloat32, {b.num_rows, 1}));
  for (size_t i = 0; i < xs.size(); ++i) b.inputs[0].data_as<float>()[i] = xs[i];
  return b;
}

TEST(BatchRunnerTest, CleanBatchRunsOnce) {
  Harness h(100, 2);
  RowBatch b = MakeBatch({1, 2, 3});
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(h.calls, 1);
  EXPECT_EQ(b.CountRowErrors(), 0);
  EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[2], 6);
}

TEST(BatchRunnerTest, BisectionIsolatesExactlyThePoisonRows) {
  Harness h(100);
  std::vector<float> xs(64);
  for (int i = 0; i < 64; ++i) xs[i] = static_cast<float>(i);
  xs[5] = -1;
  xs[40] = -2;
  RowBatch b = MakeBatch(xs);
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 2);
  EXPECT_NE(b.row_errors[5].find("negative input"), std::string::npos);
  EXPECT_NE(b.row_errors[40].find("negative input"), std::string::npos);
  for (int i = 0; i < 64; ++i) {
    if (i == 5 || i == 40) continue;
    EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[i], 2.0f * i) << i;
  }
}

TEST(BatchRunnerTest, OutOfMemoryHalvesTheBatchAndCapsLaterOnes) {
  Harness h(16, 2);
  std::vector<float> xs(64, 1.0f);
  RowBatch b = MakeBatch(xs);
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 0);
  for (int i = 0; i < 64; ++i) EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[i], 2.0f);
  EXPECT_EQ(h.runner->row_cap(), 16);
  // 64 -> OOM, 32 -> OOM, then four pieces of 16: no retries of an OOM.
  EXPECT_EQ(h.calls, 6);
  // The next batch goes straight to pieces of 16.
  h.calls = 0;
  RowBatch b2 = MakeBatch(xs);
  ASSERT_TRUE(h.runner->Run(&b2).ok());
  EXPECT_EQ(h.calls, 4);
}

TEST(BatchRunnerTest, TransientErrorsAreRetriedAndThenSucceed) {
  Harness h(100, 2, /*transient=*/2);
  RowBatch b = MakeBatch({1, 2, 3, 4});
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 0);
  EXPECT_EQ(h.calls, 3);
}

TEST(BatchRunnerTest, AHangingBatchIsCancelledAtItsTimeoutAndRetried) {
  Harness h(100, 1, 0, /*hang=*/1, /*timeout=*/0.2);
  RowBatch b = MakeBatch({1, 2, 3, 4});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_LT(SecondsSince(t0), 2.0);
  EXPECT_EQ(h.instance->cancels(), 1);  // the same instance, cancelled, ran the retry
  EXPECT_EQ(h.calls, 2);
  EXPECT_EQ(b.CountRowErrors(), 0);
  EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[3], 8.0f);
}

TEST(BatchRunnerTest, ATimeoutThatOutlastsRetriesFailsTheWholeBatchWithoutBisection) {
  Breaker breaker;
  Harness h(100, /*retries=*/1, 0, /*hang=*/1000, /*timeout=*/0.05, &breaker);
  RowBatch b = MakeBatch({1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(h.calls, 2);  // retries + 1, not (2N - 1) x (retries + 1)
  EXPECT_EQ(b.CountRowErrors(), 8);
  EXPECT_NE(b.row_errors[7].find("failed 2 time(s) (timeout)"), std::string::npos)
      << b.row_errors[7];
  EXPECT_EQ(b.row_attempts[7], 2);
}

TEST(BatchRunnerTest, TransientErrorsThatOutlastRetriesAreNotBisected) {
  Harness h(100, /*retries=*/2, /*transient=*/1000);
  RowBatch b = MakeBatch(std::vector<float>(16, 1.0f));
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(h.calls, 3);
  EXPECT_EQ(b.CountRowErrors(), 16);
}

TEST(BatchRunnerTest, TheBreakerStopsAfterThreeFailedBatchesInARow) {
  Breaker breaker;
  Harness h(100, /*retries=*/1, 0, /*hang=*/1000, /*timeout=*/0.05, &breaker);
  for (int i = 0; i < Breaker::kTrips - 1; ++i) {
    RowBatch b = MakeBatch({1, 2});
    ASSERT_TRUE(h.runner->Run(&b).ok()) << i;
  }
  RowBatch b = MakeBatch({1, 2});
  Status s = h.runner->Run(&b);
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("3 consecutive batches failed (timeout)"), std::string::npos)
      << s.message();
  EXPECT_EQ(h.calls, 2 * Breaker::kTrips);
}

TEST(BatchRunnerTest, CancelStopsTheCallInFlightWithoutDeadLetters) {
  std::stop_source stop;
  Harness h(100, 2, 0, /*hang=*/1000, /*timeout=*/0, nullptr, stop.get_token());
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.request_stop();
  });
  RowBatch b = MakeBatch({1, 2, 3});
  auto t0 = std::chrono::steady_clock::now();
  Status s = h.runner->Run(&b);
  canceller.join();
  EXPECT_EQ(s.code(), Code::kInterrupted) << s.ToString();
  EXPECT_LT(SecondsSince(t0), 2.0);
  EXPECT_EQ(h.calls, 1);  // not retried once cancelled
  EXPECT_EQ(b.CountRowErrors(), 0);
}

TEST(BatchRunnerTest, ACallThatCannotBeCancelledIsWaitedForAndKept) {
  Harness h(100, 1, 0, /*hang=*/1, /*timeout=*/0.05, nullptr, {}, /*cancellable=*/false);
  RowBatch b = MakeBatch({1, 2});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_GE(SecondsSince(t0), 0.29);  // waited: nothing was left running
  EXPECT_EQ(h.calls, 1);
  EXPECT_EQ(b.CountRowErrors(), 0);
  EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[1], 4.0f);
}

TEST(BatchRunnerTest, NoThreadOutlivesTheRunnerAfterTimeouts) {
  const int before = ThreadCount();
  {
    Harness h(100, 1, 0, /*hang=*/1000, /*timeout=*/0.05);
    RowBatch b = MakeBatch({1, 2, 3});
    ASSERT_TRUE(h.runner->Run(&b).ok());
    EXPECT_EQ(b.CountRowErrors(), 3);
  }
  EXPECT_EQ(ThreadCount(), before);
}

TEST(BatchRunnerTest, AllRowsFailingLeavesNoOutputsButEveryRowMarked) {
  Harness h(100);
  RowBatch b = MakeBatch({-1, -1, -1});
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 3);
}

}  // namespace
}  // namespace nightshift::exec
