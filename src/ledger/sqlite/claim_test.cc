// Ledger::ClaimNextShard, RenewLeases, CheckClaim, CompleteRunIfDone and
// ListWorkers on the SQLite ledger, with the ledger's clock moved by the test.
#include <gtest/gtest.h>

#include <set>

#include "env/fault_injection_env.h"
#include "env/temp_dir_for_test.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

class ClaimTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_claim_test"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    auto ledger = Ledger::Open(dir_ + "/ledger.db", &env_);
    ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
    ledger_ = std::move(*ledger);
    RunRecord run;
    run.run_id = "r1";
    run.job_name = "score";
    std::vector<ShardRecord> shards;
    for (int64_t i = 0; i < 6; ++i) {
      ShardRecord s;
      s.shard_id = i;
      s.row_begin = i * 10;
      s.row_end = i * 10 + 10;
      shards.push_back(s);
    }
    ASSERT_TRUE(ledger_->CreateOrAttachRun(run, {}, shards).has_value());
  }
  void TearDown() override { ledger_.reset(); }

  ShardRecord Claim(const RunOwner& who, const ClaimPolicy& policy) {
    auto got = ledger_->ClaimNextShard("r1", who, policy);
    EXPECT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_TRUE(got->has_value());
    ShardRecord none;
    none.shard_id = -1;
    return got.has_value() ? got->value_or(none) : none;
  }
  Status Commit(const ShardRecord& s) {
    return ledger_->CommitShard("r1", s.shard_id, s.epoch, 10, "part-" + std::to_string(s.shard_id),
                                "", {});
  }
  void AdvanceMs(int64_t ms) { env_.SkewClock((skew_ms_ += ms) * 1000); }

  FaultInjectionEnv env_{Env::Default()};
  int64_t skew_ms_ = 0;
  std::string dir_;
  std::unique_ptr<Ledger> ledger_;
  const RunOwner a_{.host = "h1", .pid = 10, .start_time = 100};
  const RunOwner b_{.host = "h2", .pid = 10, .start_time = 100};
};

TEST_F(ClaimTest, PrefersOwnShardsThenLowestId) {
  const ClaimPolicy policy{.worker_index = 1, .workers = 4, .lease_ms = 60000};
  EXPECT_EQ(Claim(a_, policy).shard_id, 1);
  EXPECT_EQ(Claim(a_, policy).shard_id, 5);
  // None of its own left: it helps, lowest id first.
  EXPECT_EQ(Claim(a_, policy).shard_id, 0);
  EXPECT_EQ(Claim(a_, policy).shard_id, 2);
}

TEST_F(ClaimTest, ClaimSetsRunningLeaseAndNewEpochAndNothingIsLeftTwice) {
  const ClaimPolicy policy{.lease_ms = 60000};
  std::set<int64_t> got;
  for (int i = 0; i < 6; ++i) {
    ShardRecord s = Claim(a_, policy);
    EXPECT_EQ(s.state, ShardState::kRunning);
    EXPECT_EQ(s.epoch, 1);
    EXPECT_EQ(s.attempts, 1);
    got.insert(s.shard_id);
  }
  EXPECT_EQ(got.size(), 6u);
  // Its own live claims are not claimable again.
  auto none = ledger_->ClaimNextShard("r1", a_, policy);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
}

TEST_F(ClaimTest, AnotherProcessTakesOverAndTheEpochGrows) {
  const ClaimPolicy policy{.lease_ms = 60000};
  ShardRecord first = Claim(a_, policy);
  // For SQLite one process owns the run: a shard held by another process
  // identity is claimable at once (AcquireRun proved that process gone).
  ShardRecord again = Claim(b_, policy);
  EXPECT_EQ(again.shard_id, first.shard_id);
  EXPECT_EQ(again.epoch, first.epoch + 1);
  EXPECT_EQ(again.attempts, 2);
  // The old claim is fenced: CheckClaim and CommitShard refuse it.
  Status stale = ledger_->CheckClaim("r1", first.shard_id, first.epoch, 0);
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.ToString();
  EXPECT_NE(stale.message().find("epoch 1"), std::string::npos) << stale.message();
  EXPECT_EQ(Commit(first).code(), Code::kConflict);
  EXPECT_TRUE(ledger_->CheckClaim("r1", again.shard_id, again.epoch, 0).ok());
  EXPECT_TRUE(Commit(again).ok());
  EXPECT_EQ(ledger_->CheckClaim("r1", again.shard_id, again.epoch, 0).code(), Code::kConflict);
}

