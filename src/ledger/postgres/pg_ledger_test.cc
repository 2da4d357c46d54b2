// The PostgreSQL ledger against a real server (no mocks): the URL comes from
// NIGHTSHIFT_TEST_PG_URL (a database the tests may fill), and
// NIGHTSHIFT_TEST_PG_EMPTY_URL (an empty one, for the concurrent migration);
// NIGHTSHIFT_TEST_PG_PASSWORD is the password no message may show.
// tests/e2e/test_pg_ledger.py starts a server and runs this binary; without
// the variables every test skips.
#include "ledger/postgres/pg_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "io/postgres/pg_conn.h"
#include "nightshift/ledger.h"

namespace nightshift {
namespace {

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

ShardRecord Shard(int64_t id, int32_t file, int64_t begin, int64_t end) {
  ShardRecord s;
  s.shard_id = id;
  s.file_index = file;
  s.row_begin = begin;
  s.row_end = end;
  return s;
}

RunRecord MakeRun(const std::string& id, const std::string& job) {
  RunRecord run;
  run.run_id = id;
  run.job_name = job;
  run.fingerprint = "fp";
  run.output_path = "/out";
  return run;
}

ItemFailure Failure(int64_t row, int32_t attempts) {
  ItemFailure f;
  f.shard_id = 0;
  f.row = row;
  f.key_json = std::to_string(row);
  f.error = "bad " + std::to_string(row);
  f.attempts = attempts;
  return f;
}

class PgLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = EnvOr("NIGHTSHIFT_TEST_PG_URL");
    if (url_.empty())
      GTEST_SKIP() << "NIGHTSHIFT_TEST_PG_URL is not set (test_pg_ledger.py sets it)";
    ledger_ = Open();
  }
  std::unique_ptr<Ledger> Open() {
    auto l = Ledger::Open(url_);
    EXPECT_TRUE(l.has_value()) << l.error().ToString();
    return l.has_value() ? std::move(*l) : nullptr;
  }
  // A fresh run id per test (the database outlives a test).
  std::string NewRun(int shards, const std::string& job = "score") {
    static std::atomic<int> n{0};
    std::string id = fmt_id(job, n++);
    RunRecord run = MakeRun(id, job);
    std::vector<InputFileRecord> files = {
        {.index = 0, .path = "/in/a.parquet", .size = 10, .mtime_ns = 5, .rows = 100 * shards}};
    std::vector<ShardRecord> plan;
    for (int i = 0; i < shards; ++i) {
      plan.push_back(Shard(i, 0, 100 * i, 100 * i + 100));
    }
    auto created = ledger_->CreateOrAttachRun(run, files, plan);
    EXPECT_TRUE(created.has_value()) << created.error().ToString();
    return id;
  }
  static std::string fmt_id(const std::string& job, int n) {
    return job + "-" + std::to_string(::getpid()) + "-" + std::to_string(n) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  static RunOwner Worker(int64_t pid) { return {.host = "host-a", .pid = pid, .start_time = 7}; }

  std::string url_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(PgLedgerTest, CreateAttachAndReadBack) {
  RunRecord run = MakeRun(fmt_id("create", 0), "create-job");
  run.model_sha256 = "abc";
  std::vector<InputFileRecord> files = {
      {.index = 0, .path = "/in/a", .size = 1, .mtime_ns = 2, .rows = 300},
      {.index = 1, .path = "/in/b", .size = 3, .mtime_ns = 4, .rows = 5}};
  std::vector<ShardRecord> shards = {Shard(0, 0, 0, 300), Shard(1, 0, 0, 5), Shard(2, 0, 0, 0),
                                     Shard(3, 0, 0, 0)};
  shards[1].file_last = 1;
  shards[2].key_upto = "41";
  shards[3].key_after = "41";
  shards[3].key_upto = "\"zz\"";
  auto created = ledger_->CreateOrAttachRun(run, files, shards);
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(created->state, RunState::kPending);
  EXPECT_EQ(created->total_rows, 305);
  EXPECT_EQ(created->total_shards, 4);
  EXPECT_GT(created->created_at_ms, 1'700'000'000'000);  // ms since the epoch

  // Attaching returns the stored record: the plan given is ignored.
  RunRecord other = run;
  other.job_name = "changed";
  auto attached = ledger_->CreateOrAttachRun(other, {}, {});
  ASSERT_TRUE(attached.has_value());
  EXPECT_EQ(attached->job_name, "create-job");
  EXPECT_EQ(attached->created_at_ms, created->created_at_ms);

  auto listed = ledger_->ListShards(run.run_id);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 4u);
  EXPECT_EQ((*listed)[1].file_last, 1);
  EXPECT_EQ((*listed)[0].file_last, -1);
  EXPECT_EQ((*listed)[2].key_after, "");
  EXPECT_EQ((*listed)[2].key_upto, "41");
  EXPECT_EQ((*listed)[3].key_after, "41");
  EXPECT_EQ((*listed)[3].key_upto, "\"zz\"");
  auto got_files = ledger_->ListFiles(run.run_id);
  ASSERT_TRUE(got_files.has_value());
  ASSERT_EQ(got_files->size(), 2u);
  EXPECT_EQ((*got_files)[1].path, "/in/b");
  EXPECT_EQ((*got_files)[1].rows, 5);

  EXPECT_EQ(ledger_->GetRun("no-such-run").error().code(), Code::kNotFound);
  EXPECT_EQ(ledger_->ListShards("no-such-run").error().code(), Code::kNotFound);
  EXPECT_TRUE(ledger_->shared());
}

TEST_F(PgLedgerTest, ListRunsNewestFirstAndLatest) {
  const std::string job = fmt_id("listjob", 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(NewRun(1, job));
  auto runs = ledger_->ListRuns(job, -1);
  ASSERT_TRUE(runs.has_value());
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].run_id, ids[2]);
  EXPECT_EQ((*runs)[2].run_id, ids[0]);
  auto two = ledger_->ListRuns(job, 2);
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->size(), 2u);
  auto latest = ledger_->LatestRun(job);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->run_id, ids[2]);
  EXPECT_EQ(ledger_->LatestRun("no-such-job").error().code(), Code::kNotFound);
}

