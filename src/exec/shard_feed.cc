#include "exec/shard_feed.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "exec/shard_tasks.h"

namespace nightshift::exec {
ListFeed::ListFeed(std::vector<ShardTask> tasks) : tasks_(std::move(tasks)) {
  for (size_t i = 0; i < tasks_.size(); ++i) tasks_[i].shard_index = static_cast<int64_t>(i);
}

Result<std::vector<ShardTask>> ListFeed::Next(std::stop_token) {
  if (handed_out_) return std::vector<ShardTask>();
  handed_out_ = true;
  return tasks_;
}

const ShardTask& ListFeed::Get(int64_t shard_index) const {
  return tasks_.at(static_cast<size_t>(shard_index));
}

ShardFeed::ShardFeed(ShardFeedOptions options)
    : options_(std::move(options)), shared_(options_.ledger->shared()) {}

Result<std::unique_ptr<ShardFeed>> ShardFeed::Start(ShardFeedOptions options) {
  if (options.env == nullptr) options.env = Env::Default();
  std::unique_ptr<ShardFeed> feed(new ShardFeed(std::move(options)));
  Ledger* ledger = feed->options_.ledger;
  const std::string& run_id = feed->options_.run_id;
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run_id));
  NS_ASSIGN_OR_RETURN(feed->files_, ledger->ListFiles(run_id));
  for (const ShardRecord& s : shards) {
    int64_t& end = feed->file_end_[s.file_index];
    end = std::max(end, s.row_end);
    if (s.state == ShardState::kCommitted) {
      feed->rows_committed_at_start_ += s.row_end - s.row_begin;
    } else {
      ++feed->shards_open_at_start_;
    }
  }
  ShardFeed* self = feed.get();
  feed->heartbeat_ = std::jthread([self](std::stop_token stop) { self->Heartbeat(stop); });
  return feed;
}

ShardFeed::~ShardFeed() {
  StopHeartbeat();
}

void ShardFeed::StopHeartbeat() {
  heartbeat_.request_stop();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void ShardFeed::Heartbeat(std::stop_token stop) {
  const int64_t every_ms = std::max<int64_t>(1, options_.policy.lease_ms / 3);
  bool warned = false;
  while (options_.env->SleepUnlessStopped(every_ms * 1000, stop)) {
    Status s = options_.ledger->RenewLeases(options_.run_id, options_.me, options_.policy);
    // The fencing check before each publish protects the output; a lease
    // that lapses only costs the shard. Say so once, not every beat.
    if (!s.ok() && !warned) {
      std::fprintf(stderr, "nightshift: renewing shard leases failed (will keep trying): %s\n",
                   s.message().c_str());
    }
    warned = !s.ok();
  }
}

Result<std::optional<ShardTask>> ShardFeed::ClaimOne() {
  NS_ASSIGN_OR_RETURN(
      std::optional<ShardRecord> shard,
      options_.ledger->ClaimNextShard(options_.run_id, options_.me, options_.policy));
  if (!shard.has_value()) return std::optional<ShardTask>();
  auto end = file_end_.find(shard->file_index);
  ShardTask t =
      TaskForShard(*shard, files_, end != file_end_.end() && shard->row_end == end->second);
  t.epoch = shard->epoch;
  return std::optional<ShardTask>(std::move(t));
}

Result<std::vector<ShardTask>> ShardFeed::ClaimBatch() {
  std::vector<ShardTask> got;
  while (true) {
    NS_ASSIGN_OR_RETURN(std::optional<ShardTask> t, ClaimOne());
    if (!t.has_value()) break;
    got.push_back(std::move(*t));
    if (shared_) break;  // one at a time: the other workers take the rest
  }
  // The source reads in plan order (by file, then row): shard order.
  std::sort(got.begin(), got.end(),
            [](const ShardTask& a, const ShardTask& b) { return a.shard_id < b.shard_id; });
  return got;
}

Result<std::vector<ShardTask>> ShardFeed::Prime() {
  NS_ASSIGN_OR_RETURN(std::vector<ShardTask> got, ClaimBatch());
  std::lock_guard lock(mu_);
  primed_.insert(primed_.end(), got.begin(), got.end());
  claimed_once_ = true;
  return got;
}

Result<std::vector<ShardTask>> ShardFeed::Next(std::stop_token stop) {
  {
    std::lock_guard lock(mu_);
    if (!primed_.empty()) return HandOut(std::exchange(primed_, {}));
    // The SQLite ledger's one owner claimed everything at once.
    if (!shared_ && claimed_once_) return std::vector<ShardTask>();
    claimed_once_ = true;
  }
  while (!stop.stop_requested()) {
    NS_ASSIGN_OR_RETURN(std::vector<ShardTask> got, ClaimBatch());
    if (!got.empty()) {
      std::lock_guard lock(mu_);
      return HandOut(std::move(got));
    }
    bool dry = !shared_ || !options_.wait;
    if (!dry) {
      NS_ASSIGN_OR_RETURN(RunCounts counts, options_.ledger->Counts(options_.run_id));
      dry = counts.shards_committed >= counts.shards_total;
    }
    if (dry) {
      std::lock_guard lock(mu_);
      ran_dry_ = true;
      break;
    }
    if (!options_.env->SleepUnlessStopped(options_.poll_ms * 1000, stop)) break;
  }
  return std::vector<ShardTask>();
}

bool ShardFeed::drained() const {
  std::lock_guard lock(mu_);
  // The SQLite ledger's owner claims once; a shared feed runs dry.
  return shared_ ? ran_dry_ : claimed_once_ && primed_.empty();
}

std::vector<ShardTask> ShardFeed::HandOut(std::vector<ShardTask> tasks) {
  for (ShardTask& t : tasks) {
    t.shard_index = static_cast<int64_t>(tasks_.size());
    tasks_.push_back(t);
  }
  return tasks;
}

const ShardTask& ShardFeed::Get(int64_t shard_index) const {
  std::lock_guard lock(mu_);
  return tasks_.at(static_cast<size_t>(shard_index));
}

Status ShardFeed::CheckClaim(const ShardTask& task) {
  if (!shared_) return Status::Ok();  // one owner: nobody else can take a shard
  // The margin covers publishing after the check: the lease must outlast it.
  return options_.ledger->CheckClaim(options_.run_id, task.shard_id, task.epoch,
                                     options_.policy.lease_ms / 3);
}

std::vector<ShardTask> ShardFeed::Claimed() const {
  std::lock_guard lock(mu_);
  std::vector<ShardTask> all(tasks_.begin(), tasks_.end());
  all.insert(all.end(), primed_.begin(), primed_.end());
  return all;
}

}  // namespace nightshift::exec
