#include "ledger/sqlite/sqlite_ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "nightshift/ledger.h"

namespace nightshift {
namespace {

// Two files of 200 rows, cut into four shards of 100 rows.
struct Plan {
  RunRecord run;
  std::vector<InputFileRecord> files;
  std::vector<ShardRecord> shards;
};

Plan MakePlan(const std::string& run_id, const std::string& job_name = "score") {
  Plan p;
  p.run.run_id = run_id;
  p.run.job_name = job_name;
  p.run.fingerprint = "fp-" + run_id;
  p.run.output_path = "/out/" + run_id;
  p.run.model_path = "/models/m.onnx";
  p.run.model_sha256 = "abc123";
  for (int32_t f = 0; f < 2; ++f) {
    p.files.push_back({.index = f,
                       .path = "/data/part" + std::to_string(f) + ".parquet",
                       .size = 1000 + f,
                       .mtime_ns = 1700000000000000000 + f,
                       .rows = 200});
    for (int64_t half = 0; half < 2; ++half) {
      ShardRecord s;
      s.shard_id = f * 2 + half;
      s.file_index = f;
      s.row_begin = half * 100;
      s.row_end = half * 100 + 100;
      p.shards.push_back(s);
    }
  }
  return p;
}

ItemFailure Failure(int64_t shard_id, int64_t row) {
  return {.shard_id = shard_id,
          .row = row,
          .key_json = "{\"id\":" + std::to_string(row) + "}",
          .error = "bad value in row " + std::to_string(row),
          .attempts = 2,
          .file_index = 0,
          .file = ""};
}

class SqliteLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ns_ledger_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ledger.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Ledger> Open(const std::string& path) {
    auto ledger = Ledger::Open(path);
    EXPECT_TRUE(ledger.has_value()) << ledger.error().ToString();
    return ledger.has_value() ? std::move(ledger).value() : nullptr;
  }

  // Opens path_ and creates the run of MakePlan(run_id).
  std::unique_ptr<Ledger> OpenWithRun(const std::string& run_id) {
    auto ledger = Open(path_);
    if (ledger == nullptr) return nullptr;
    Plan p = MakePlan(run_id);
    auto run = ledger->CreateOrAttachRun(p.run, p.files, p.shards);
    EXPECT_TRUE(run.has_value()) << run.error().ToString();
    return ledger;
  }

  std::string dir_;
  std::string path_;
};

void ExpectSameRun(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.job_name, b.job_name);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.output_path, b.output_path);
  EXPECT_EQ(a.model_path, b.model_path);
  EXPECT_EQ(a.model_sha256, b.model_sha256);
  EXPECT_EQ(a.total_rows, b.total_rows);
  EXPECT_EQ(a.total_shards, b.total_shards);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
  EXPECT_EQ(a.finished_at_ms, b.finished_at_ms);
}

TEST(LedgerStateNamesTest, RoundTrip) {
  for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kCompleted,
                     RunState::kFailed, RunState::kInterrupted}) {
    EXPECT_EQ(ParseRunState(RunStateName(s)).value(), s);
  }
  for (ShardState s :
       {ShardState::kPending, ShardState::kRunning, ShardState::kCommitted, ShardState::kFailed}) {
    EXPECT_EQ(ParseShardState(ShardStateName(s)).value(), s);
  }
  EXPECT_EQ(RunStateName(RunState::kInterrupted), "interrupted");
  EXPECT_EQ(ShardStateName(ShardState::kCommitted), "committed");
  EXPECT_EQ(ParseRunState("done").error().code(), Code::kInvalidJob);
  EXPECT_EQ(ParseShardState("").error().code(), Code::kInvalidJob);
}

