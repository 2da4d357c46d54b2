// Ledger::SetRunInputs, GetRunInputs and ReplanRun on the SQLite ledger.
#include <gtest/gtest.h>

#include "env/temp_dir_for_test.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

class InputStoreTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_input_store"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    ledger_ = Ledger::Open(dir_ + "/ledger.db").value();
    RunRecord run;
    run.run_id = "r";
    run.job_name = "j";
    std::vector<InputFileRecord> files = {{.index = 0, .path = "/a", .size = 1, .rows = 20}};
    std::vector<ShardRecord> shards;
    for (int64_t i = 0; i < 2; ++i) {
      ShardRecord s;
      s.shard_id = i;
      s.row_begin = i * 10;
      s.row_end = i * 10 + 10;
      shards.push_back(s);
    }
    ASSERT_TRUE(ledger_->CreateOrAttachRun(run, files, shards).has_value());
  }

  std::string dir_;
  std::unique_ptr<Ledger> ledger_;
};

RunInputs Inputs(int64_t size) {
  RunInputs in;
  in.job = {{"input.path", "/a"}, {"name", "j"}};
  in.files = {{.path = "/a", .size = size, .mtime_ns = 7}};
  return in;
}

TEST_F(InputStoreTest, RecordsAndReplacesWhatARunWasPlannedFrom) {
  auto none = ledger_->GetRunInputs("r");
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());  // as for a run of an older nightshift
  ASSERT_TRUE(ledger_->SetRunInputs("r", Inputs(1)).ok());
  ASSERT_TRUE(ledger_->SetRunInputs("r", Inputs(2)).ok());
  auto got = ledger_->GetRunInputs("r").value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->job, Inputs(2).job);
  ASSERT_EQ(got->files.size(), 1u);
  EXPECT_EQ(got->files[0].size, 2);
  EXPECT_EQ(got->files[0].mtime_ns, 7);
  EXPECT_EQ(ledger_->GetRunInputs("nope").error().code(), Code::kNotFound);
}

TEST_F(InputStoreTest, ReplanKeepsCommittedShardsAndReplacesTheRest) {
  int64_t epoch = ledger_->ClaimShard("r", 0).value();
  ASSERT_TRUE(ledger_->CommitShard("r", 0, epoch, 10, "part-0", "", {}).ok());
  ASSERT_TRUE(ledger_->SetRunState("r", RunState::kFailed, "input changed").ok());
  ShardRecord kept;
  kept.shard_id = 0;
  kept.file_index = 1;  // its file moved to index 1
  kept.row_begin = 0;
  kept.row_end = 10;
  kept.state = ShardState::kCommitted;
  ShardRecord added = kept;
  added.shard_id = 2;
  added.row_begin = 10;
  added.row_end = 30;
  added.state = ShardState::kPending;
  std::vector<InputFileRecord> files = {{.index = 0, .path = "/0", .rows = 0},
                                        {.index = 1, .path = "/a", .size = 1, .rows = 30}};
  ASSERT_TRUE(ledger_->ReplanRun("r", files, {kept, added}, Inputs(3)).ok());

  auto shards = ledger_->ListShards("r").value();
  ASSERT_EQ(shards.size(), 2u);
  EXPECT_EQ(shards[0].state, ShardState::kCommitted);
  EXPECT_EQ(shards[0].file_index, 1);
  EXPECT_EQ(shards[0].output_file, "part-0");
  EXPECT_EQ(shards[1].shard_id, 2);
  EXPECT_EQ(shards[1].state, ShardState::kPending);
  EXPECT_EQ(ledger_->ListFiles("r").value().size(), 2u);
  RunRecord run = ledger_->GetRun("r").value();
  EXPECT_EQ(run.state, RunState::kPending);
  EXPECT_EQ(run.total_rows, 30);
  EXPECT_EQ(run.total_shards, 2);
  EXPECT_EQ(ledger_->GetRunInputs("r").value()->files[0].size, 3);
}

TEST_F(InputStoreTest, ReplanRefusesAPlanThatLeavesOutACommittedShard) {
  int64_t epoch = ledger_->ClaimShard("r", 0).value();
  ASSERT_TRUE(ledger_->CommitShard("r", 0, epoch, 10, "part-0", "", {}).ok());
  ShardRecord other;
  other.shard_id = 5;
  Status s = ledger_->ReplanRun("r", {}, {other}, Inputs(1));
  EXPECT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_EQ(ledger_->ListShards("r").value().size(), 2u);  // nothing changed
}

// ListRuns: the runs of one job, newest first, bounded by `limit`.
TEST_F(InputStoreTest, ListRunsNewestFirstPerJob) {
  for (const char* id : {"r2", "r3"}) {
    RunRecord run;
    run.run_id = id;
    run.job_name = "j";
    ASSERT_TRUE(ledger_->CreateOrAttachRun(run, {}, {}).has_value());
  }
  RunRecord other;
  other.run_id = "o";
  other.job_name = "k";
  ASSERT_TRUE(ledger_->CreateOrAttachRun(other, {}, {}).has_value());
  auto all = ledger_->ListRuns("j", -1);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].run_id, "r3");
  EXPECT_EQ((*all)[2].run_id, "r");
  auto one = ledger_->ListRuns("j", 1);
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].run_id, "r3");
  EXPECT_TRUE(ledger_->ListRuns("none", -1)->empty());
}

}  // namespace
}  // namespace nightshift
