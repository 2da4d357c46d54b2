// Ledger::AcquireRun / Heartbeat / ReleaseRun / GetRunOwner, the named
// locks (AcquireLock / RenewLock / ReleaseLock) and Ledger::OpenForReading on
// the SQLite ledger.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "env/temp_dir_for_test.h"
#include "ledger/sqlite/sqlite_ledger.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

class RunOwnerTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_owner_test"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    path_ = dir_ + "/ledger.db";
    auto ledger = Ledger::Open(path_);
    ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
    ledger_ = std::move(*ledger);
    RunRecord run;
    run.run_id = "r1";
    run.job_name = "score";
    ShardRecord shard;
    shard.row_end = 10;
    ASSERT_TRUE(ledger_->CreateOrAttachRun(run, {}, {shard}).has_value());
  }
  void TearDown() override { ledger_.reset(); }

  static bool Never(const RunOwner&) { return false; }
  static bool Always(const RunOwner&) { return true; }

  std::string dir_, path_;
  std::unique_ptr<Ledger> ledger_;
  const RunOwner a_{.host = "h1", .pid = 10, .start_time = 100};
  const RunOwner b_{.host = "h1", .pid = 11, .start_time = 200};
};

TEST_F(RunOwnerTest, SecondProcessIsRefusedWhileTheOwnerLives) {
  auto got = ledger_->AcquireRun("r1", a_, Never);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_TRUE(got->acquired);
  EXPECT_GT(got->holder.acquired_at_ms, 0);
  got = ledger_->AcquireRun("r1", b_, Never);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->acquired);
  EXPECT_TRUE(got->holder.SameProcess(a_));
  // The owner itself may take it again.
  EXPECT_TRUE(ledger_->AcquireRun("r1", a_, Never)->acquired);
}

TEST_F(RunOwnerTest, GoneOwnerIsTakenOverAndLosesItsHeartbeat) {
  ASSERT_TRUE(ledger_->AcquireRun("r1", a_, Never)->acquired);
  RunOwner seen;
  auto got = ledger_->AcquireRun("r1", b_, [&](const RunOwner& o) {
    seen = o;
    return true;
  });
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->acquired);
  EXPECT_TRUE(seen.SameProcess(a_));  // the predicate was asked about the holder
  EXPECT_EQ(ledger_->Heartbeat("r1", a_).code(), Code::kFailed);
  EXPECT_TRUE(ledger_->Heartbeat("r1", b_).ok());
  // A release by the old owner changes nothing.
  EXPECT_TRUE(ledger_->ReleaseRun("r1", a_).ok());
  EXPECT_TRUE(ledger_->GetRunOwner("r1")->value().SameProcess(b_));
}

TEST_F(RunOwnerTest, HeartbeatAdvancesAndReleaseClearsTheOwner) {
  ASSERT_TRUE(ledger_->AcquireRun("r1", a_, Never)->acquired);
  int64_t first = ledger_->GetRunOwner("r1")->value().heartbeat_at_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(ledger_->Heartbeat("r1", a_).ok());
  EXPECT_GT(ledger_->GetRunOwner("r1")->value().heartbeat_at_ms, first);
  ASSERT_TRUE(ledger_->ReleaseRun("r1", a_).ok());
  EXPECT_FALSE(ledger_->GetRunOwner("r1")->has_value());
  EXPECT_TRUE(ledger_->AcquireRun("r1", b_, Never)->acquired);
}

TEST_F(RunOwnerTest, UnknownRunIsNotFound) {
  auto got = ledger_->AcquireRun("nope", a_, Always);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), Code::kNotFound);
}

TEST_F(RunOwnerTest, ReaderSeesCommittedStateAndCannotWrite) {
  ASSERT_TRUE(ledger_->AcquireRun("r1", a_, Never)->acquired);
  auto reader = Ledger::OpenForReading(path_);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  EXPECT_EQ((*reader)->GetRun("r1")->job_name, "score");
  EXPECT_TRUE((*reader)->GetRunOwner("r1")->value().SameProcess(a_));
  EXPECT_FALSE((*reader)->PutTuning("k", "v").ok());
}

TEST_F(RunOwnerTest, ReaderOfAClosedLedgerCreatesNoFiles) {
  ledger_.reset();  // the last connection removes the -wal and -shm files
  auto count = [&] { return std::distance(std::filesystem::directory_iterator(dir_), {}); };
  const auto before = count();
  const auto mtime = std::filesystem::last_write_time(path_);
  {
    auto reader = Ledger::OpenForReading(path_);
    ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
    EXPECT_TRUE((*reader)->GetRun("r1").has_value());
    EXPECT_EQ(count(), before);
  }
  EXPECT_EQ(count(), before);
  EXPECT_EQ(std::filesystem::last_write_time(path_), mtime);
}

TEST_F(RunOwnerTest, ReaderOfAMissingLedgerIsNotFoundAndCreatesNothing) {
  auto reader = Ledger::OpenForReading(dir_ + "/sub/none.db");
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/sub"));
}

// Processes starting together on a new ledger: switching it to WAL takes an
// exclusive lock that SQLite's busy handler does not wait for.
TEST(LedgerOpenTest, ConcurrentOpensOfANewLedgerAllSucceed) {
  TempDir tmp("ns_open_test");
  ASSERT_TRUE(tmp.ok());
  for (int round = 0; round < 20; ++round) {
    const std::string path = tmp / ("l" + std::to_string(round) + ".db");
    std::vector<std::thread> threads;
    std::vector<std::string> errors(6);
    for (size_t i = 0; i < errors.size(); ++i) {
      threads.emplace_back([&, i] {
        auto ledger = Ledger::Open(path);
        if (!ledger.has_value()) errors[i] = ledger.error().ToString();
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
  }
}

TEST_F(RunOwnerTest, NamedLockIsHeldByOneProcessUntilItIsGoneOrReleased) {
  // No run needed: the lock is a name.
  auto got = ledger_->AcquireLock("schedule:nightly", a_, Never);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_TRUE(got->acquired);
  // From another connection (another process would open its own).
  auto other = Ledger::Open(path_);
  ASSERT_TRUE(other.has_value());
  got = (*other)->AcquireLock("schedule:nightly", b_, Never);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->acquired);
  EXPECT_TRUE(got->holder.SameProcess(a_));
  EXPECT_TRUE((*other)->AcquireLock("schedule:other-job", b_, Never)->acquired);
  EXPECT_TRUE(ledger_->RenewLock("schedule:nightly", a_).ok());
  EXPECT_EQ((*other)->RenewLock("schedule:nightly", b_).code(), Code::kFailed);
  // A holder found gone (SIGKILLed) is taken over; it then cannot renew.
  EXPECT_TRUE((*other)->AcquireLock("schedule:nightly", b_, Always)->acquired);
  EXPECT_EQ(ledger_->RenewLock("schedule:nightly", a_).code(), Code::kFailed);
  // Releasing what one does not hold changes nothing; the holder's release
  // frees it for anyone.
  EXPECT_TRUE(ledger_->ReleaseLock("schedule:nightly", a_).ok());
  EXPECT_FALSE(ledger_->AcquireLock("schedule:nightly", a_, Never)->acquired);
  EXPECT_TRUE((*other)->ReleaseLock("schedule:nightly", b_).ok());
  EXPECT_TRUE(ledger_->AcquireLock("schedule:nightly", a_, Never)->acquired);
}

}  // namespace
}  // namespace nightshift