TEST_F(SqliteLedgerTest, CreatesParentFolders) {
  std::string path = dir_ + "/a/b/.nightshift/ledger.db";
  auto ledger = Open(path);
  ASSERT_NE(ledger, nullptr);
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST_F(SqliteLedgerTest, CreateStoresThePlanAsPending) {
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  Plan p = MakePlan("r1");
  auto run = ledger->CreateOrAttachRun(p.run, p.files, p.shards);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  EXPECT_EQ(run->run_id, "r1");
  EXPECT_EQ(run->job_name, "score");
  EXPECT_EQ(run->fingerprint, "fp-r1");
  EXPECT_EQ(run->state, RunState::kPending);
  EXPECT_EQ(run->output_path, "/out/r1");
  EXPECT_EQ(run->model_sha256, "abc123");
  EXPECT_EQ(run->total_rows, 400);
  EXPECT_EQ(run->total_shards, 4);
  EXPECT_GT(run->created_at_ms, 0);
  EXPECT_EQ(run->updated_at_ms, run->created_at_ms);
  EXPECT_EQ(run->finished_at_ms, 0);

  auto files = ledger->ListFiles("r1");
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[1].index, 1);
  EXPECT_EQ((*files)[1].path, "/data/part1.parquet");
  EXPECT_EQ((*files)[1].size, 1001);
  EXPECT_EQ((*files)[1].mtime_ns, 1700000000000000001);
  EXPECT_EQ((*files)[1].rows, 200);

  auto shards = ledger->ListShards("r1");
  ASSERT_TRUE(shards.has_value());
  ASSERT_EQ(shards->size(), 4u);
  for (int64_t i = 0; i < 4; ++i) {
    const ShardRecord& s = (*shards)[i];
    EXPECT_EQ(s.shard_id, i);
    EXPECT_EQ(s.file_index, i / 2);
    EXPECT_EQ(s.row_begin, (i % 2) * 100);
    EXPECT_EQ(s.row_end, (i % 2) * 100 + 100);
    EXPECT_EQ(s.state, ShardState::kPending);
    EXPECT_EQ(s.attempts, 0);
    EXPECT_EQ(s.epoch, 0);
  }
}

TEST_F(SqliteLedgerTest, AttachReturnsTheStoredRunUnchanged) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  RunRecord stored = ledger->GetRun("r1").value();
  ASSERT_TRUE(ledger->ClaimShard("r1", 0).has_value());

  Plan other = MakePlan("r1", "another-job");
  other.run.fingerprint = "different";
  other.shards.resize(1);
  auto attached = ledger->CreateOrAttachRun(other.run, {}, other.shards);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  ExpectSameRun(*attached, stored);
  // The plan given on attach is ignored: shards and their progress are kept.
  auto shards = ledger->ListShards("r1").value();
  ASSERT_EQ(shards.size(), 4u);
  EXPECT_EQ(shards[0].state, ShardState::kRunning);
  EXPECT_EQ(ledger->ListFiles("r1").value().size(), 2u);
}

TEST_F(SqliteLedgerTest, UnknownRunIsNotFound) {
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->GetRun("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(ledger->ListShards("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(ledger->ListFiles("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(ledger->Counts("nope").error().code(), Code::kNotFound);
  EXPECT_EQ(ledger->ListFailures("nope", -1).error().code(), Code::kNotFound);
  EXPECT_EQ(ledger->SetRunState("nope", RunState::kRunning, "").code(), Code::kNotFound);
  EXPECT_EQ(ledger->SetRunModel("nope", "m", "h").code(), Code::kNotFound);
  EXPECT_EQ(ledger->ClaimShard("nope", 0).error().code(), Code::kNotFound);
  EXPECT_EQ(ledger->LatestRun("score").error().code(), Code::kNotFound);
}

TEST_F(SqliteLedgerTest, ClaimIncrementsEpochAndAttempts) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->ClaimShard("r1", 2).value(), 1);
  EXPECT_EQ(ledger->ClaimShard("r1", 2).value(), 2);
  EXPECT_EQ(ledger->ClaimShard("r1", 2).value(), 3);
  EXPECT_EQ(ledger->ClaimShard("r1", 3).value(), 1);
  auto shards = ledger->ListShards("r1").value();
  EXPECT_EQ(shards[2].state, ShardState::kRunning);
  EXPECT_EQ(shards[2].attempts, 3);
  EXPECT_EQ(shards[2].epoch, 3);
  EXPECT_GT(shards[2].started_at_ms, 0);
  EXPECT_EQ(shards[3].attempts, 1);
  EXPECT_EQ(shards[0].state, ShardState::kPending);
  EXPECT_EQ(shards[0].epoch, 0);
}

TEST_F(SqliteLedgerTest, ClaimOfMissingOrCommittedShardFails) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->ClaimShard("r1", 99).error().code(), Code::kNotFound);
  int64_t epoch = ledger->ClaimShard("r1", 0).value();
  ASSERT_TRUE(ledger->CommitShard("r1", 0, epoch, 100, "part-0", "", {}).ok());
  auto again = ledger->ClaimShard("r1", 0);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), Code::kConflict);
  EXPECT_EQ(again.error().message(), "shard 0 of run 'r1' is already committed");
  EXPECT_EQ(ledger->ListShards("r1").value()[0].epoch, epoch);
}