TEST_F(PgLedgerTest, PrefersOwnShardsThenLowest) {
  const std::string id = NewRun(8);
  ClaimPolicy policy{.worker_index = 1, .workers = 3, .lease_ms = 60000};
  std::vector<int64_t> order;
  for (;;) {
    auto claim = ledger_->ClaimNextShard(id, Worker(1), policy);
    ASSERT_TRUE(claim.has_value()) << claim.error().ToString();
    if (!claim->has_value()) break;
    order.push_back((*claim)->shard_id);
    EXPECT_EQ((*claim)->epoch, 1);
    EXPECT_EQ((*claim)->attempts, 1);
    EXPECT_EQ((*claim)->state, ShardState::kRunning);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{1, 4, 7, 0, 2, 3, 5, 6}));
  EXPECT_EQ(ledger_->ClaimNextShard("no-such-run", Worker(1), policy).error().code(),
            Code::kNotFound);
}

// Many connections claim at once: no shard goes to two claimers, all get
// committed, and exactly one completes the run.
TEST_F(PgLedgerTest, ConcurrentClaimersNeverShareAShard) {
  constexpr int kShards = 400, kThreads = 8;
  const std::string id = NewRun(kShards);
  std::mutex mu;
  std::map<int64_t, int> claimed;
  std::atomic<int> completions{0}, errors{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto ledger = Open();
      if (!ledger) return (void)errors++;
      ClaimPolicy policy{.worker_index = t, .workers = kThreads, .lease_ms = 60000};
      for (;;) {
        auto claim = ledger->ClaimNextShard(id, Worker(100 + t), policy);
        if (!claim.has_value()) return (void)errors++;
        if (!claim->has_value()) break;
        const ShardRecord& s = **claim;
        {
          std::lock_guard lock(mu);
          claimed[s.shard_id]++;
        }
        Status c = ledger->CommitShard(id, s.shard_id, s.epoch, 100,
                                       "part-" + std::to_string(s.shard_id), "", {});
        if (!c.ok()) errors++;
      }
      auto done = ledger->CompleteRunIfDone(id);
      if (!done.has_value()) return (void)errors++;
      if (*done) completions++;
    });
  }
  for (auto& th : threads) th.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ measure  ] %d claim+commit pairs by %d connections in %.3f s: %.0f pairs/s\n",
              kShards, kThreads, secs, kShards / secs);
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(claimed.size(), static_cast<size_t>(kShards));
  for (const auto& [shard, times] : claimed) EXPECT_EQ(times, 1) << "shard " << shard;
  EXPECT_EQ(completions.load(), 1);
  auto run = ledger_->GetRun(id);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->state, RunState::kCompleted);
  EXPECT_GT(run->finished_at_ms, 0);
  auto counts = ledger_->Counts(id);
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(counts->shards_committed, kShards);
  EXPECT_EQ(counts->succeeded, 100 * kShards);
}

