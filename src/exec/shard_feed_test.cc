// ShardFeed (claims from the ledger, lease heartbeat) and ShardCommitter's
// fencing, on the SQLite ledger and on it seen as shared (SharedView).
#include "exec/shard_feed.h"

#include <gtest/gtest.h>

#include <thread>

#include "env/temp_dir_for_test.h"
#include "exec/shard_committer.h"
#include "exec/shared_view_for_test.h"

namespace nightshift::exec {
namespace {

constexpr char kRun[] = "r1";

class ShardFeedTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_feed_test"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    auto ledger = Ledger::Open(dir_ + "/ledger.db");
    ASSERT_TRUE(ledger.has_value()) << ledger.error().ToString();
    ledger_ = std::move(*ledger);
    RunRecord run;
    run.run_id = kRun;
    run.job_name = "score";
    // Two files: shards 0-2 read file 0, shards 3-4 file 1.
    std::vector<ShardRecord> shards;
    for (int64_t i = 0; i < 5; ++i) {
      ShardRecord s;
      s.shard_id = i;
      s.file_index = i < 3 ? 0 : 1;
      s.row_begin = (i < 3 ? i : i - 3) * 10;
      s.row_end = s.row_begin + 10;
      shards.push_back(s);
    }
    std::vector<InputFileRecord> files = {{.index = 0, .path = "a.csv", .rows = 30},
                                          {.index = 1, .path = "b.csv", .rows = 20}};
    ASSERT_TRUE(ledger_->CreateOrAttachRun(run, files, shards).has_value());
  }
  void TearDown() override { ledger_.reset(); }
  ShardFeedOptions Options(Ledger* ledger, const RunOwner& me, int32_t index = 0,
                           int32_t workers = 1) {
    return {.ledger = ledger,
            .run_id = kRun,
            .me = me,
            .policy = {.worker_index = index, .workers = workers, .lease_ms = 60000}};
  }
  Status Commit(Ledger* ledger, const ShardTask& t) {
    return ledger->CommitShard(kRun, t.shard_id, t.epoch, 10, "p" + std::to_string(t.shard_id), "",
                               {});
  }
  static std::vector<int64_t> Ids(const std::vector<ShardTask>& tasks) {
    std::vector<int64_t> ids;
    for (const auto& t : tasks) ids.push_back(t.shard_id);
    return ids;
  }

  std::string dir_;
  std::unique_ptr<Ledger> ledger_;
  const RunOwner a_{.host = "h1", .pid = 10, .start_time = 100};
  const RunOwner b_{.host = "h2", .pid = 20, .start_time = 200};
};

TEST_F(ShardFeedTest, SqliteClaimsEverythingAtOnceInShardOrder) {
  // Worker 1 of 2 prefers shards 1 and 3 but, as the run's one owner, takes
  // all and reads them in plan order.
  auto feed = ShardFeed::Start(Options(ledger_.get(), a_, 1, 2));
  ASSERT_TRUE(feed.has_value()) << feed.error().ToString();
  EXPECT_EQ((*feed)->shards_open_at_start(), 5);
  auto primed = (*feed)->Prime();
  ASSERT_TRUE(primed.has_value()) << primed.error().ToString();
  EXPECT_EQ(Ids(*primed), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_FALSE((*feed)->drained());
  auto next = (*feed)->Next({});
  EXPECT_TRUE((*feed)->drained());  // one owner: nothing more will come
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*next)[i].shard_index, static_cast<int64_t>(i));
    EXPECT_EQ((*next)[i].epoch, 1);
    EXPECT_EQ((*feed)->Get(static_cast<int64_t>(i)).shard_id, static_cast<int64_t>(i));
  }
  // file_end: the last shard of each file.
  EXPECT_FALSE((*next)[1].file_end);
  EXPECT_TRUE((*next)[2].file_end);
  EXPECT_TRUE((*next)[4].file_end);
  EXPECT_TRUE(((*feed)->Next({}))->empty());
  EXPECT_FALSE((*feed)->fenced());
  EXPECT_EQ((*feed)->Claimed().size(), 5u);
}

