// Fault injection against the whole engine, in process (leveldb style): a
// FaultInjectionEnv fails file operations and a wrapper around the model
// instance fails, runs out of memory, rejects rows or hangs. Each test
// asserts the exact outcome the product promises, on real Parquet files and a
// real ONNX model.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "env/fault_injection_env.h"
#include "env/temp_dir_for_test.h"
#include "io/duck.h"
#include "nightshift/engine.h"

namespace nightshift {
namespace {

constexpr int64_t kRows = 20000;
constexpr float kPoison = -999.0f;
// Shards of 4096 rows (two row groups of 2048): [0, 4096), ..., [16384, 20000).
constexpr int64_t kShardRows = 4096;
// Batches of 500 cut at shard ends: 9 per full shard, 8 in the last (3616 rows).
constexpr int kBatches = 4 * 9 + 8;

// Fails or misbehaves around a real instance.
class FaultyInstance : public ModelInstance {
 public:
  struct Plan {
    std::atomic<int> transient_failures{0};
    int64_t oom_above_rows = 0;      // 0: never
    bool reject_poison = false;      // batches holding kPoison in column 0 fail
    std::atomic<int> hang_calls{0};  // the next N calls hang for 5 s or until cancelled
    std::atomic<int> calls{0};
  };
  FaultyInstance(std::unique_ptr<ModelInstance> base, Plan* plan)
      : base_(std::move(base)), plan_(plan) {}

  void Cancel() override {
    cancelled_.store(true);
    base_->Cancel();
  }

  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    plan_->calls++;
    if (plan_->hang_calls.load() > 0 && plan_->hang_calls-- > 0) {
      cancelled_.store(false);
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!cancelled_.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (cancelled_.load()) return Status(Code::kInterrupted, "injected hang cancelled");
    }
    if (plan_->transient_failures.load() > 0 && plan_->transient_failures-- > 0) {
      return Status(Code::kTransient, "injected: connection reset");
    }
    const Tensor& x = inputs[0];
    if (plan_->oom_above_rows > 0 && x.shape()[0] > plan_->oom_above_rows) {
      return Status(Code::kOutOfMemory, "injected: out of memory");
    }
    if (plan_->reject_poison) {
      int64_t width = x.NumElements() / x.shape()[0];
      for (int64_t r = 0; r < x.shape()[0]; ++r) {
        if (x.data_as<float>()[r * width] == kPoison)
          return Status(Code::kModelError, "injected: poison value");
      }
    }
    return base_->Execute(inputs, outputs);
  }

