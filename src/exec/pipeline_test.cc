// The pipeline's claims against its writer, with fakes for the feed, the
// source, the sink and the model: every batch is empty (it only marks its
// place in its shard), so the model is never called and what is measured is
// when the reader takes shards from the feed while the writer is held.
#include "exec/pipeline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "exec/shard_feed.h"

namespace nightshift::exec {
namespace {

using namespace std::chrono_literals;

// `shards` shards, one per Next() (as a shared ledger's ShardFeed hands them
// out); counts the claims. CheckClaim refuses the shards in `lost`.
class CountingFeed final : public TaskFeed {
 public:
  CountingFeed(int64_t shards, bool fenced, std::set<int64_t> lost = {})
      : shards_(shards), fenced_(fenced), lost_(std::move(lost)) {}
  Result<std::vector<ShardTask>> Next(std::stop_token) override {
    std::lock_guard lock(mu_);
    if (static_cast<int64_t>(tasks_.size()) == shards_) {
      drained_ = true;
      return std::vector<ShardTask>();
    }
    ShardTask t;
    t.shard_id = static_cast<int64_t>(tasks_.size());
    t.shard_index = t.shard_id;
    t.file_index = -1;  // no file: the pipeline's input check passes over it
    tasks_.push_back(t);
    return std::vector<ShardTask>{t};
  }
  const ShardTask& Get(int64_t shard_index) const override {
    std::lock_guard lock(mu_);
    return tasks_.at(static_cast<size_t>(shard_index));
  }
  Status CheckClaim(const ShardTask& task) override {
    if (lost_.count(task.shard_id) == 0) return Status::Ok();
    return Status(Code::kConflict, "claim lost (test)");
  }
  bool fenced() const override { return fenced_; }
  bool drained() const override {
    std::lock_guard lock(mu_);
    return drained_;
  }
  int64_t claims() const {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(tasks_.size());
  }

 private:
  const int64_t shards_;
  const bool fenced_;
  const std::set<int64_t> lost_;
  mutable std::mutex mu_;
  std::deque<ShardTask> tasks_;
  bool drained_ = false;
};

// Emits `batches` empty batches per shard, the last one marked.
class EmptySource final : public Source {
 public:
  explicit EmptySource(int batches) : batches_(batches) {}
  Env* env() const override { return Env::Default(); }
  const std::vector<InputFile>& files() const override { return files_; }
  const std::vector<InputFile>& read_files() const override { return files_; }
  bool seekable() const override { return true; }
  Result<std::vector<InputColumn>> Describe(int32_t) override { return Unused(); }
  Result<int64_t> CountRows(int32_t) override { return Unused(); }
  Result<double> ParsableFraction(int32_t, const std::string&, DType) override { return Unused(); }
  Result<std::vector<int64_t>> RowGroups(int32_t) override { return Unused(); }
  Result<std::vector<std::string>> CarriedTypes(const ReadLayout&) override { return Unused(); }
  Result<std::string> CommonType(const std::string&, const std::string&) override {
    return Unused();
  }
  Status Read(const ReadLayout&, std::span<const ShardTask> shards,
              const std::function<std::unique_ptr<RowBatch>()>& next_batch,
              const std::function<bool(std::unique_ptr<RowBatch>)>& emit) override {
    for (const ShardTask& s : shards) {
      for (int i = 0; i < batches_; ++i) {
        std::unique_ptr<RowBatch> b = next_batch();
        b->shard_id = s.shard_id;
        b->shard_index = s.shard_index;
        b->seq = i;
        b->last_in_shard = i + 1 == batches_;
        b->file_index = s.file_index;
        b->num_rows = 0;
        if (!emit(std::move(b))) return Status::Ok();
      }
    }
    return Status::Ok();
  }
  void Interrupt() override {}

 private:
  static std::unexpected<Status> Unused() { return Error(Code::kInternal, "not used here"); }
  const int batches_;
  std::vector<InputFile> files_;
};

// A sink whose writers can be held in Finish() (the writer thread encoding a
// shard's file) and made to fail there.
class HeldSink final : public Sink {
 public:
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  // Lets the held writer go on; with `fail`, its Finish() fails (fatal).
  void Release(bool fail = false) {
    {
      std::lock_guard lock(mu_);
      held_ = false;
      fail_ = fail;
    }
    changed_.notify_all();
  }
  // Waits until a writer is held in Finish().
  bool WaitUntilHolding() {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return holding_; });
  }
  Result<ShardOutput> Finish() {
    std::unique_lock lock(mu_);
    holding_ = held_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !held_; });
    holding_ = false;
    if (fail_) return Error(Status(Code::kFailed, "injected: the shard's file cannot be written"));
    return ShardOutput{};
  }
  Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t, int64_t, int32_t) override;
  Status WriteSuccess(const std::string&) override { return Status::Ok(); }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool held_ = false, holding_ = false, fail_ = false;
};

class HeldWriter final : public ShardWriter {
 public:
  explicit HeldWriter(HeldSink* sink) : sink_(sink) {}
  Status Append(const RowBatch&) override { return Status::Ok(); }
  Result<ShardOutput> Finish(const ClaimCheck&) override { return sink_->Finish(); }