TEST_F(ClaimTest, LeasesExpireUnlessRenewed) {
  const ClaimPolicy policy{.lease_ms = 3000};
  ShardRecord s = Claim(a_, policy);
  AdvanceMs(2000);
  EXPECT_TRUE(ledger_->CheckClaim("r1", s.shard_id, s.epoch, 500).ok());
  // Under the margin: not safe to publish.
  EXPECT_EQ(ledger_->CheckClaim("r1", s.shard_id, s.epoch, 1500).code(), Code::kConflict);
  ASSERT_TRUE(ledger_->RenewLeases("r1", a_, policy).ok());
  EXPECT_TRUE(ledger_->CheckClaim("r1", s.shard_id, s.epoch, 2500).ok());
  AdvanceMs(3500);
  EXPECT_EQ(ledger_->CheckClaim("r1", s.shard_id, s.epoch, 0).code(), Code::kConflict);
  // Expired: the same worker may claim it again, under a new epoch.
  ShardRecord again = Claim(a_, policy);
  EXPECT_EQ(again.shard_id, s.shard_id);
  EXPECT_EQ(again.epoch, s.epoch + 1);
}

TEST_F(ClaimTest, WorkersAreListedWithHeldAndCommittedShards) {
  const ClaimPolicy pa{.worker_index = 0, .workers = 2, .lease_ms = 60000};
  const ClaimPolicy pb{.worker_index = 1, .workers = 2, .lease_ms = 60000};
  ShardRecord s0 = Claim(a_, pa);
  Claim(a_, pa);
  AdvanceMs(10);
  Claim(b_, pb);
  ASSERT_TRUE(Commit(s0).ok());
  auto workers = ledger_->ListWorkers("r1");
  ASSERT_TRUE(workers.has_value()) << workers.error().ToString();
  ASSERT_EQ(workers->size(), 2u);
  EXPECT_EQ((*workers)[0].who.host, "h2");  // newest heartbeat first
  EXPECT_EQ((*workers)[0].worker_index, 1);
  EXPECT_EQ((*workers)[0].shards_held, 1);
  EXPECT_EQ((*workers)[1].who.host, "h1");
  EXPECT_EQ((*workers)[1].workers, 2);
  EXPECT_EQ((*workers)[1].shards_held, 1);
  EXPECT_EQ((*workers)[1].shards_committed, 1);
}

TEST_F(ClaimTest, CompleteRunIfDoneIsTrueExactlyOnce) {
  const ClaimPolicy policy{.lease_ms = 60000};
  std::vector<ShardRecord> claimed;
  for (int i = 0; i < 6; ++i) claimed.push_back(Claim(a_, policy));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Commit(claimed[static_cast<size_t>(i)]).ok());
  auto done = ledger_->CompleteRunIfDone("r1");
  ASSERT_TRUE(done.has_value());
  EXPECT_FALSE(*done);  // a shard remains
  EXPECT_EQ(ledger_->GetRun("r1")->state, RunState::kPending);
  ASSERT_TRUE(Commit(claimed[5]).ok());
  EXPECT_TRUE(ledger_->CompleteRunIfDone("r1").value());
  EXPECT_FALSE(ledger_->CompleteRunIfDone("r1").value());
  auto run = ledger_->GetRun("r1");
  EXPECT_EQ(run->state, RunState::kCompleted);
  EXPECT_GT(run->finished_at_ms, 0);
}

TEST_F(ClaimTest, UnknownRunIsNotFound) {
  EXPECT_EQ(ledger_->ClaimNextShard("nope", a_, {}).error().code(), Code::kNotFound);
  EXPECT_EQ(ledger_->CompleteRunIfDone("nope").error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace nightshift