TEST_F(PgLedgerTest, CompleteRunIfDoneTrueExactlyOnceAcrossCallers) {
  const std::string id = NewRun(2);
  ClaimPolicy policy;
  auto a = ledger_->ClaimNextShard(id, Worker(1), policy);
  ASSERT_TRUE(a.has_value() && a->has_value());
  ASSERT_TRUE(ledger_->CommitShard(id, (*a)->shard_id, (*a)->epoch, 1, "p0", "", {}).ok());
  auto early = ledger_->CompleteRunIfDone(id);
  ASSERT_TRUE(early.has_value());
  EXPECT_FALSE(*early);  // a shard remains
  auto b = ledger_->ClaimNextShard(id, Worker(1), policy);
  ASSERT_TRUE(b.has_value() && b->has_value());
  ASSERT_TRUE(ledger_->CommitShard(id, (*b)->shard_id, (*b)->epoch, 1, "p1", "", {}).ok());

  std::vector<std::unique_ptr<Ledger>> ledgers;
  for (int i = 0; i < 8; ++i) ledgers.push_back(Open());
  std::atomic<int> trues{0}, errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (auto& l : ledgers) {
    threads.emplace_back([&, ledger = l.get()] {
      while (!go.load()) std::this_thread::yield();
      auto done = ledger->CompleteRunIfDone(id);
      if (!done.has_value())
        errors++;
      else if (*done)
        trues++;
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(trues.load(), 1);
  auto again = ledger_->CompleteRunIfDone(id);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again);
  EXPECT_EQ(ledger_->CompleteRunIfDone("no-such-run").error().code(), Code::kNotFound);
}

// A lease lapses by the database's clock; the next claim gets a new epoch and
// the old claimer's commit is refused without changing anything.
TEST_F(PgLedgerTest, ExpiredLeaseIsReclaimedAndStaleCommitRefused) {
  const std::string id = NewRun(1);
  ClaimPolicy short_lease{.lease_ms = 1000};
  auto a = ledger_->ClaimNextShard(id, Worker(1), short_lease);
  ASSERT_TRUE(a.has_value() && a->has_value());
  auto none = ledger_->ClaimNextShard(id, Worker(2), short_lease);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value()) << "a live lease was claimed again";
  EXPECT_TRUE(ledger_->CheckClaim(id, 0, (*a)->epoch, 0).ok());
  Status margin = ledger_->CheckClaim(id, 0, (*a)->epoch, 5000);
  EXPECT_EQ(margin.code(), Code::kConflict) << margin.ToString();

  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  Status lapsed = ledger_->CheckClaim(id, 0, (*a)->epoch, 0);
  EXPECT_EQ(lapsed.code(), Code::kConflict) << "an expired lease passed the check";
  auto b = ledger_->ClaimNextShard(id, Worker(2), short_lease);
  ASSERT_TRUE(b.has_value() && b->has_value());
  EXPECT_EQ((*b)->shard_id, 0);
  EXPECT_EQ((*b)->epoch, (*a)->epoch + 1);
  EXPECT_EQ((*b)->attempts, 2);

  Status stale = ledger_->CommitShard(id, 0, (*a)->epoch, 100, "late-part", "", {});
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.ToString();
  EXPECT_NE(stale.message().find("stale epoch"), std::string::npos) << stale.message();
  EXPECT_EQ(ledger_->CheckClaim(id, 0, (*a)->epoch, 0).code(), Code::kConflict);
  auto shards = ledger_->ListShards(id);
  ASSERT_TRUE(shards.has_value());
  EXPECT_EQ((*shards)[0].state, ShardState::kRunning);
  EXPECT_EQ((*shards)[0].output_file, "");

  ASSERT_TRUE(ledger_->CommitShard(id, 0, (*b)->epoch, 100, "part-b", "", {}).ok());
  // The same commit again is fine; another output or epoch is not.
  EXPECT_TRUE(ledger_->CommitShard(id, 0, (*b)->epoch, 100, "part-b", "", {}).ok());
  EXPECT_EQ(ledger_->CommitShard(id, 0, (*b)->epoch, 100, "part-c", "", {}).code(),
            Code::kConflict);
  EXPECT_EQ(ledger_->CommitShard(id, 0, (*a)->epoch, 100, "part-b", "", {}).code(),
            Code::kConflict);
  EXPECT_EQ(ledger_->CheckClaim(id, 0, (*b)->epoch, 0).code(), Code::kConflict);  // committed
  shards = ledger_->ListShards(id);
  EXPECT_EQ((*shards)[0].output_file, "part-b");
  EXPECT_EQ((*shards)[0].state, ShardState::kCommitted);
}

TEST_F(PgLedgerTest, RenewedLeaseHoldsAndWorkersAreListed) {
  const std::string id = NewRun(2);
  ClaimPolicy policy{.worker_index = 0, .workers = 2, .lease_ms = 1000};
  auto a = ledger_->ClaimNextShard(id, Worker(1), policy);
  ASSERT_TRUE(a.has_value() && a->has_value());
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(ledger_->RenewLeases(id, Worker(1), policy).ok());
  }
  // 1.5 s after the claim, renewed: still held, and passes the fence.
  EXPECT_TRUE(ledger_->CheckClaim(id, (*a)->shard_id, (*a)->epoch, 500).ok());
  // Heartbeats are whole milliseconds of the database clock: on a fast machine the
  // renewal and the claim below can share one, and the order would fall to the pid.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ClaimPolicy other{.worker_index = 1, .workers = 2, .lease_ms = 1000};
  auto b = ledger_->ClaimNextShard(id, Worker(2), other);
  ASSERT_TRUE(b.has_value() && b->has_value());
  EXPECT_NE((*b)->shard_id, (*a)->shard_id);
  ASSERT_TRUE(ledger_->CommitShard(id, (*b)->shard_id, (*b)->epoch, 1, "pb", "", {}).ok());

  auto workers = ledger_->ListWorkers(id);
  ASSERT_TRUE(workers.has_value()) << workers.error().ToString();
  ASSERT_EQ(workers->size(), 2u);
  std::map<int64_t, WorkerRecord> by_pid;
  for (const auto& w : *workers) by_pid[w.who.pid] = w;
  EXPECT_EQ(by_pid[1].shards_held, 1);
  EXPECT_EQ(by_pid[1].shards_committed, 0);
  EXPECT_EQ(by_pid[1].worker_index, 0);
  EXPECT_EQ(by_pid[1].workers, 2);
  EXPECT_EQ(by_pid[1].who.host, "host-a");
  EXPECT_GT(by_pid[1].who.heartbeat_at_ms, by_pid[1].who.acquired_at_ms);
  EXPECT_EQ(by_pid[2].shards_held, 0);
  EXPECT_EQ(by_pid[2].shards_committed, 1);
  EXPECT_EQ(by_pid[2].worker_index, 1);
  // Newest heartbeat first: worker 2 claimed after worker 1's last renewal.
  EXPECT_EQ((*workers)[0].who.pid, 2);
  EXPECT_TRUE(ledger_->RenewLeases(id, Worker(3), policy).ok());  // holds none: OK
}

