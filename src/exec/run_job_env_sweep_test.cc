// The proof that one Env reaches every file operation of a run: a small real
// job (Parquet in, ONNX model, Parquet out, SQLite ledger) runs in process
// through RunJob with a FaultInjectionEnv. A clean run counts its file
// operations; then, for each i, a fresh run fails exactly its i-th operation.
// Each must end as documented: could not start (an error: exit 2) or failed
// while running (exit 1), with a message naming the file, or finish (the
// failure was retried) -- never a crash. A re-run without faults then
// completes with every row exactly once: no committed shard lost or doubled.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "env/fault_injection_env.h"
#include "env/temp_dir_for_test.h"
#include "io/duck.h"
#include "nightshift/engine.h"

namespace nightshift {
namespace {

constexpr int64_t kRows = 3000;  // three shards of 1000 rows

class RunJobEnvSweepTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir("ns_sweep_data");
    ASSERT_TRUE(data_->ok());
    data_dir_ = new std::string(data_->path());
    std::string cmd = fmt::format(
        "/usr/bin/python3 {}/examples/models/make_mlp.py {}/model.onnx --inputs 2 "
        "--hidden 4 --outputs 2 --softmax",
        NS_SOURCE_DIR, *data_dir_);
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto db = io::DuckDatabase::OpenInMemory(1).value();
    auto conn = io::DuckConnection::Open(db).value();
    ASSERT_TRUE(conn->Exec(fmt::format("COPY (SELECT range AS id, (range % 7)::FLOAT AS a, "
                                       "(range % 3)::FLOAT AS b FROM range({})) TO "
                                       "'{}/in.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1000)",
                                       kRows, *data_dir_))
                    .ok());
  }

  // A job writing under a fresh folder `dir`.
  JobSpec Job(const std::string& dir) {
    std::string yaml = fmt::format(R"(name: sweep
input:
  path: {0}/in.parquet
  key: id
model:
  path: {0}/model.onnx
  threads: 1
  inputs:
    - name: features
      columns: [a, b]
  outputs:
    - name: probabilities
      columns: [p0, p1]
batch:
  size: 500
output:
  path: {1}/out
  keep: [id]
run:
  shard_rows: 1000
  ledger: {1}/ledger.db
)",
                                   *data_dir_, dir);
    auto job = ParseJobText(yaml, dir + "/job.yaml", {});
    EXPECT_TRUE(job.has_value()) << job.error().ToString();
    return *job;
  }

  static void TearDownTestSuite() {
    delete data_dir_;
    delete data_;
    data_dir_ = nullptr;
    data_ = nullptr;
  }

  // (rows in the output, distinct ids in it).
  static std::pair<int64_t, int64_t> OutputRows(const std::string& dir) {
    auto db = io::DuckDatabase::OpenInMemory(1).value();
    auto conn = io::DuckConnection::Open(db).value();
    auto r = conn->Query(
        fmt::format("SELECT count(*), count(DISTINCT id) FROM '{}/out/part-*.parquet'", dir));
    if (!r.has_value()) return {-1, -1};
    return {r->Int(0, 0), r->Int(1, 0)};
  }

  static TempDir* data_;
  static std::string* data_dir_;
};

TempDir* RunJobEnvSweepTest::data_ = nullptr;
std::string* RunJobEnvSweepTest::data_dir_ = nullptr;

