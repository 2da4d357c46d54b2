#include "exec/batch_sizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "env/temp_dir_for_test.h"
#include "io/duck.h"

namespace nightshift::exec {
namespace {

// A model on a simulated clock whose call on n rows takes Seconds(n): by
// default 1 ms + 1 us per row, so throughput keeps growing with the batch
// size but by less each time. Records the largest batch it was given.
class TimedInstance : public ModelInstance {
 public:
  double clock = 0;
  int64_t largest_call = 0;
  std::function<double()> Now() {
    return [this] { return clock; };
  }
  virtual double Seconds(int64_t n) { return 1e-3 + 1e-6 * static_cast<double>(n); }
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    int64_t n = inputs[0].shape()[0];
    largest_call = std::max(largest_call, n);
    clock += Seconds(n);
    outputs->resize(1);
    (*outputs)[0] = Tensor::Allocate(DType::kFloat32, {n, 1});
    return Status::Ok();
  }
};

class BatchSizerTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_sizer"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    auto db = io::DuckDatabase::OpenInMemory(1).value();
    auto conn = io::DuckConnection::Open(db).value();
    ASSERT_TRUE(conn->Exec("COPY (SELECT range AS id, range::FLOAT AS a FROM range(5000)) TO '" +
                           dir_ + "/in.parquet' (FORMAT parquet)")
                    .ok());
    InputSpec spec;
    spec.path = dir_ + "/in.parquet";
    source_ = OpenSource(spec, 1).value();
    ledger_ = Ledger::Open(dir_ + "/ledger.db").value();
    InputPacking p;
    p.columns = {"a"};
    p.column_widths = {1};
    p.column_is_list = {false};
    p.row_shape = {1};
    layout_.inputs = {p};
    layout_.carried = {"id"};
  }
  std::string dir_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<Ledger> ledger_;
  ReadLayout layout_;
};

TEST_F(BatchSizerTest, ProbesUpToWhereGainsStopAndCachesTheChoice) {
  TimedInstance inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  auto c =
      ChooseBatchSize(&inst, source_.get(), layout_, shard, {}, ledger_.get(), "k", inst.Now());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_FALSE(c->cached);
  // rows/s = n / (1 ms + n us + 0.1 ms pipeline cost): 16384 still gains 6.4%
  // over 8192, so every size is probed and the largest wins.
  EXPECT_EQ(c->size, 16384);
  EXPECT_EQ(c->probes.size(), 9u);
  auto again =
      ChooseBatchSize(&inst, source_.get(), layout_, shard, {}, ledger_.get(), "k", inst.Now());
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->size, c->size);
}

TEST_F(BatchSizerTest, StaysWithinTheMemoryBudget) {
  TimedInstance inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  // 4 bytes in + 4 bytes out per row: 8 KiB holds 1024 rows, not 2048.
  SizerLimits limits;
  limits.max_memory = 8 * 1024;
  auto c = ChooseBatchSize(&inst, source_.get(), layout_, shard, limits, ledger_.get(), "k2",
                           inst.Now());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->size, 1024);
  for (const auto& p : c->probes) EXPECT_LE(p.bytes, 8 * 1024);
}

// A GPU-like instance: 1 GiB free of 2 GiB at the start; a batch of n rows
// needs 64 KiB per row of device memory, which (as with libtorch's caching
// allocator) stays taken after the call. Throughput keeps growing with size.
class DeviceInstance : public TimedInstance {
 public:
  int64_t taken = 0;
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    int64_t n = inputs[0].shape()[0];
    if (n * kPerRow > kFree) return Status(Code::kOutOfMemory, "CUDA out of memory");
    taken = std::max(taken, n * kPerRow);
    return TimedInstance::Execute(inputs, outputs);
  }
  std::optional<DeviceMemory> QueryDeviceMemory() override {
    return DeviceMemory{kFree - taken, 2 * kFree};
  }
  static constexpr int64_t kFree = int64_t{1} << 30;
  static constexpr int64_t kPerRow = int64_t{64} << 10;
};