TEST_F(PgLedgerTest, FailedShardIsClaimableAgainAndFailuresAreKept) {
  const std::string id = NewRun(1);
  auto a = ledger_->ClaimNextShard(id, Worker(1), {});
  ASSERT_TRUE(a.has_value() && a->has_value());
  ASSERT_TRUE(ledger_->FailShard(id, 0, (*a)->epoch, "model crashed").ok());
  EXPECT_EQ(ledger_->FailShard(id, 0, (*a)->epoch + 5, "x").code(), Code::kConflict);
  auto b = ledger_->ClaimNextShard(id, Worker(1), {});
  ASSERT_TRUE(b.has_value() && b->has_value());
  EXPECT_EQ((*b)->message, "model crashed");
  std::vector<ItemFailure> failures = {Failure(3, 2), Failure(9, 1)};
  ASSERT_TRUE(ledger_->CommitShard(id, 0, (*b)->epoch, 98, "p", "dl", failures).ok());
  auto listed = ledger_->ListFailures(id, -1);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].row, 9);
  EXPECT_EQ((*listed)[1].error, "bad 9");
  EXPECT_EQ((*listed)[0].file, "/in/a.parquet");
  EXPECT_EQ(ledger_->ListFailures(id, 1)->size(), 1u);
  auto counts = ledger_->Counts(id);
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(counts->failed, 2);
  EXPECT_EQ(counts->succeeded, 98);

  // A retry part replaces the failures with what still fails.
  ASSERT_TRUE(ledger_->CommitRetry(id, 0, 1, 1, "retry-1", "dl-1", {failures[1]}).ok());
  EXPECT_TRUE(ledger_->CommitRetry(id, 0, 1, 1, "retry-1", "dl-1", {failures[1]}).ok());
  EXPECT_EQ(ledger_->CommitRetry(id, 0, 3, 1, "retry-3", "", {}).code(), Code::kConflict);
  auto parts = ledger_->ListRetryParts(id);
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].output_file, "retry-1");
  EXPECT_EQ(ledger_->Counts(id)->failed, 1);
  EXPECT_EQ(ledger_->Counts(id)->succeeded, 99);
}

