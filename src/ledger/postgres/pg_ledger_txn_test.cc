// The PostgreSQL ledger's statements run inside another connection's
// transaction (ledger/postgres/pg_ledger_txn.h), against a real server from
// NIGHTSHIFT_TEST_PG_URL (tests/e2e/test_pg_ledger.py); skipped without it.
#include "ledger/postgres/pg_ledger_txn.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "io/postgres/pg_conn.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

using io::pg::PgConn;

class PgLedgerTxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("NIGHTSHIFT_TEST_PG_URL");
    if (url == nullptr || *url == '\0') GTEST_SKIP() << "NIGHTSHIFT_TEST_PG_URL is not set";
    url_ = url;
    auto l = Ledger::Open(url_);
    ASSERT_TRUE(l.has_value()) << l.error().ToString();
    ledger_ = std::move(*l);
    auto c = PgConn::Connect(url_, "test");
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
    conn_ = std::move(*c);
    in_txn_ = pgledger::MakeLedgerInTxn(url_);
    run_id_ = "txn-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    RunRecord run;
    run.run_id = run_id_;
    run.job_name = "txn";
    run.fingerprint = "fp";
    run.output_path = "/out";
    std::vector<ShardRecord> shards(2);
    for (int i = 0; i < 2; ++i) {
      shards[i].shard_id = i;
      shards[i].row_begin = 100 * i;
      shards[i].row_end = 100 * i + 100;
    }
    auto created = ledger_->CreateOrAttachRun(
        run, {{.index = 0, .path = "/in/a", .size = 1, .mtime_ns = 1, .rows = 200}}, shards);
    ASSERT_TRUE(created.has_value()) << created.error().ToString();
  }

  int64_t Claim(int64_t pid, int64_t lease_ms) {
    auto s = ledger_->ClaimNextShard(run_id_, {.host = "h", .pid = pid, .start_time = 1},
                                     ClaimPolicy{.lease_ms = lease_ms});
    EXPECT_TRUE(s.has_value() && s->has_value());
    return s.has_value() && s->has_value() ? (*s)->epoch : -1;
  }

  ShardState StateOf(int64_t shard) {
    auto shards = ledger_->ListShards(run_id_);
    EXPECT_TRUE(shards.has_value());
    return (*shards)[shard].state;
  }

  std::string url_, run_id_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<PgConn> conn_;
  std::unique_ptr<io::pg::LedgerInTxn> in_txn_;
};

ShardOutput Output() {
  ShardOutput out;
  out.rows_written = 99;
  out.dead_letter_file = "part-000000.jsonl";
  ItemFailure f;
  f.shard_id = 0;
  f.row = 7;
  f.key_json = "7";
  f.error = "bad";
  f.attempts = 1;
  out.failures = {f};
  return out;
}

// Committed inside the other connection's transaction: a rollback leaves the
// shard running; a commit records it, and the engine's own CommitShard
// afterwards is the same commit again (a success), adding no second failure.
TEST_F(PgLedgerTxnTest, CommitRidesTheCallersTransaction) {
  const int64_t epoch = Claim(1, 60000);
  ASSERT_TRUE(conn_->Run("BEGIN", "test").ok());
  auto lock = in_txn_->Lock(conn_.get(), run_id_, 0, epoch);
  ASSERT_TRUE(lock.has_value()) << lock.error().ToString();
  EXPECT_FALSE(lock->has_value());
  ASSERT_TRUE(in_txn_->Commit(conn_.get(), run_id_, 0, epoch, Output()).ok());
  ASSERT_TRUE(conn_->Run("ROLLBACK", "test").ok());
  EXPECT_EQ(StateOf(0), ShardState::kRunning);

  ASSERT_TRUE(conn_->Run("BEGIN", "test").ok());
  ASSERT_TRUE(in_txn_->Lock(conn_.get(), run_id_, 0, epoch).has_value());
  ASSERT_TRUE(in_txn_->Commit(conn_.get(), run_id_, 0, epoch, Output()).ok());
  ASSERT_TRUE(conn_->Run("COMMIT", "test").ok());
  EXPECT_EQ(StateOf(0), ShardState::kCommitted);

  const ShardOutput out = Output();
  Status again = ledger_->CommitShard(run_id_, 0, epoch, out.rows_written, out.output_file,
                                      out.dead_letter_file, out.failures);
  EXPECT_TRUE(again.ok()) << again.ToString();
  auto failures = ledger_->ListFailures(run_id_, 100);
  ASSERT_TRUE(failures.has_value()) << failures.error().ToString();
  EXPECT_EQ(failures->size(), 1u);

  // A repeat of the transaction finds the shard committed by its epoch.
  ASSERT_TRUE(conn_->Run("BEGIN", "test").ok());
  auto repeat = in_txn_->Lock(conn_.get(), run_id_, 0, epoch);
  ASSERT_TRUE(repeat.has_value() && repeat->has_value());
  EXPECT_EQ(**repeat, 99);
  ASSERT_TRUE(conn_->Run("ROLLBACK", "test").ok());
}

// A claimer whose lease lapsed and was claimed again is refused at the lock,
// before it writes anything.
TEST_F(PgLedgerTxnTest, StaleEpochIsRefusedAtTheLock) {
  const int64_t old_epoch = Claim(1, 300);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t new_epoch = Claim(2, 60000);
  ASSERT_EQ(new_epoch, old_epoch + 1);
  ASSERT_TRUE(conn_->Run("BEGIN", "test").ok());
  auto stale = in_txn_->Lock(conn_.get(), run_id_, 0, old_epoch);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code(), Code::kConflict);
  EXPECT_NE(stale.error().message().find("stale epoch"), std::string::npos)
      << stale.error().message();
  ASSERT_TRUE(conn_->Run("ROLLBACK", "test").ok());
  EXPECT_EQ(StateOf(0), ShardState::kRunning);
}

// The worker's heartbeat passes over the shard locked by its commit
// transaction instead of waiting for it (which would hold up the worker's
// ledger session for the whole write).
TEST_F(PgLedgerTxnTest, HeartbeatDoesNotWaitForALockedShard) {
  const RunOwner me{.host = "h", .pid = 1, .start_time = 1};
  const int64_t epoch = Claim(1, 60000);
  ASSERT_TRUE(conn_->Run("BEGIN", "test").ok());
  ASSERT_TRUE(in_txn_->Lock(conn_.get(), run_id_, 0, epoch).has_value());
  std::atomic<bool> done{false};
  Status renewed;
  std::thread beat([&] {
    renewed = ledger_->RenewLeases(run_id_, me, ClaimPolicy{.lease_ms = 60000});
    done = true;
  });
  for (int i = 0; i < 100 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const bool waited = !done;
  ASSERT_TRUE(conn_->Run("ROLLBACK", "test").ok());  // releases a heartbeat that waited
  beat.join();
  EXPECT_FALSE(waited) << "the heartbeat waited for the shard locked by its commit";
  EXPECT_TRUE(renewed.ok()) << renewed.ToString();
}

}  // namespace
}  // namespace nightshift