TEST_F(SqliteLedgerTest, CommitWithStaleEpochIsRejectedAndChangesNothing) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  int64_t old_epoch = ledger->ClaimShard("r1", 1).value();
  int64_t new_epoch = ledger->ClaimShard("r1", 1).value();
  ASSERT_EQ(new_epoch, old_epoch + 1);
  ShardRecord before = ledger->ListShards("r1").value()[1];

  Status s = ledger->CommitShard("r1", 1, old_epoch, 100, "part-1-old", "dl-1", {Failure(1, 150)});
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_NE(s.message().find("stale epoch"), std::string::npos) << s.message();

  ShardRecord after = ledger->ListShards("r1").value()[1];
  EXPECT_EQ(after.state, ShardState::kRunning);
  EXPECT_EQ(after.epoch, before.epoch);
  EXPECT_EQ(after.rows_written, 0);
  EXPECT_EQ(after.output_file, "");
  EXPECT_EQ(after.committed_at_ms, 0);
  EXPECT_TRUE(ledger->ListFailures("r1", -1).value().empty());

  // The current epoch still commits.
  EXPECT_TRUE(ledger->CommitShard("r1", 1, new_epoch, 100, "part-1", "", {}).ok());
  // And the stale worker, arriving later with its own output, is still refused.
  EXPECT_EQ(ledger->CommitShard("r1", 1, old_epoch, 100, "part-1-old", "", {}).code(),
            Code::kConflict);
  EXPECT_EQ(ledger->ListShards("r1").value()[1].output_file, "part-1");
}

TEST_F(SqliteLedgerTest, RepeatedCommitIsANoOp) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  int64_t epoch = ledger->ClaimShard("r1", 0).value();
  ASSERT_TRUE(
      ledger->CommitShard("r1", 0, epoch, 98, "part-0", "dl-0", {Failure(0, 3), Failure(0, 7)})
          .ok());
  ShardRecord first = ledger->ListShards("r1").value()[0];

  Status again =
      ledger->CommitShard("r1", 0, epoch, 98, "part-0", "dl-0", {Failure(0, 3), Failure(0, 7)});
  EXPECT_TRUE(again.ok()) << again.ToString();
  ShardRecord second = ledger->ListShards("r1").value()[0];
  EXPECT_EQ(second.state, ShardState::kCommitted);
  EXPECT_EQ(second.rows_written, first.rows_written);
  EXPECT_EQ(second.rows_failed, 2);
  EXPECT_EQ(second.committed_at_ms, first.committed_at_ms);
  EXPECT_EQ(ledger->ListFailures("r1", -1).value().size(), 2u);

  // Same epoch, different output: not a repeat, refused.
  EXPECT_EQ(ledger->CommitShard("r1", 0, epoch, 98, "part-0-b", "", {}).code(), Code::kConflict);
}

TEST_F(SqliteLedgerTest, KeyRangeShardsKeepTheirBounds) {
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  Plan p = MakePlan("r1");
  p.shards.resize(2);
  p.shards[0].key_upto = "1000";
  p.shards[1].key_after = "1000";
  p.shards[1].key_upto = "\"it's\"";
  ASSERT_TRUE(ledger->CreateOrAttachRun(p.run, p.files, p.shards).has_value());
  auto shards = ledger->ListShards("r1").value();
  ASSERT_EQ(shards.size(), 2u);
  EXPECT_EQ(shards[0].key_after, "");
  EXPECT_EQ(shards[0].key_upto, "1000");
  EXPECT_EQ(shards[1].key_after, "1000");
  EXPECT_EQ(shards[1].key_upto, "\"it's\"");
}