TEST_F(RunJobEnvSweepTest, EveryFileOperationOfARunFailsCleanlyAndAResumeCompletesExactlyOnce) {
  // A clean run: how many file operations, and of which kinds.
  FaultInjectionEnv counting(Env::Default());
  TempDir clean_folder("ns_sweep_run");
  ASSERT_TRUE(clean_folder.ok());
  const std::string clean_dir = clean_folder.path();
  RunOptions clean;
  clean.env = &counting;
  auto r = RunJob(Job(clean_dir), clean);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->exit_code, ExitCode::kOk) << r->message;
  ASSERT_EQ(OutputRows(clean_dir), std::make_pair(kRows, kRows));
  const int n = counting.operations();
  // The run's own file operations all pass through the Env: listing and
  // stat'ing the input, hashing the model, the ledger's folder, the output
  // folders' markers, the sink's publishes (fsync, rename) and _SUCCESS.
  for (auto op : {FaultInjectionEnv::Op::kStat, FaultInjectionEnv::Op::kRead,
                  FaultInjectionEnv::Op::kCreateDirs, FaultInjectionEnv::Op::kList,
                  FaultInjectionEnv::Op::kAccess, FaultInjectionEnv::Op::kWrite,
                  FaultInjectionEnv::Op::kSync, FaultInjectionEnv::Op::kRename}) {
    EXPECT_GT(counting.calls(op), 0) << FaultInjectionEnv::OpName(op);
  }
  ASSERT_GT(n, 20);

  int could_not_start = 0, failed = 0, absorbed = 0;
  for (int i = 1; i <= n; ++i) {
    TempDir tmp("ns_sweep_run");  // removed at the end of each turn
    ASSERT_TRUE(tmp.ok());
    const std::string dir = tmp.path();
    FaultInjectionEnv env(Env::Default());
    env.FailNthOperation(i);
    RunOptions faulty;
    faulty.env = &env;
    auto got = RunJob(Job(dir), faulty);
    const auto log = env.log();
    const std::string what = static_cast<size_t>(i) <= log.size() ? log[i - 1] : "(none)";
    // The failed operation's path, as the log holds it after "op ".
    const std::string path = what.substr(what.find(' ') + 1);
    if (!got.has_value()) {
      ++could_not_start;
      EXPECT_NE(got.error().message().find(path), std::string::npos)
          << "operation " << i << " (" << what << "): " << got.error().ToString();
    } else if (got->exit_code == ExitCode::kFailed) {
      ++failed;
      EXPECT_NE(got->message.find(path), std::string::npos)
          << "operation " << i << " (" << what << "): " << got->message;
    } else {
      ++absorbed;  // retried (an fsync, a rename) or not needed to finish
      EXPECT_EQ(got->exit_code, ExitCode::kOk)
          << "operation " << i << " (" << what << "): " << got->message;
    }
    auto again = RunJob(Job(dir), RunOptions{});
    ASSERT_TRUE(again.has_value())
        << "after operation " << i << " (" << what << "): " << again.error().ToString();
    EXPECT_EQ(again->exit_code, ExitCode::kOk)
        << "after operation " << i << " (" << what << "): " << again->message;
    EXPECT_EQ(OutputRows(dir), std::make_pair(kRows, kRows))
        << "after operation " << i << " (" << what << ")";
  }
  std::printf("%d file operations: %d could not start, %d failed while running, %d absorbed\n", n,
              could_not_start, failed, absorbed);
  EXPECT_GT(could_not_start, 0);
  EXPECT_GT(failed, 0);
}

TEST_F(RunJobEnvSweepTest, TheLedgerAndTheManifestReadTheRunsClock) {
  // A clock a day ahead reaches the ledger's timestamps and _SUCCESS.
  FaultInjectionEnv env(Env::Default());
  constexpr int64_t kDayUs = int64_t{86400} * 1000000;
  env.SkewClock(kDayUs);
  TempDir tmp("ns_sweep_run");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  RunOptions o;
  o.env = &env;
  const int64_t before_ms = Env::Default()->NowMillis();
  auto r = RunJob(Job(dir), o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->exit_code, ExitCode::kOk);
  EXPECT_GE(r->run.created_at_ms, before_ms + kDayUs / 1000);
  auto manifest = Env::Default()->ReadFile(dir + "/out/_SUCCESS");
  ASSERT_TRUE(manifest.has_value());
  const auto at = manifest->find("\"completed_at_ms\": ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoll(manifest->substr(at + 19)), before_ms + kDayUs / 1000);
}

}  // namespace
}  // namespace nightshift