TEST_F(ShardFeedTest, SqliteSkipsCommittedShardsAndCountsTheirRows) {
  auto first = ledger_->ClaimShard(kRun, 2);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(ledger_->CommitShard(kRun, 2, *first, 10, "p2", "", {}).ok());
  auto feed = ShardFeed::Start(Options(ledger_.get(), a_));
  ASSERT_TRUE(feed.has_value());
  EXPECT_EQ((*feed)->rows_committed_at_start(), 10);
  EXPECT_EQ((*feed)->shards_open_at_start(), 4);
  auto next = (*feed)->Next({});
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(Ids(*next), (std::vector<int64_t>{0, 1, 3, 4}));
}

TEST_F(ShardFeedTest, SharedClaimsOneAtATimeOwnShardsFirst) {
  SharedView shared(std::move(ledger_));
  auto feed = ShardFeed::Start(Options(&shared, a_, 1, 2));
  ASSERT_TRUE(feed.has_value());
  EXPECT_TRUE((*feed)->fenced());
  std::vector<int64_t> order;
  while (true) {
    auto next = (*feed)->Next({});
    ASSERT_TRUE(next.has_value()) << next.error().ToString();
    if (next->empty()) break;
    ASSERT_EQ(next->size(), 1u);
    EXPECT_EQ(next->front().shard_index, static_cast<int64_t>(order.size()));
    order.push_back(next->front().shard_id);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{1, 3, 0, 2, 4}));
  EXPECT_TRUE((*feed)->drained());
}

TEST_F(ShardFeedTest, SharedCheckClaimFencesAStolenShard) {
  SharedView shared(std::move(ledger_));
  auto feed = ShardFeed::Start(Options(&shared, a_));
  ASSERT_TRUE(feed.has_value());
  auto next = (*feed)->Next({});
  ASSERT_TRUE(next.has_value() && next->size() == 1u);
  const ShardTask mine = next->front();
  EXPECT_TRUE((*feed)->CheckClaim(mine).ok());
  // Another worker claims it (for SQLite, at once): this claim is stale.
  auto stolen = shared.ClaimNextShard(kRun, b_, {.lease_ms = 60000});
  ASSERT_TRUE(stolen.has_value() && stolen->has_value());
  EXPECT_EQ((*stolen)->shard_id, mine.shard_id);
  EXPECT_EQ((*feed)->CheckClaim(mine).code(), Code::kConflict);
}

TEST_F(ShardFeedTest, SharedWaitPollsUntilEveryShardIsCommitted) {
  SharedView shared(std::move(ledger_));
  // One feed of worker a holds every shard under a live lease; a second feed
  // of the same worker finds nothing claimable and, with wait, polls.
  auto holder = ShardFeed::Start(Options(&shared, a_));
  ASSERT_TRUE(holder.has_value());
  std::vector<ShardTask> held;
  for (int i = 0; i < 5; ++i) {
    auto next = (*holder)->Next({});
    ASSERT_TRUE(next.has_value() && next->size() == 1u);
    held.push_back(next->front());
  }
  ShardFeedOptions options = Options(&shared, a_);
  options.wait = true;
  options.poll_ms = 20;
  auto waiter = ShardFeed::Start(options);
  ASSERT_TRUE(waiter.has_value());
  // A stop request ends the wait at once.
  std::stop_source stop;
  stop.request_stop();
  auto stopped = (*waiter)->Next(stop.get_token());
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->empty());
  EXPECT_FALSE((*waiter)->drained());  // stopped, not out of work

  std::thread committer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (const auto& t : held) EXPECT_TRUE(Commit(&shared, t).ok());
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto next = (*waiter)->Next({});
  const auto waited = std::chrono::steady_clock::now() - t0;
  committer.join();
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_TRUE(next->empty());  // every shard committed: nothing to do
  EXPECT_TRUE((*waiter)->drained());
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  // Without wait the same feed ends at once.
  auto plain = ShardFeed::Start(Options(&shared, a_));
  EXPECT_TRUE((*plain)->Next({})->empty());
}