TEST_F(SqliteLedgerTest, PackedShardKeepsFileLastAndFailuresOfTheSameRowInTwoFiles) {
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  Plan p = MakePlan("r1");
  // One shard packing both files whole (as the planner does for small files).
  p.shards.resize(1);
  p.shards[0].file_last = 1;
  p.shards[0].row_end = 400;
  ASSERT_TRUE(ledger->CreateOrAttachRun(p.run, p.files, p.shards).has_value());
  EXPECT_EQ(ledger->ListShards("r1").value()[0].file_last, 1);
  ItemFailure in_second = Failure(0, 3);
  in_second.file_index = 1;
  int64_t epoch = ledger->ClaimShard("r1", 0).value();
  ASSERT_TRUE(
      ledger->CommitShard("r1", 0, epoch, 398, "part-0", "dl-0", {Failure(0, 3), in_second}).ok());
  auto failures = ledger->ListFailures("r1", -1).value();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].file_index, 0);
  EXPECT_EQ(failures[0].row, 3);
  EXPECT_EQ(failures[0].file, "/data/part0.parquet");
  EXPECT_EQ(failures[1].file_index, 1);
  EXPECT_EQ(failures[1].row, 3);
  EXPECT_EQ(failures[1].file, "/data/part1.parquet");
}

TEST_F(SqliteLedgerTest, CommitOfUnclaimedShardIsRefused) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->CommitShard("r1", 0, 0, 100, "part-0", "", {}).code(), Code::kConflict);
  EXPECT_EQ(ledger->CommitShard("r1", 42, 1, 100, "part-42", "", {}).code(), Code::kNotFound);
  EXPECT_EQ(ledger->ListShards("r1").value()[0].state, ShardState::kPending);
}

TEST_F(SqliteLedgerTest, FailuresAreStoredWithTheCommitAndCounted) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  int64_t e3 = ledger->ClaimShard("r1", 3).value();
  int64_t e1 = ledger->ClaimShard("r1", 1).value();
  ASSERT_TRUE(ledger->CommitShard("r1", 3, e3, 99, "part-3", "dl-3", {Failure(3, 150)}).ok());
  ASSERT_TRUE(ledger
                  ->CommitShard("r1", 1, e1, 97, "part-1", "dl-1",
                                {Failure(1, 180), Failure(1, 120), Failure(1, 101)})
                  .ok());

  auto failures = ledger->ListFailures("r1", -1).value();
  ASSERT_EQ(failures.size(), 4u);
  // Ordered by shard, then row.
  EXPECT_EQ(failures[0].shard_id, 1);
  EXPECT_EQ(failures[0].row, 101);
  EXPECT_EQ(failures[1].row, 120);
  EXPECT_EQ(failures[2].row, 180);
  EXPECT_EQ(failures[3].shard_id, 3);
  EXPECT_EQ(failures[3].row, 150);
  EXPECT_EQ(failures[3].key_json, "{\"id\":150}");
  EXPECT_EQ(failures[3].error, "bad value in row 150");
  EXPECT_EQ(failures[3].attempts, 2);

  auto first_two = ledger->ListFailures("r1", 2).value();
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[1].row, 120);

  auto shards = ledger->ListShards("r1").value();
  EXPECT_EQ(shards[1].rows_failed, 3);
  EXPECT_EQ(shards[1].dead_letter_file, "dl-1");
  EXPECT_EQ(shards[3].rows_failed, 1);
  EXPECT_EQ(ledger->Counts("r1").value().failed, 4);
}

