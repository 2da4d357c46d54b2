// The SQLite ledger: runs and shards (create, claim, commit, fail, counts, states).
#include "ledger/sqlite/sqlite_ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "ledger/sqlite/sqlite_ledger_fixture.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

using ledger_test::ExpectSameRun;
using ledger_test::Failure;
using ledger_test::MakePlan;
using ledger_test::Plan;
using ledger_test::SqliteLedgerTest;

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

}  // namespace
}  // namespace nightshift
