#include "exec/batch_sizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "io/duck.h"

namespace nightshift::exec {
namespace {

// A model whose call takes 1 ms + 1 us per row on a simulated clock:
// throughput keeps growing with the batch size but by less each time.
class TimedInstance : public ModelInstance {
 public:
  double clock = 0;
  std::function<double()> Now() {
    return [this] { return clock; };
  }
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    int64_t n = inputs[0].shape()[0];
    clock += 1e-3 + 1e-6 * static_cast<double>(n);
    outputs->resize(1);
    (*outputs)[0] = Tensor::Allocate(DType::kFloat32, {n, 1});
    return Status::Ok();
  }
};

class BatchSizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ns_sizer_XXXXXX";
    dir_ = mkdtemp(tmpl);
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
  auto c = ChooseBatchSize(&inst, source_.get(), layout_, shard, int64_t{1} << 30, ledger_.get(),
                           "k", inst.Now());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_FALSE(c->cached);
  // rows/s = n / (1 ms + n us + 0.1 ms pipeline cost): 16384 still gains 6.4%
  // over 8192, so every size is probed and the largest wins.
  EXPECT_EQ(c->size, 16384);
  EXPECT_EQ(c->probes.size(), 9u);
  auto again = ChooseBatchSize(&inst, source_.get(), layout_, shard, int64_t{1} << 30,
                               ledger_.get(), "k", inst.Now());
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->size, c->size);
}

TEST_F(BatchSizerTest, StaysWithinTheMemoryBudget) {
  TimedInstance inst;
  ShardTask shard{0, 0, 0, 0, 5000, 1};
  // 4 bytes in + 4 bytes out per row: 8 KiB holds 1024 rows, not 2048.
  auto c = ChooseBatchSize(&inst, source_.get(), layout_, shard, 8 * 1024, ledger_.get(), "k2",
                           inst.Now());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->size, 1024);
  for (const auto& p : c->probes) EXPECT_LE(p.bytes, 8 * 1024);
}

}  // namespace
}  // namespace nightshift::exec
