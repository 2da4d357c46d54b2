// Feeds: where the pipeline's reader gets the shards it reads.
//
// A TaskFeed hands out ShardTasks in read order, with consecutive
// shard_index values, and keeps every task it handed out where the writer can
// look it up by shard_index. ListFeed serves a fixed list (`retry`); ShardFeed
// claims shards from the Ledger for `run` (docs/scale-out.md):
//
//  - with the SQLite ledger one process owns the run, so ShardFeed claims
//    every claimable shard in one go and hands them out in shard order: a CSV
//    or JSONL file is then streamed once, front to back;
//  - with a shared ledger (Ledger::shared(), many worker processes) it claims
//    one shard at a time, preferring shard % workers == worker index, so that
//    the other workers can take the rest. A non-seekable format (CSV, JSONL,
//    a query) is then read from the file's start for every shard.
//
// While a ShardFeed exists, a heartbeat thread renews its leases every third
// of the lease (Ledger::RenewLeases); its sleeps and clock go through Env.
// Before a shard's output is published the writer asks CheckClaim: with a
// shared ledger a lost claim (stale epoch or lease too short) is kConflict,
// and the shard is dropped, never published.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/ledger.h"
#include "nightshift/source.h"

namespace nightshift::exec {

class TaskFeed {
 public:
  virtual ~TaskFeed() = default;
  // The next tasks to read, sorted by file then row, with shard_index values
  // following those handed out before. Empty when there is no more work, or
  // when `stop` was requested while waiting for some.
  virtual Result<std::vector<ShardTask>> Next(std::stop_token stop) = 0;
  // A task Next() handed out. Thread-safe; the reference stays valid while
  // the feed exists.
  virtual const ShardTask& Get(int64_t shard_index) const = 0;
  // Fencing before the output of `task` is published: OK, or kConflict when
  // its claim was lost (the caller drops the shard and carries on).
  virtual Status CheckClaim(const ShardTask& task) = 0;
  // True when a commit refused with kConflict means the claim was lost to
  // another worker (drop the shard) rather than a fatal error.
  virtual bool fenced() const = 0;
  // True once the feed knows no more work will come (not merely stopped):
  // the pipeline stopped after its last shard still counts as done.
  virtual bool drained() const = 0;
};

// A fixed list of tasks, handed out at once; shard_index is set to the
// position in the list.
class ListFeed final : public TaskFeed {
 public:
  explicit ListFeed(std::vector<ShardTask> tasks);
  Result<std::vector<ShardTask>> Next(std::stop_token stop) override;
  const ShardTask& Get(int64_t shard_index) const override;
  Status CheckClaim(const ShardTask&) override { return Status::Ok(); }
  bool fenced() const override { return false; }
  bool drained() const override { return handed_out_; }

 private:
  std::vector<ShardTask> tasks_;
  bool handed_out_ = false;
};

struct ShardFeedOptions {
  Ledger* ledger = nullptr;
  std::string run_id;
  RunOwner me;  // this process (exec::ThisProcess)
  ClaimPolicy policy;
  Env* env = nullptr;  // sleeps and clock; nullptr: Env::Default()
  // Shared ledger only: when nothing is claimable, poll every poll_ms until
  // every shard is committed (claiming shards whose leases expired meanwhile)
  // instead of ending the feed (`run --wait`).
  bool wait = false;
  int64_t poll_ms = 1000;
};

class ShardFeed final : public TaskFeed {
 public:
  // Reads the run's plan (its shards and files, once) and starts the lease
  // heartbeat. REQUIRES: `options.ledger` outlives the feed.
  static Result<std::unique_ptr<ShardFeed>> Start(ShardFeedOptions options);
  ShardFeed(const ShardFeed&) = delete;
  ShardFeed& operator=(const ShardFeed&) = delete;
  // Stops and joins the heartbeat.
  ~ShardFeed() override;

  // Claims ahead of the pipeline (every claimable shard for the SQLite
  // ledger, one for a shared one); Next() hands these out first. Returns
  // them: the first is what batch.size auto probes on.
  Result<std::vector<ShardTask>> Prime();

  Result<std::vector<ShardTask>> Next(std::stop_token stop) override;
  const ShardTask& Get(int64_t shard_index) const override;
  Status CheckClaim(const ShardTask& task) override;
  bool fenced() const override { return shared_; }
  bool drained() const override;

  // Every task claimed so far (for recording an unfinished run).
  std::vector<ShardTask> Claimed() const;
  // Of the plan when the feed started: rows of committed shards, and the
  // number of shards not committed.
  int64_t rows_committed_at_start() const { return rows_committed_at_start_; }
  int64_t shards_open_at_start() const { return shards_open_at_start_; }
  // Stops the heartbeat (idempotent; the destructor calls it).
  void StopHeartbeat();

 private:
  explicit ShardFeed(ShardFeedOptions options);
  // One claim: nullopt when nothing is claimable now.
  Result<std::optional<ShardTask>> ClaimOne();
  Result<std::vector<ShardTask>> ClaimBatch();
  // Appends `tasks` to the handed-out list, numbering them. REQUIRES: mu_ held.
  std::vector<ShardTask> HandOut(std::vector<ShardTask> tasks);
  void Heartbeat(std::stop_token stop);

  const ShardFeedOptions options_;
  const bool shared_;
  std::vector<InputFileRecord> files_;
  std::map<int32_t, int64_t> file_end_;  // per file, the end of its last shard
  int64_t rows_committed_at_start_ = 0;
  int64_t shards_open_at_start_ = 0;
  mutable std::mutex mu_;          // guards the three below
  std::vector<ShardTask> primed_;  // claimed by Prime(), not handed out yet
  bool claimed_once_ = false;      // Prime() or Next() has claimed
  bool ran_dry_ = false;           // shared: Next() found nothing left to claim
  std::deque<ShardTask> tasks_;    // handed out, by shard_index (stable references)
  std::jthread heartbeat_;
};

}  // namespace nightshift::exec