TEST_F(PgLedgerTest, InputsReplanStateModelTuning) {
  const std::string id = NewRun(3);
  EXPECT_FALSE(ledger_->GetRunInputs(id)->has_value());
  RunInputs inputs{.job = {{"b", "2"}, {"a", "1"}},
                   .files = {{.path = "/in/a.parquet", .size = 10, .mtime_ns = 5}}};
  ASSERT_TRUE(ledger_->SetRunInputs(id, inputs).ok());
  auto got = ledger_->GetRunInputs(id);
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->job[0].first, "a");
  EXPECT_EQ((*got)->files[0].size, 10);
  EXPECT_EQ(ledger_->SetRunInputs("no-such-run", inputs).code(), Code::kNotFound);

  auto a = ledger_->ClaimShard(id, 1);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(ledger_->CommitShard(id, 1, *a, 100, "p1", "", {}).ok());
  EXPECT_EQ(ledger_->ClaimShard(id, 1).error().code(), Code::kConflict);
  std::vector<ShardRecord> plan = {Shard(1, 1, 0, 100), Shard(5, 0, 0, 50)};
  ASSERT_TRUE(ledger_->ReplanRun(id, {}, plan, inputs).ok());
  auto shards = ledger_->ListShards(id);
  ASSERT_EQ(shards->size(), 2u);
  EXPECT_EQ((*shards)[0].state, ShardState::kCommitted);
  EXPECT_EQ((*shards)[0].file_index, 1);
  EXPECT_EQ((*shards)[1].shard_id, 5);
  EXPECT_EQ(ledger_->GetRun(id)->total_rows, 150);
  EXPECT_EQ(ledger_->ReplanRun(id, {}, {plan[1]}, inputs).code(), Code::kInvalidJob);

  ASSERT_TRUE(ledger_->SetRunState(id, RunState::kFailed, "too many").ok());
  auto run = ledger_->GetRun(id);
  EXPECT_EQ(run->state, RunState::kFailed);
  EXPECT_EQ(run->message, "too many");
  EXPECT_GT(run->finished_at_ms, 0);
  ASSERT_TRUE(ledger_->SetRunModel(id, "/m2", "sha2").ok());
  EXPECT_EQ(ledger_->GetRun(id)->model_sha256, "sha2");
  EXPECT_EQ(ledger_->SetRunState("no-such-run", RunState::kFailed, "").code(), Code::kNotFound);

  ASSERT_TRUE(ledger_->PutTuning("k-" + id, "64").ok());
  ASSERT_TRUE(ledger_->PutTuning("k-" + id, "128").ok());
  EXPECT_EQ(**ledger_->GetTuning("k-" + id), "128");
  EXPECT_FALSE(ledger_->GetTuning("no-such-key")->has_value());
}