TEST_F(BatchSizerTest, StaysWithinFreeDeviceMemoryForEveryInstance) {
  DeviceInstance inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  SizerLimits limits;
  limits.instances = 2;
  auto c = ChooseBatchSize(&inst, source_.get(), layout_, shard, limits, ledger_.get(), "k3",
                           inst.Now());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  ASSERT_TRUE(c->device_at_start.has_value());
  // 0.8 x 1 GiB / 2 instances = 409.6 MiB: 4096 rows (256 MiB) fit, 8192 rows
  // (512 MiB, projected from 4096's working set) would not, and are never run.
  EXPECT_EQ(c->device_budget, static_cast<int64_t>(0.8 * DeviceInstance::kFree / 2));
  EXPECT_EQ(c->size, 4096);
  EXPECT_EQ(inst.largest_call, 4096);
  ASSERT_FALSE(c->probes.empty());
  EXPECT_EQ(c->probes.back().size, 4096);
  EXPECT_EQ(c->probes.back().device_bytes, 4096 * DeviceInstance::kPerRow);
  for (const auto& p : c->probes) EXPECT_LE(p.device_bytes, c->device_budget);

  // One instance: twice the budget, so 8192 rows (512 MiB) fit and win.
  DeviceInstance single;
  auto one = ChooseBatchSize(&single, source_.get(), layout_, shard, {}, ledger_.get(), "k4",
                             single.Now());
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->size, 8192);
}

// Rows/s by size on a flat curve: 128 and 256 gain under 5% each over the
// previous size, so the sweep stops after 256; the plateau is then timed again
// and its best (256) wins, not the first size of it. Every third call is
// slowed 10x by a "noisy neighbour": the fastest-call timing ignores it.
class PlateauInstance : public TimedInstance {
 public:
  int calls = 0;
  double Seconds(int64_t n) override {
    double rate = n == 64 ? 1.00e4 : n == 128 ? 1.03e4 : n == 256 ? 1.035e4 : 0.80e4;
    double seconds = static_cast<double>(n) / rate;
    return ++calls % 3 == 0 ? 10 * seconds : seconds;
  }
};

TEST_F(BatchSizerTest, ResolvesAPlateauByTimingItAgain) {
  PlateauInstance inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  auto c =
      ChooseBatchSize(&inst, source_.get(), layout_, shard, {}, ledger_.get(), "k5", inst.Now());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  ASSERT_EQ(c->probes.size(), 3u);  // 64, 128, 256: two sizes without a 5% gain
  EXPECT_EQ(c->size, 256);
}

// A slow model (1 ms per row): 256 rows already take 0.256 s a call, so the
// sweep ends there, with one call per size from 256 on, instead of timing
// ever larger batches for seconds.
class SlowInstance : public TimedInstance {
 public:
  double Seconds(int64_t n) override { return 1e-3 * static_cast<double>(n); }
};

TEST_F(BatchSizerTest, StopsGrowingOnceACallIsLong) {
  SlowInstance inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  auto c =
      ChooseBatchSize(&inst, source_.get(), layout_, shard, {}, ledger_.get(), "k7", inst.Now());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(inst.largest_call, 256);
  EXPECT_EQ(c->probes.back().size, 256);
  // Throughput is flat (1,000 rows/s less the 0.1 ms per batch): the largest
  // size, with the least per-batch cost, wins.
  EXPECT_EQ(c->size, 256);
}

// A model that fails from 1024 rows on (out of memory): the largest size that
// ran is the limit.
class FailsFrom1024 : public TimedInstance {
 public:
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    if (inputs[0].shape()[0] >= 1024) return Status(Code::kOutOfMemory, "out of memory");
    return TimedInstance::Execute(inputs, outputs);
  }
};

TEST_F(BatchSizerTest, AnOutOfMemorySizeEndsTheSweep) {
  FailsFrom1024 inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  auto c =
      ChooseBatchSize(&inst, source_.get(), layout_, shard, {}, ledger_.get(), "k6", inst.Now());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->size, 512);
  EXPECT_FALSE(c->device_at_start.has_value());
}

}  // namespace
}  // namespace nightshift::exec
