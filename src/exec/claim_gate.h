// ClaimGate: how far the pipeline's reader may claim ahead of its writer, in
// shards.
//
// With a fenced feed (a shared PostgreSQL ledger, many worker processes)
// every TaskFeed::Next() claims a shard, so a reader running ahead of the
// writer holds shards the run's other workers could be scoring. The batches
// ahead of the writer (pipeline.cc, BatchesAhead: up to 24 beyond one per
// stage and queue) hold several small shards, and bounded by them alone one
// worker took a whole 4-shard run before the others had started (CI's
// test_four_workers_share_a_run_and_complete_it_once). So the reader claims
// only while at most kFencedUnfinished (1) shard it was handed is unfinished
// (neither committed nor dropped by the writer): the worker then holds at
// most two shards, the one the writer encodes and commits and the one being
// read and scored meanwhile. That overlap is what batches ahead are for;
// they hold at most 131,072 rows, one default shard, so a second shard ahead
// would only be claimed early, not scored sooner.
//
// Without fencing (the SQLite ledger's one owner claimed every shard before
// the pipeline started; `retry` reads a fixed list) the gate never waits.
//
// A wait ends when the writer finishes a shard, when the reader's stop token
// is requested (RequestStop, Abort) or when the gate is closed (the writer
// left: failed, or done). Every shard handed out ends in a last batch, empty
// shards too, and the writer finishes it or the run stops, so a wait cannot
// outlive the run.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stop_token>

namespace nightshift::exec {

class TaskFeed;

class ClaimGate {
 public:
  static constexpr int64_t kFencedUnfinished = 1;
  static constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

  // For the reader of `feed`: kFencedUnfinished when it is fenced, else
  // unbounded.
  explicit ClaimGate(const TaskFeed& feed);
  // Claims only while at most `max_unfinished` shards are unfinished.
  explicit ClaimGate(int64_t max_unfinished) : max_unfinished_(max_unfinished) {}
  ClaimGate(const ClaimGate&) = delete;
  ClaimGate& operator=(const ClaimGate&) = delete;

  // Reader: blocks until another claim is allowed (true), or until `stop` is
  // requested or the gate is closed (false: claim nothing more).
  bool WaitToClaim(std::stop_token stop);
  // Reader: the feed handed out `n` more shards.
  void HandedOut(int64_t n);
  // Writer: it finished the oldest unfinished shard (committed or dropped).
  void Finished();
  // Ends every wait, now and later (the writer is gone).
  void Close();

  int64_t handed_out() const;
  int64_t unfinished() const;

 private:
  const int64_t max_unfinished_;
  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  int64_t handed_out_ = 0;
  int64_t finished_ = 0;
  bool closed_ = false;
};

}  // namespace nightshift::exec