TEST_F(SqliteLedgerTest, CommitThatCannotStoreItsFailuresChangesNothing) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  int64_t epoch = ledger->ClaimShard("r1", 0).value();
  // The same row twice violates the failures' key halfway through the commit.
  Status s = ledger->CommitShard("r1", 0, epoch, 97, "part-0", "dl-0",
                                 {Failure(0, 1), Failure(0, 2), Failure(0, 1)});
  EXPECT_EQ(s.code(), Code::kIoError);
  ShardRecord shard = ledger->ListShards("r1").value()[0];
  EXPECT_EQ(shard.state, ShardState::kRunning);
  EXPECT_EQ(shard.output_file, "");
  EXPECT_TRUE(ledger->ListFailures("r1", -1).value().empty());

  // A failure of another shard is a caller bug, refused before any change.
  EXPECT_EQ(ledger->CommitShard("r1", 0, epoch, 99, "part-0", "", {Failure(1, 150)}).code(),
            Code::kInternal);
  EXPECT_TRUE(ledger->CommitShard("r1", 0, epoch, 99, "part-0", "dl-0", {Failure(0, 1)}).ok());
}

TEST_F(SqliteLedgerTest, FailShardNeedsTheCurrentEpochAndStaysRetryable) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  int64_t e1 = ledger->ClaimShard("r1", 2).value();
  int64_t e2 = ledger->ClaimShard("r1", 2).value();
  EXPECT_EQ(ledger->FailShard("r1", 2, e1, "old worker").code(), Code::kConflict);
  EXPECT_EQ(ledger->ListShards("r1").value()[2].state, ShardState::kRunning);

  ASSERT_TRUE(ledger->FailShard("r1", 2, e2, "model crashed").ok());
  ShardRecord failed = ledger->ListShards("r1").value()[2];
  EXPECT_EQ(failed.state, ShardState::kFailed);
  EXPECT_EQ(failed.message, "model crashed");

  int64_t e3 = ledger->ClaimShard("r1", 2).value();
  EXPECT_EQ(e3, 3);
  ASSERT_TRUE(ledger->CommitShard("r1", 2, e3, 100, "part-2", "", {}).ok());
  ShardRecord committed = ledger->ListShards("r1").value()[2];
  EXPECT_EQ(committed.attempts, 3);
  EXPECT_EQ(committed.message, "");
  EXPECT_EQ(ledger->FailShard("r1", 2, e3, "late").code(), Code::kConflict);
}

TEST_F(SqliteLedgerTest, CountsSumCommittedShards) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  RunCounts zero = ledger->Counts("r1").value();
  EXPECT_EQ(zero.total_rows, 400);
  EXPECT_EQ(zero.succeeded, 0);
  EXPECT_EQ(zero.failed, 0);
  EXPECT_EQ(zero.shards_total, 4);
  EXPECT_EQ(zero.shards_committed, 0);

  int64_t e0 = ledger->ClaimShard("r1", 0).value();
  int64_t e1 = ledger->ClaimShard("r1", 1).value();
  ASSERT_TRUE(ledger->ClaimShard("r1", 2).has_value());  // running, not counted
  ASSERT_TRUE(ledger->CommitShard("r1", 0, e0, 100, "part-0", "", {}).ok());
  ASSERT_TRUE(
      ledger->CommitShard("r1", 1, e1, 98, "part-1", "dl-1", {Failure(1, 5), Failure(1, 6)}).ok());
  RunCounts c = ledger->Counts("r1").value();
  EXPECT_EQ(c.total_rows, 400);
  EXPECT_EQ(c.succeeded, 198);
  EXPECT_EQ(c.failed, 2);
  EXPECT_EQ(c.shards_total, 4);
  EXPECT_EQ(c.shards_committed, 2);
}

TEST_F(SqliteLedgerTest, SetRunStateSetsAndClearsFinishedAt) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  ASSERT_TRUE(ledger->SetRunState("r1", RunState::kRunning, "").ok());
  RunRecord running = ledger->GetRun("r1").value();
  EXPECT_EQ(running.state, RunState::kRunning);
  EXPECT_EQ(running.finished_at_ms, 0);

  ASSERT_TRUE(ledger->SetRunState("r1", RunState::kInterrupted, "SIGTERM").ok());
  RunRecord interrupted = ledger->GetRun("r1").value();
  EXPECT_EQ(interrupted.state, RunState::kInterrupted);
  EXPECT_EQ(interrupted.message, "SIGTERM");
  EXPECT_GT(interrupted.finished_at_ms, 0);
  EXPECT_GE(interrupted.updated_at_ms, running.updated_at_ms);

  ASSERT_TRUE(ledger->SetRunState("r1", RunState::kRunning, "").ok());
  RunRecord resumed = ledger->GetRun("r1").value();
  EXPECT_EQ(resumed.finished_at_ms, 0);
  EXPECT_EQ(resumed.message, "");

  ASSERT_TRUE(ledger->SetRunModel("r1", "/models/v2.onnx", "def456").ok());
  RunRecord model = ledger->GetRun("r1").value();
  EXPECT_EQ(model.model_path, "/models/v2.onnx");
  EXPECT_EQ(model.model_sha256, "def456");
}