 private:
  std::unique_ptr<ModelInstance> base_;
  Plan* plan_;
  std::atomic<bool> cancelled_{false};
};

class RunJobFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir("ns_fault_test");
    ASSERT_TRUE(data_->ok());
    data_dir_ = new std::string(data_->path());
    std::string cmd = fmt::format(
        "/usr/bin/python3 {}/examples/models/make_mlp.py {}/model.onnx --inputs 4 "
        "--hidden 8 --outputs 2 --softmax",
        NS_SOURCE_DIR, *data_dir_);
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto db = io::DuckDatabase::OpenInMemory(1).value();
    auto conn = io::DuckConnection::Open(db).value();
    // Every 1000th row (id % 1000 == 7) holds the poison value.
    ASSERT_TRUE(
        conn
            ->Exec(fmt::format(
                "COPY (SELECT range AS id, CASE WHEN range % 1000 = 7 THEN {} ELSE "
                "(range % 97)::FLOAT END AS a, (range % 13)::FLOAT AS b, 1.5::FLOAT AS c, "
                "(range % 5)::FLOAT AS d FROM range({})) TO '{}/in.parquet' (FORMAT parquet, "
                "ROW_GROUP_SIZE 2048)",
                kPoison, kRows, *data_dir_))
            .ok());
  }

  static void TearDownTestSuite() {
    delete data_dir_;
    delete data_;
    data_dir_ = nullptr;
    data_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(run_dir_.ok());
    dir_ = run_dir_.path();
  }

  JobSpec Job(const std::string& extra = "") {
    std::string yaml = fmt::format(R"(name: faults
input:
  path: {0}/in.parquet
  key: id
model:
  path: {0}/model.onnx
  threads: 1
  inputs:
    - name: features
      columns: [a, b, c, d]
  outputs:
    - name: probabilities
      columns: [p0, p1]
batch:
  size: 500
output:
  path: {1}/out
  keep: [id]
run:
  shard_rows: 4096
  ledger: {1}/ledger.db
errors:
  max_failed_items: -1
{2})",
                                   *data_dir_, dir_, extra);
    auto job = ParseJobText(yaml, dir_ + "/job.yaml", {});
    EXPECT_TRUE(job.has_value()) << job.error().ToString();
    return *job;
  }

  // (rows in output, distinct ids in output) read back with DuckDB.
  std::pair<int64_t, int64_t> OutputRows() {
    auto db = io::DuckDatabase::OpenInMemory(1).value();
    auto conn = io::DuckConnection::Open(db).value();
    auto r = conn->Query(
        fmt::format("SELECT count(*), count(DISTINCT id) FROM '{}/out/part-*.parquet'", dir_));
    EXPECT_TRUE(r.has_value());
    return {r->Int(0, 0), r->Int(1, 0)};
  }

  RunOptions Options(FaultyInstance::Plan* plan, Env* env = nullptr) {
    RunOptions o;
    o.env = env;
    if (plan != nullptr) {
      o.wrap_instance =
          [plan](std::unique_ptr<ModelInstance> base) -> std::unique_ptr<ModelInstance> {
        return std::make_unique<FaultyInstance>(std::move(base), plan);
      };
    }
    return o;
  }

  static TempDir* data_;
  static std::string* data_dir_;
  TempDir run_dir_{"ns_fault_run"};
  std::string dir_;
};

TempDir* RunJobFaultTest::data_ = nullptr;
std::string* RunJobFaultTest::data_dir_ = nullptr;

TEST_F(RunJobFaultTest, CleanRunWritesEveryRowOnce) {
  auto r = RunJob(Job(), Options(nullptr));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_EQ(r->counts.succeeded, kRows);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
}

TEST_F(RunJobFaultTest, AFailedFsyncIsRetriedAndTheRunCompletes) {
  FaultInjectionEnv env(Env::Default());
  // Syncs 1-2 publish the output folder's owner marker; 4 is shard 0's folder sync.
  env.FailNth(FaultInjectionEnv::Op::kSync, 4, 1);
  auto r = RunJob(Job(), Options(nullptr, &env));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
  EXPECT_GT(env.calls(FaultInjectionEnv::Op::kSync), 10);
}

TEST_F(RunJobFaultTest, PersistentRenameFailureFailsTheRunAndAResumeCompletesExactlyOnce) {
  FaultInjectionEnv env(Env::Default());
  // Rename 1 publishes the owner marker; shards 0 and 1 (+ nothing else) get through.
  env.FailNth(FaultInjectionEnv::Op::kRename, 4, 1000);
  auto r = RunJob(Job(), Options(nullptr, &env));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, ExitCode::kFailed);
  EXPECT_EQ(r->run.state, RunState::kFailed);
  EXPECT_NE(r->message.find("injected rename failure"), std::string::npos) << r->message;
  EXPECT_EQ(r->counts.shards_committed, 2);
  auto again = RunJob(Job(), Options(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->exit_code, ExitCode::kOk);
  EXPECT_EQ(again->rows_processed, kRows - 2 * kShardRows);  // only the uncommitted shards
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
}

TEST_F(RunJobFaultTest, TransientBackendErrorsAreRetriedWithoutLosingRows) {
  FaultyInstance::Plan plan;
  plan.transient_failures = 2;  // the first batch: 2 failed tries, then its last retry works
  auto r = RunJob(Job(), Options(&plan));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_EQ(r->counts.failed, 0);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
  EXPECT_EQ(plan.calls.load(), kBatches + 2);
}

