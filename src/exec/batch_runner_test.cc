#include "exec/batch_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace nightshift::exec {
namespace {

// A model computing y = 2x that rejects any batch holding a negative x, and
// runs out of memory on batches larger than `max_rows`.
class FakeInstance : public ModelInstance {
 public:
  explicit FakeInstance(int64_t max_rows, int* calls, int transient_failures = 0,
                        int hang_calls = 0)
      : max_rows_(max_rows),
        calls_(calls),
        transient_failures_(transient_failures),
        hang_calls_(hang_calls) {}
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    ++*calls_;
    if (hang_calls_ > 0) {
      --hang_calls_;
      std::this_thread::sleep_for(std::chrono::seconds(3));
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
};

struct Harness {
  explicit Harness(int64_t max_rows, int max_retries = 0, int transient = 0, int hang = 0,
                   double timeout = 0) {
    BatchRunnerOptions o;
    o.max_retries = max_retries;
    o.timeout_s = timeout;
    o.expected_last_dims = {1};
    o.backoff_base_us = 1000;
    runner = std::make_unique<BatchRunner>(
        std::make_unique<FakeInstance>(max_rows, &calls, transient, hang),
        [this, max_rows]() -> Result<std::unique_ptr<ModelInstance>> {
          ++instances_made;
          return std::unique_ptr<ModelInstance>(std::make_unique<FakeInstance>(max_rows, &calls));
        },
        o);
  }
  int calls = 0;
  int instances_made = 0;
  std::unique_ptr<BatchRunner> runner;
};

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

TEST(BatchRunnerTest, AHangingBatchTimesOutAndRunsOnAFreshInstance) {
  Harness h(100, 1, 0, /*hang=*/1, /*timeout=*/0.2);
  RowBatch b = MakeBatch({1, 2, 3, 4});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.runner->Run(&b).ok());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 2.5);  // did not wait for the 3 s hang
  EXPECT_EQ(b.CountRowErrors(), 0);
  EXPECT_EQ(h.instances_made, 1);
  EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[3], 8.0f);
}

TEST(BatchRunnerTest, AllRowsFailingLeavesNoOutputsButEveryRowMarked) {
  Harness h(100);
  RowBatch b = MakeBatch({-1, -1, -1});
  ASSERT_TRUE(h.runner->Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 3);
}

}  // namespace
}  // namespace nightshift::exec