TEST_F(SqliteLedgerTest, LatestRunIsTheMostRecentlyCreatedOfItsJob) {
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  for (const char* id : {"a", "b", "c"}) {
    Plan p = MakePlan(id, "score");
    ASSERT_TRUE(ledger->CreateOrAttachRun(p.run, p.files, p.shards).has_value());
  }
  Plan other = MakePlan("z", "other");
  ASSERT_TRUE(ledger->CreateOrAttachRun(other.run, other.files, other.shards).has_value());
  // Attaching to an older run does not make it the latest.
  Plan a = MakePlan("a", "score");
  ASSERT_TRUE(ledger->CreateOrAttachRun(a.run, a.files, a.shards).has_value());

  EXPECT_EQ(ledger->LatestRun("score").value().run_id, "c");
  EXPECT_EQ(ledger->LatestRun("other").value().run_id, "z");
  EXPECT_EQ(ledger->LatestRun("missing").error().code(), Code::kNotFound);
}

TEST_F(SqliteLedgerTest, TuningUpserts) {
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->GetTuning("batch.size/abc/cpu").value(), std::nullopt);
  ASSERT_TRUE(ledger->PutTuning("batch.size/abc/cpu", "256").ok());
  EXPECT_EQ(ledger->GetTuning("batch.size/abc/cpu").value(), "256");
  ASSERT_TRUE(ledger->PutTuning("batch.size/abc/cpu", "512").ok());
  ASSERT_TRUE(ledger->PutTuning("batch.size/abc/gpu", "4096").ok());
  EXPECT_EQ(ledger->GetTuning("batch.size/abc/cpu").value(), "512");
  EXPECT_EQ(ledger->GetTuning("batch.size/abc/gpu").value(), "4096");
}

TEST_F(SqliteLedgerTest, ReopeningSeesEverything) {
  RunRecord stored;
  {
    auto ledger = OpenWithRun("r1");
    ASSERT_NE(ledger, nullptr);
    int64_t e = ledger->ClaimShard("r1", 0).value();
    ASSERT_TRUE(ledger->CommitShard("r1", 0, e, 99, "part-0", "dl-0", {Failure(0, 9)}).ok());
    ASSERT_TRUE(ledger->ClaimShard("r1", 1).has_value());
    ASSERT_TRUE(ledger->SetRunState("r1", RunState::kInterrupted, "SIGINT").ok());
    ASSERT_TRUE(ledger->PutTuning("k", "v").ok());
    stored = ledger->GetRun("r1").value();
  }
  auto ledger = Open(path_);
  ASSERT_NE(ledger, nullptr);
  ExpectSameRun(ledger->GetRun("r1").value(), stored);
  auto shards = ledger->ListShards("r1").value();
  EXPECT_EQ(shards[0].state, ShardState::kCommitted);
  EXPECT_EQ(shards[0].output_file, "part-0");
  EXPECT_EQ(shards[1].state, ShardState::kRunning);
  EXPECT_EQ(shards[1].epoch, 1);
  EXPECT_EQ(ledger->ListFailures("r1", -1).value().size(), 1u);
  EXPECT_EQ(ledger->GetTuning("k").value(), "v");
  RunCounts c = ledger->Counts("r1").value();
  EXPECT_EQ(c.succeeded, 99);
  EXPECT_EQ(c.shards_committed, 1);
  // Resuming claims shard 1 with a new epoch.
  EXPECT_EQ(ledger->ClaimShard("r1", 1).value(), 2);
}