TEST_F(RunJobFaultTest, OutOfMemoryAboveABatchSizeShrinksBatchesAndLosesNothing) {
  FaultyInstance::Plan plan;
  plan.oom_above_rows = 100;
  auto r = RunJob(Job(), Options(&plan));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_EQ(r->counts.failed, 0);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
}

TEST_F(RunJobFaultTest, RowsTheModelRejectsAreDeadLetteredAndTheRestWritten) {
  FaultyInstance::Plan plan;
  plan.reject_poison = true;
  auto r = RunJob(Job(), Options(&plan));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_EQ(r->counts.failed, kRows / 1000);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows - kRows / 1000, kRows - kRows / 1000));
  auto status = GetJobStatus(Job(), r->run.run_id, true);
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->failures.size(), static_cast<size_t>(kRows / 1000));
  EXPECT_EQ(status->failures[0].key_json, "7");
  EXPECT_NE(status->failures[0].error.find("injected: poison value"), std::string::npos);
}

TEST_F(RunJobFaultTest, TooManyFailedItemsStopTheRunWithExitOne) {
  FaultyInstance::Plan plan;
  plan.reject_poison = true;
  JobSpec job = Job();
  job.errors.max_failed_count = 5;
  auto r = RunJob(job, Options(&plan));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, ExitCode::kFailed);
  EXPECT_EQ(r->run.state, RunState::kFailed);
  EXPECT_NE(r->run.message.find("max_failed_items"), std::string::npos) << r->run.message;
  // Shard 0 holds 5 poison rows (within the limit), shard 1 four more: the run
  // stops after committing shard 1, the first to cross it.
  EXPECT_EQ(r->counts.failed, 9);
  EXPECT_EQ(r->counts.shards_committed, 2);
}

TEST_F(RunJobFaultTest, AHangingBatchTimesOutAndTheRunCompletes) {
  FaultyInstance::Plan plan;
  plan.hang_calls = 1;
  JobSpec job = Job();
  job.errors.batch_timeout_s = 0.5;
  auto t0 = std::chrono::steady_clock::now();
  auto r = RunJob(job, Options(&plan));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_EQ(r->counts.failed, 0);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
  EXPECT_LT(s, 4.5);  // did not wait out the 5 s hang
}

TEST_F(RunJobFaultTest, AModelThatAlwaysTimesOutTripsTheBreakerAndExplainsItsShards) {
  FaultyInstance::Plan plan;
  plan.hang_calls = 1000000;
  JobSpec job = Job();
  job.errors.batch_timeout_s = 0.1;
  job.errors.max_retries = 1;
  job.errors.max_failed_count = -1;  // without the breaker, every row would be dead-lettered
  auto r = RunJob(job, Options(&plan));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, ExitCode::kFailed);
  EXPECT_EQ(r->run.state, RunState::kFailed);
  EXPECT_NE(r->message.find("3 consecutive batches failed (timeout)"), std::string::npos)
      << r->message;
  EXPECT_EQ(plan.calls.load(), 2 * 3);  // three batches, each tried max_retries + 1 times
  EXPECT_EQ(r->counts.failed, 0);       // no dead letters
  auto ledger = Ledger::Open(job.run.ledger);
  ASSERT_TRUE(ledger.has_value());
  auto shards = (*ledger)->ListShards(r->run.run_id);
  ASSERT_TRUE(shards.has_value());
  for (const ShardRecord& s : *shards) {
    EXPECT_EQ(s.state, ShardState::kFailed) << s.shard_id;
    EXPECT_NE(s.message.find("consecutive batches failed"), std::string::npos) << s.message;
  }
}