TEST_F(PgLedgerTest, RunOwnership) {
  const std::string id = NewRun(1);
  auto alive = [](const RunOwner&) { return false; };
  auto gone = [](const RunOwner&) { return true; };
  auto got = ledger_->AcquireRun(id, Worker(1), alive);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->acquired);
  auto refused = ledger_->AcquireRun(id, Worker(2), alive);
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->acquired);
  EXPECT_EQ(refused->holder.pid, 1);
  EXPECT_TRUE(ledger_->Heartbeat(id, Worker(1)).ok());
  auto taken = ledger_->AcquireRun(id, Worker(2), gone);
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(taken->acquired);
  EXPECT_EQ(ledger_->Heartbeat(id, Worker(1)).code(), Code::kFailed);
  EXPECT_EQ((*ledger_->GetRunOwner(id))->pid, 2);
  EXPECT_TRUE(ledger_->ReleaseRun(id, Worker(1)).ok());  // not the owner: no change
  EXPECT_TRUE(ledger_->GetRunOwner(id)->has_value());
  EXPECT_TRUE(ledger_->ReleaseRun(id, Worker(2)).ok());
  EXPECT_FALSE(ledger_->GetRunOwner(id)->has_value());
  EXPECT_EQ(ledger_->AcquireRun("no-such-run", Worker(1), alive).error().code(), Code::kNotFound);
}

TEST_F(PgLedgerTest, NamedLockIsHeldByOneProcessUntilItIsGoneOrReleased) {
  const std::string name = "schedule:" + fmt_id("lock", 0);
  auto alive = [](const RunOwner&) { return false; };
  auto gone = [](const RunOwner&) { return true; };
  std::unique_ptr<Ledger> other = Open();
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(ledger_->AcquireLock(name, Worker(1), alive)->acquired);
  auto refused = other->AcquireLock(name, Worker(2), alive);
  ASSERT_TRUE(refused.has_value()) << refused.error().ToString();
  EXPECT_FALSE(refused->acquired);
  EXPECT_EQ(refused->holder.pid, 1);
  EXPECT_TRUE(ledger_->RenewLock(name, Worker(1)).ok());
  EXPECT_TRUE(other->AcquireLock(name, Worker(2), gone)->acquired);
  EXPECT_EQ(ledger_->RenewLock(name, Worker(1)).code(), Code::kFailed);
  EXPECT_TRUE(ledger_->ReleaseLock(name, Worker(1)).ok());  // not the holder: no change
  EXPECT_FALSE(ledger_->AcquireLock(name, Worker(1), alive)->acquired);
  EXPECT_TRUE(other->ReleaseLock(name, Worker(2)).ok());
  EXPECT_TRUE(ledger_->AcquireLock(name, Worker(1), alive)->acquired);
}

TEST_F(PgLedgerTest, ReaderWritesNothing) {
  const std::string id = NewRun(1);
  auto reader = Ledger::OpenForReading(url_);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  EXPECT_EQ((*reader)->GetRun(id)->run_id, id);
  EXPECT_TRUE((*reader)->ListWorkers(id).has_value());
  Status write = (*reader)->SetRunState(id, RunState::kFailed, "x");
  EXPECT_FALSE(write.ok());
  EXPECT_NE(write.message().find("read-only"), std::string::npos) << write.message();
  EXPECT_EQ(ledger_->GetRun(id)->state, RunState::kPending);
}

// The connection dies under the ledger (server restart, network cut): the
// call is run again on a fresh connection and succeeds.
TEST_F(PgLedgerTest, LostConnectionIsRetriedOnAFreshConnection) {
  const std::string id = NewRun(1);
  auto admin = io::pg::PgConn::Connect(url_, "test");
  ASSERT_TRUE(admin.has_value());
  ASSERT_TRUE((*admin)
                  ->Run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "datname = current_database() AND pid <> pg_backend_pid()",
                        "cutting the ledger's connections")
                  .ok());
  auto cut = ledger_->GetRun(id);
  ASSERT_TRUE(cut.has_value()) << cut.error().ToString();
  EXPECT_EQ(cut->run_id, id);
}