 private:
  HeldSink* sink_;
};

Result<std::unique_ptr<ShardWriter>> HeldSink::BeginShard(int64_t, int64_t, int32_t) {
  return std::unique_ptr<ShardWriter>(std::make_unique<HeldWriter>(this));
}

class NeverCalled final : public ModelInstance {
 public:
  Status Execute(std::span<const Tensor>, std::vector<Tensor>*) override {
    return Status(Code::kInternal, "an empty batch reached the model");
  }
};

struct Fixture {
  Fixture(int64_t shards, bool fenced, int batches_per_shard, std::set<int64_t> lost = {})
      : feed(shards, fenced, std::move(lost)), source(batches_per_shard) {
    PipelineConfig c;
    c.source = &source;
    c.sink = &sink;
    c.instances.push_back(std::make_unique<NeverCalled>());
    c.feed = &feed;
    c.commit = [](const ShardTask&, const ShardOutput&) { return Status::Ok(); };
    c.failure_limit = -1;
    pipeline = std::make_unique<Pipeline>(std::move(c));
  }
  std::future<PipelineResult> Start() {
    return std::async(std::launch::async, [this] { return pipeline->Run(); });
  }
  // The most claims seen within `d` (the reader, unbounded, would claim
  // within microseconds).
  int64_t ClaimsAfter(std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
    return feed.claims();
  }
  // The result, or a failure after 20 s (the pipeline is then stopped, which
  // still hangs if the deadlock is the stop's too).
  PipelineResult Finish(std::future<PipelineResult>& run) {
    if (run.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "the pipeline did not finish (deadlock?)";
      pipeline->RequestStop();
      sink.Release();
    }
    return run.get();
  }
  CountingFeed feed;
  EmptySource source;
  HeldSink sink;
  std::unique_ptr<Pipeline> pipeline;
};

TEST(PipelineClaims, FencedReaderClaimsAtMostOneShardAheadOfTheWriter) {
  // 3 batches a shard: the pool (6, and 24 more ahead) holds 10 shards.
  Fixture f(20, /*fenced=*/true, 3);
  f.sink.Hold();
  auto run = f.Start();
  ASSERT_TRUE(f.sink.WaitUntilHolding());
  // The writer encodes shard 0; the reader read shard 1 and waits.
  EXPECT_EQ(f.ClaimsAfter(300ms), 2);
  f.sink.Release();
  PipelineResult r = f.Finish(run);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.shards_committed, 20);
  EXPECT_FALSE(r.interrupted);
}

TEST(PipelineClaims, UnfencedReaderIsBoundedByThePoolOnly) {
  // One owner (the SQLite ledger) or a fixed list: claiming ahead takes
  // nothing from anyone, and the reader reads as far as the pool allows.
  Fixture f(20, /*fenced=*/false, 3);
  f.sink.Hold();
  auto run = f.Start();
  ASSERT_TRUE(f.sink.WaitUntilHolding());
  EXPECT_GT(f.ClaimsAfter(300ms), 2);
  f.sink.Release();
  PipelineResult r = f.Finish(run);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.shards_committed, 20);
}

TEST(PipelineClaims, DroppedAndEmptyShardsLetTheReaderClaimOn) {
  // Every batch is empty; every third shard's claim is lost (dropped).
  Fixture f(12, /*fenced=*/true, 1, {0, 3, 6, 9});
  auto run = f.Start();
  PipelineResult r = f.Finish(run);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.shards_committed, 8);
  EXPECT_EQ(r.shards_dropped, 4);
  EXPECT_EQ(f.feed.claims(), 12);
  EXPECT_FALSE(r.interrupted);
}

TEST(PipelineClaims, AShardThatFailsToCommitEndsTheReadersWait) {
  Fixture f(20, /*fenced=*/true, 3);
  f.sink.Hold();
  auto run = f.Start();
  ASSERT_TRUE(f.sink.WaitUntilHolding());
  ASSERT_EQ(f.ClaimsAfter(100ms), 2);  // the reader waits for shard 0
  f.sink.Release(/*fail=*/true);       // which never finishes
  PipelineResult r = f.Finish(run);
  EXPECT_EQ(r.status.code(), Code::kFailed) << r.status.ToString();
  EXPECT_EQ(r.shards_committed, 0);
  EXPECT_EQ(f.feed.claims(), 2);
}

TEST(PipelineClaims, AStopEndsTheReadersWait) {
  Fixture f(20, /*fenced=*/true, 3);
  f.sink.Hold();
  auto run = f.Start();
  ASSERT_TRUE(f.sink.WaitUntilHolding());
  ASSERT_EQ(f.ClaimsAfter(100ms), 2);
  f.pipeline->RequestStop();
  std::this_thread::sleep_for(50ms);
  f.sink.Release();
  PipelineResult r = f.Finish(run);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(f.feed.claims(), 2);
  EXPECT_LE(r.shards_committed, 2);
}

}  // namespace
}  // namespace nightshift::exec
