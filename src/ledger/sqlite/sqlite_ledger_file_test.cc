// The SQLite ledger as a file: reopening, several connections, bad files,
// locks, concurrent claims, and which commits are synced (durability).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "ledger/sqlite/connection.h"
#include "ledger/sqlite/sqlite_ledger.h"
#include "ledger/sqlite/sqlite_ledger_fixture.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

using ledger_test::ExpectSameRun;
using ledger_test::Failure;
using ledger_test::MakePlan;
using ledger_test::Plan;
using ledger_test::SqliteLedgerTest;

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

// PRAGMA synchronous of `conn`: 1 NORMAL, 2 FULL.
int64_t Synchronous(sqlite::Connection& conn) {
  auto stmt = conn.Prepare("PRAGMA synchronous");
  EXPECT_TRUE(stmt.has_value());
  if (!stmt.has_value()) return -1;
  auto row = stmt->Step();
  EXPECT_TRUE(row.has_value() && *row);
  return stmt->Int(0);
}

// Bookkeeping commits are not synced (NORMAL); a durable commit is (FULL),
// and the connection is back to NORMAL after it, committed or rolled back.
TEST_F(SqliteLedgerTest, OnlyDurableWritesAreSynced) {
  auto conn = sqlite::Connection::Open(path_, 1000, Env::Default());
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  EXPECT_EQ(Synchronous(**conn), 1);
  {
    auto txn = sqlite::Transaction::Begin(conn->get(), sqlite::Transaction::Kind::kWrite);
    ASSERT_TRUE(txn.has_value());
    EXPECT_EQ(Synchronous(**conn), 1);
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = sqlite::Transaction::Begin(conn->get(), sqlite::Transaction::Kind::kDurableWrite);
    ASSERT_TRUE(txn.has_value());
    EXPECT_EQ(Synchronous(**conn), 2);
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(Synchronous(**conn), 1);
  {
    auto txn = sqlite::Transaction::Begin(conn->get(), sqlite::Transaction::Kind::kDurableWrite);
    ASSERT_TRUE(txn.has_value());
    EXPECT_EQ(Synchronous(**conn), 2);
  }  // rolled back
  EXPECT_EQ(Synchronous(**conn), 1);
}

}  // namespace
}  // namespace nightshift