TEST_F(PgLedgerTest, PasswordNeverInErrors) {
  const std::string password = EnvOr("NIGHTSHIFT_TEST_PG_PASSWORD");
  if (password.empty()) GTEST_SKIP() << "NIGHTSHIFT_TEST_PG_PASSWORD is not set";
  ASSERT_NE(url_.find(password), std::string::npos) << "the test URL should carry the password";
  auto replace = [&](std::string s, const std::string& from, const std::string& to) {
    return s.replace(s.find(from), from.size(), to);
  };
  std::vector<std::string> bad_urls = {
      replace(url_, "@/", "@/no_such_db_"),                           // unknown database
      replace(url_, password, password + "x"),                        // wrong password
      replace(url_, "host=", "connect_timeout=1&host=/nonexistent"),  // no server
  };
  for (const std::string& bad : bad_urls) {
    auto opened = Ledger::Open(bad);
    ASSERT_FALSE(opened.has_value()) << bad;
    EXPECT_EQ(opened.error().code(), Code::kIoError);
    EXPECT_EQ(opened.error().message().find(password), std::string::npos)
        << opened.error().message();
    EXPECT_NE(opened.error().message().find("run.ledger"), std::string::npos);
    auto reading = Ledger::OpenForReading(bad);
    ASSERT_FALSE(reading.has_value());
    EXPECT_EQ(reading.error().message().find(password), std::string::npos);
  }
  // An error of a call on a good connection names the ledger without it.
  auto missing = ledger_->GetRun("no-such-run-" + password);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("postgresql://scorer@"), std::string::npos)
      << missing.error().message();
}

// Needs no server: both URL schemes reach the PostgreSQL ledger (not the
// SQLite file of that name), and an unreachable one is an IoError naming it.
TEST(PgLedgerOpen, PostgresUrlsOpenThePostgresLedger) {
  for (std::string url : {"postgresql://u:hunter2@/db?host=/nonexistent-ns-socket",
                          "postgres://u:hunter2@/db?host=/nonexistent-ns-socket"}) {
    auto ledger = Ledger::Open(url);
    ASSERT_FALSE(ledger.has_value());
    EXPECT_EQ(ledger.error().code(), Code::kIoError);
    EXPECT_NE(ledger.error().message().find("run.ledger (postgresql://u@"), std::string::npos)
        << ledger.error().message();
    EXPECT_EQ(ledger.error().message().find("hunter2"), std::string::npos);
    EXPECT_EQ(Ledger::OpenForReading(url).error().code(), Code::kIoError);
  }
}

// Many workers starting at once on an empty database: one migrates, the
// others wait for it; all open, and the schema is there once.
TEST(PgLedgerMigration, EightConcurrentOpenersOnAnEmptyDatabase) {
  const std::string url = EnvOr("NIGHTSHIFT_TEST_PG_EMPTY_URL");
  if (url.empty()) GTEST_SKIP() << "NIGHTSHIFT_TEST_PG_EMPTY_URL is not set";
  auto before = Ledger::OpenForReading(url);
  ASSERT_FALSE(before.has_value());
  EXPECT_EQ(before.error().code(), Code::kNotFound) << before.error().ToString();
  auto conn = io::pg::PgConn::Connect(url, "test");
  ASSERT_TRUE(conn.has_value());
  auto schemas =
      (*conn)->Exec("SELECT count(*) FROM pg_namespace WHERE nspname = 'nightshift'", "");
  ASSERT_TRUE(schemas.has_value());
  ASSERT_EQ(schemas->Int(0, 0), 0) << "the reader created the schema";

  std::atomic<int> ok{0};
  std::vector<std::string> errors(8);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      auto l = Ledger::Open(url);
      if (l.has_value())
        ok++;
      else
        errors[i] = l.error().ToString();
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(ok.load(), 8);
  auto versions = (*conn)->Exec("SELECT count(*), max(version) FROM nightshift.schema_version", "");
  ASSERT_TRUE(versions.has_value()) << versions.error().ToString();
  EXPECT_EQ(versions->Int(0, 0), versions->Int(0, 1)) << "a migration was applied twice";
  EXPECT_GE(versions->Int(0, 1), 1);
  auto reader = Ledger::OpenForReading(url);
  EXPECT_TRUE(reader.has_value());
}

}  // namespace
}  // namespace nightshift