TEST_F(SqliteLedgerTest, TwoLedgersOnOneFileBothWork) {
  auto first = OpenWithRun("r1");
  auto second = Open(path_);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  int64_t e0 = first->ClaimShard("r1", 0).value();
  int64_t e1 = second->ClaimShard("r1", 1).value();
  ASSERT_TRUE(second->CommitShard("r1", 1, e1, 100, "part-1", "", {}).ok());
  ASSERT_TRUE(first->CommitShard("r1", 0, e0, 100, "part-0", "", {}).ok());
  // A claim by one is seen by the other: the first's epoch becomes stale.
  int64_t stale = first->ClaimShard("r1", 2).value();
  int64_t current = second->ClaimShard("r1", 2).value();
  EXPECT_EQ(current, stale + 1);
  EXPECT_EQ(first->CommitShard("r1", 2, stale, 100, "p", "", {}).code(), Code::kConflict);
  EXPECT_EQ(first->Counts("r1").value().shards_committed, 2);
  EXPECT_EQ(second->Counts("r1").value().succeeded, 200);
}

TEST_F(SqliteLedgerTest, GarbageFileGivesACleanError) {
  std::string path = dir_ + "/x.db";
  {
    std::mt19937 rng(42);
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(rng() & 0xff));
  }
  auto ledger = Ledger::Open(path);
  ASSERT_FALSE(ledger.has_value());
  EXPECT_EQ(ledger.error().code(), Code::kIoError);
  EXPECT_NE(ledger.error().message().find(path), std::string::npos) << ledger.error().message();
}

TEST_F(SqliteLedgerTest, LedgerFromANewerVersionIsRefused) {
  ASSERT_NE(Open(path_), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto ledger = Ledger::Open(path_);
  ASSERT_FALSE(ledger.has_value());
  EXPECT_EQ(ledger.error().code(), Code::kIoError);
  EXPECT_NE(ledger.error().message().find("newer"), std::string::npos);
}

TEST_F(SqliteLedgerTest, WriteLockHeldElsewhereIsTransient) {
  auto ledger = OpenSqliteLedger(path_, {.busy_timeout_ms = 50});
  ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  Status s = (*ledger)->PutTuning("k", "v");
  EXPECT_EQ(s.code(), Code::kTransient) << s.ToString();
  // Readers are not blocked by a writer in WAL mode.
  EXPECT_EQ((*ledger)->GetTuning("k").value(), std::nullopt);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE((*ledger)->PutTuning("k", "v").ok());
}

TEST_F(SqliteLedgerTest, ConcurrentClaimsGetDistinctEpochs) {
  auto ledger = OpenWithRun("r1");
  ASSERT_NE(ledger, nullptr);
  constexpr int kThreads = 4;
  constexpr int kClaimsEach = 25;
  std::vector<std::vector<int64_t>> epochs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kClaimsEach; ++i) {
        auto e = ledger->ClaimShard("r1", 0);
        epochs[t].push_back(e.has_value() ? *e : -1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (const auto& v : epochs) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kClaimsEach});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kClaimsEach);
  EXPECT_EQ(ledger->ListShards("r1").value()[0].attempts, kThreads * kClaimsEach);
}

TEST_F(SqliteLedgerTest, ConcurrentClaimsThroughSeparateConnectionsGetDistinctEpochs) {
  ASSERT_NE(OpenWithRun("r1"), nullptr);
  constexpr int kThreads = 4;
  constexpr int kClaimsEach = 10;
  std::vector<std::unique_ptr<Ledger>> ledgers;
  for (int t = 0; t < kThreads; ++t) {
    ledgers.push_back(Open(path_));
    ASSERT_NE(ledgers.back(), nullptr);
  }
  std::vector<std::vector<int64_t>> epochs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kClaimsEach; ++i) {
        auto e = ledgers[t]->ClaimShard("r1", 3);
        epochs[t].push_back(e.has_value() ? *e : -1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (const auto& v : epochs) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kClaimsEach});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kClaimsEach);
}

}  // namespace
}  // namespace nightshift
