#include "exec/batch_runner.h"

#include <gtest/gtest.h>

namespace nightshift::exec {
namespace {

// A model computing y = 2x that rejects any batch holding a negative x, and
// runs out of memory on batches larger than `max_rows`.
class FakeInstance : public ModelInstance {
 public:
  explicit FakeInstance(int64_t max_rows) : max_rows_(max_rows) {}
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    ++calls;
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
  int calls = 0;

 private:
  int64_t max_rows_;
};

RowBatch MakeBatch(const std::vector<float>& xs) {
  RowBatch b;
  b.num_rows = static_cast<int64_t>(xs.size());
  b.inputs.push_back(Tensor::Allocate(DType::kFloat32, {b.num_rows, 1}));
  for (size_t i = 0; i < xs.size(); ++i) b.inputs[0].data_as<float>()[i] = xs[i];
  return b;
}

TEST(BatchRunnerTest, CleanBatchRunsOnce) {
  FakeInstance inst(100);
  BatchRunner runner(&inst, 2, {1});
  RowBatch b = MakeBatch({1, 2, 3});
  ASSERT_TRUE(runner.Run(&b).ok());
  EXPECT_EQ(inst.calls, 1);
  EXPECT_EQ(b.CountRowErrors(), 0);
  EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[2], 6);
}

TEST(BatchRunnerTest, BisectionIsolatesExactlyThePoisonRows) {
  FakeInstance inst(100);
  BatchRunner runner(&inst, 0, {1});
  std::vector<float> xs(64);
  for (int i = 0; i < 64; ++i) xs[i] = static_cast<float>(i);
  xs[5] = -1;
  xs[40] = -2;
  RowBatch b = MakeBatch(xs);
  ASSERT_TRUE(runner.Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 2);
  EXPECT_NE(b.row_errors[5].find("negative input"), std::string::npos);
  EXPECT_NE(b.row_errors[40].find("negative input"), std::string::npos);
  for (int i = 0; i < 64; ++i) {
    if (i == 5 || i == 40) continue;
    EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[i], 2.0f * i) << i;
  }
}

TEST(BatchRunnerTest, OutOfMemoryIsRetriedThenSplit) {
  FakeInstance inst(16);
  BatchRunner runner(&inst, 1, {1});
  std::vector<float> xs(64, 1.0f);
  RowBatch b = MakeBatch(xs);
  ASSERT_TRUE(runner.Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 0);
  for (int i = 0; i < 64; ++i) EXPECT_FLOAT_EQ(b.outputs[0].data_as<float>()[i], 2.0f);
}

TEST(BatchRunnerTest, AllRowsFailingLeavesNoOutputsButEveryRowMarked) {
  FakeInstance inst(100);
  BatchRunner runner(&inst, 0, {1});
  RowBatch b = MakeBatch({-1, -1, -1});
  ASSERT_TRUE(runner.Run(&b).ok());
  EXPECT_EQ(b.CountRowErrors(), 3);
}

}  // namespace
}  // namespace nightshift::exec