TEST_F(RunJobFaultTest, AStopPastTheDrainTimeoutCancelsTheCallInFlightAndReturns75) {
  FaultyInstance::Plan plan;
  plan.hang_calls = 1000000;
  JobSpec job = Job();
  job.run.drain_timeout_s = 0.2;
  std::atomic<int> signals{0};
  RunOptions options = Options(&plan);
  options.signals = &signals;
  std::thread signaller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    signals.store(1);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = RunJob(job, options);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  signaller.join();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, ExitCode::kInterrupted);
  EXPECT_EQ(r->run.state, RunState::kInterrupted);
  EXPECT_LT(s, 4.5);               // did not wait out the 5 s hang
  EXPECT_EQ(r->counts.failed, 0);  // a cancelled batch is not the rows' fault
  auto ledger = Ledger::Open(job.run.ledger);
  ASSERT_TRUE(ledger.has_value());
  auto shards = (*ledger)->ListShards(r->run.run_id);
  ASSERT_TRUE(shards.has_value());
  for (const ShardRecord& sh : *shards) {
    EXPECT_NE(sh.state, ShardState::kRunning) << sh.shard_id;
  }
}

}  // namespace
}  // namespace nightshift

namespace nightshift {
namespace {

TEST_F(RunJobFaultTest, RetryRerunsOnlyDeadLettersAndClearsThoseThatNowSucceed) {
  FaultyInstance::Plan plan;
  plan.reject_poison = true;
  auto r = RunJob(Job(), Options(&plan));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->counts.failed, kRows / 1000);
  // "Fix the model": retry without the fault.
  RunOptions fixed = Options(nullptr);
  fixed.run_id = r->run.run_id;
  auto retry = RetryFailures(Job(), fixed);
  ASSERT_TRUE(retry.has_value()) << retry.error().ToString();
  EXPECT_EQ(retry->exit_code, ExitCode::kOk);
  EXPECT_EQ(retry->rows_processed, kRows / 1000);  // only the dead letters were read and scored
  EXPECT_EQ(retry->counts.failed, 0);
  EXPECT_EQ(retry->counts.succeeded, kRows);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows, kRows));
  // A second retry finds nothing to do.
  auto again = RetryFailures(Job(), fixed);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->rows_processed, 0);
  EXPECT_NE(again->message.find("nothing to retry"), std::string::npos);
}

TEST_F(RunJobFaultTest, RetryKeepsRowsThatStillFailWithTheirNewReason) {
  FaultyInstance::Plan plan;
  plan.reject_poison = true;
  auto r = RunJob(Job(), Options(&plan));
  ASSERT_TRUE(r.has_value());
  RunOptions still = Options(&plan);
  still.run_id = r->run.run_id;
  auto retry = RetryFailures(Job(), still);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->counts.failed, kRows / 1000);
  EXPECT_EQ(OutputRows(), std::make_pair(kRows - kRows / 1000, kRows - kRows / 1000));
  auto status = GetJobStatus(Job(), r->run.run_id, true);
  ASSERT_TRUE(status.has_value());
  ASSERT_FALSE(status->failures.empty());
  EXPECT_GE(status->failures[0].attempts, 2);  // attempts accumulate across retries
}

TEST_F(RunJobFaultTest, AResumedRunRefusesAChangedModelUnlessAllowed) {
  // Copy the model so the test can change it.
  std::string model = dir_ + "/model.onnx";
  ASSERT_EQ(std::system(fmt::format("cp {}/model.onnx {}", *data_dir_, model).c_str()), 0);
  JobSpec job = Job();
  job.model.path = model;
  FaultInjectionEnv env(Env::Default());
  env.FailNth(FaultInjectionEnv::Op::kRename, 2, 1000);
  auto r = RunJob(job, Options(nullptr, &env));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->exit_code, ExitCode::kFailed);
  ASSERT_EQ(
      std::system(
          fmt::format("/usr/bin/python3 {}/examples/models/make_mlp.py {} --inputs 4 --hidden 8 "
                      "--outputs 2 --softmax --seed 99",
                      NS_SOURCE_DIR, model)
              .c_str()),
      0);
  auto refused = RunJob(job, Options(nullptr));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::kModelError);
  EXPECT_NE(refused.error().message().find("changed since run"), std::string::npos);
  job.model.allow_change = true;
  auto allowed = RunJob(job, Options(nullptr));
  ASSERT_TRUE(allowed.has_value());
  EXPECT_EQ(allowed->exit_code, ExitCode::kOk);
}

}  // namespace
}  // namespace nightshift