TEST_F(ShardFeedTest, HeartbeatRenewsLeases) {
  ShardFeedOptions options = Options(ledger_.get(), a_);
  options.policy.lease_ms = 1500;  // renewed every 500 ms
  auto feed = ShardFeed::Start(options);
  ASSERT_TRUE(feed.has_value());
  auto next = (*feed)->Next({});
  ASSERT_TRUE(next.has_value() && !next->empty());
  const ShardTask t = next->front();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  // Past the first lease, still held: the heartbeat renewed it.
  EXPECT_TRUE(ledger_->CheckClaim(kRun, t.shard_id, t.epoch, 0).ok());
  (*feed)->StopHeartbeat();
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  EXPECT_EQ(ledger_->CheckClaim(kRun, t.shard_id, t.epoch, 0).code(), Code::kConflict);
}

// A sink whose writers record what happened to them.
struct Record {
  int finished = 0;
  int abandoned = 0;
};
class RecordingWriter final : public ShardWriter {
 public:
  explicit RecordingWriter(Record* r) : r_(r) {}
  ~RecordingWriter() override {
    if (!done_) r_->abandoned++;
  }
  Status Append(const RowBatch&) override { return Status::Ok(); }
  Result<ShardOutput> Finish(const ClaimCheck&) override {
    done_ = true;
    r_->finished++;
    ShardOutput out;
    out.output_file = "p";
    out.rows_written = 10;
    return out;
  }

 private:
  Record* r_;
  bool done_ = false;
};
class RecordingSink final : public Sink {
 public:
  explicit RecordingSink(Record* r) : r_(r) {}
  Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t, int64_t, int32_t) override {
    return std::unique_ptr<ShardWriter>(std::make_unique<RecordingWriter>(r_));
  }
  Status WriteSuccess(const std::string&) override { return Status::Ok(); }

 private:
  Record* r_;
};

TEST_F(ShardFeedTest, CommitterDropsALostClaimWithoutPublishing) {
  SharedView shared(std::move(ledger_));
  auto feed = ShardFeed::Start(Options(&shared, a_));
  ASSERT_TRUE(feed.has_value());
  auto first = (*feed)->Next({});
  auto second = (*feed)->Next({});
  ASSERT_TRUE(first.has_value() && second.has_value() && !second->empty());
  // Shard 0 is taken over by another worker; shard 1 stays ours.
  ASSERT_TRUE(shared.ClaimNextShard(kRun, b_, {.lease_ms = 60000}).has_value());
  Record record;
  RecordingSink sink(&record);
  int commits = 0;
  PipelineConfig config;
  config.sink = &sink;
  config.feed = feed->get();
  config.env = Env::Default();
  config.commit = [&](const ShardTask& t, const ShardOutput& out) {
    ++commits;
    return shared.CommitShard(kRun, t.shard_id, t.epoch, out.rows_written, out.output_file, "", {});
  };
  std::atomic<int64_t> rows{0};
  CommitSection section(0);
  ShardCommitter committer(config, nullptr, &rows, &section);
  for (int64_t index : {0, 1}) {
    RowBatch b;
    b.shard_index = index;
    b.last_in_shard = true;
    ASSERT_TRUE(committer.Write(b).ok());
  }
  EXPECT_EQ(committer.shards_dropped(), 1);
  EXPECT_EQ(committer.shards_committed(), 1);
  EXPECT_EQ(record.abandoned, 1);  // shard 0: never published, temp files removed
  EXPECT_EQ(record.finished, 1);   // shard 1
  EXPECT_EQ(commits, 1);
  auto shards = shared.ListShards(kRun);
  ASSERT_TRUE(shards.has_value());
  EXPECT_EQ((*shards)[0].state, ShardState::kRunning);  // the other worker's
  EXPECT_EQ((*shards)[1].state, ShardState::kCommitted);
}

}  // namespace
}  // namespace nightshift::exec
