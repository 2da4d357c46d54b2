#include "exec/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "env/crash_point.h"
#include "exec/bounded_queue.h"
#include "exec/shard_committer.h"
#include "exec/shard_feed.h"
#include "nightshift/env.h"
#include "obs/run_observer.h"
#include "plan/input_identity.h"

namespace nightshift::exec {

using BatchPtr = std::unique_ptr<RowBatch>;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Keeps a shard's rows to the files the run was planned on: each file of a
// shard is checked (plan::CheckUnchanged) as its first batch comes out of the
// reader, and every file of the shard again with the shard's last batch,
// before the shard can commit. Reader thread only.
class InputGuard {
 public:
  explicit InputGuard(Source* source) : source_(source) {}
  // False (with status() set) when a file of the batch's shard changed.
  bool Check(const RowBatch& b) {
    if (b.shard_id != shard_) {
      shard_ = b.shard_id;
      seen_.clear();
    }
    if (std::find(seen_.begin(), seen_.end(), b.file_index) == seen_.end()) {
      seen_.push_back(b.file_index);
      if (!CheckFile(b.file_index)) return false;
    }
    if (!b.last_in_shard) return true;
    for (int32_t f : seen_) {
      if (!CheckFile(f)) return false;
    }
    return true;
  }
  const Status& status() const { return status_; }

  // A read that failed may have failed because a file changed under it (a
  // Parquet file replaced between its footer and its pages): then the change
  // is the reason to report, not the reader's complaint about the new bytes.
  Status Explain(Status read_error) {
    for (size_t f = 0; f < source_->files().size(); ++f) {
      if (!CheckFile(static_cast<int32_t>(f))) return status_;
    }
    return read_error;
  }

 private:
  bool CheckFile(int32_t file_index) {
    const auto& files = source_->files();
    if (file_index < 0 || static_cast<size_t>(file_index) >= files.size()) return true;
    status_ = plan::CheckUnchanged(source_->env(), files[static_cast<size_t>(file_index)]);
    return status_.ok();
  }

  Source* source_;
  int64_t shard_ = -1;
  std::vector<int32_t> seen_;  // files of the current shard
  Status status_;
};

// Runs `fn`, a step of thread `thread`: an exception that escaped it (a
// library that threw past its adapter) becomes an Internal error naming the
// thread instead of std::terminate.
Status Guarded(const char* thread, const std::function<Status()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status(Code::kInternal,
                  fmt::format("unexpected exception in the {} thread: {}", thread, e.what()));
  } catch (...) {
    return Status(Code::kInternal, fmt::format("unexpected exception in the {} thread", thread));
  }
}

// Batches beyond one per stage and queue, so that the model goes on scoring
// while the writer encodes a finished shard's file: for a light model that
// takes as long as scoring tens of batches, and with no room ahead the model
// stalls (10M rows, 8 features, batch 4096, 5 interleaved runs: 3.18 s wall
// with none, 2.26 s with 24). As many as fit in 64 MiB of the first batch's
// tensors (inputs and outputs: an embedding or a top_k over many items is
// large) and in 131,072 rows, at most 24. None for jobs with preprocess
// steps: their batches hold more than their tensors (a PDF's bytes, decoded
// pages), and their model or decoding, not the writer, is the slow stage.
// None with a shared ledger: a reader that far ahead claims the next shards
// early, and one worker would take what the run's other workers should.
constexpr size_t kMaxBatchesAhead = 24;
size_t BatchesAhead(const ReadLayout& layout, const TaskFeed& feed, const RowBatch& first) {
  if (layout.expander != nullptr || feed.fenced()) return 0;
  for (const InputPacking& in : layout.inputs) {
    if (in.filler != nullptr) return 0;
  }
  constexpr size_t kAheadBytes = size_t{64} << 20;
  size_t bytes = 1;
  for (const Tensor& t : first.inputs) bytes += t.ByteSize();
  for (const Tensor& t : first.outputs) bytes += t.ByteSize();
  // Rows ahead hold their carried columns too (not counted above): at most
  // about one default shard's worth.
  constexpr int64_t kAheadRows = 131072;
  const auto by_rows = static_cast<size_t>(kAheadRows / std::max<int64_t>(1, first.num_rows));
  return std::min({kMaxBatchesAhead, kAheadBytes / bytes, by_rows});
}

}  // namespace

struct Pipeline::Impl {
  Impl(const std::vector<Source*>& sources, size_t pool_capacity, size_t queue_capacity,
       size_t workers)
      : q_in(queue_capacity),
        q_out(queue_capacity),
        read_s(sources.size(), 0.0),
        read_waited(sources.size(), 0.0),
        model_s(workers, 0.0),
        workers_left(workers),
        readers_left(sources.size()) {
    for (Source* source : sources) {
      pools.push_back(std::make_unique<BoundedQueue<BatchPtr>>(pool_capacity));
      guards.emplace_back(source);
    }
  }
  Breaker breaker;  // shared by the workers
  // Free batches, one pool per reader: reader r reads the shards whose index
  // is r modulo the readers, and its batches come back to its pool, so a
  // reader never waits for batches that wait for its own shards.
  std::vector<std::unique_ptr<BoundedQueue<BatchPtr>>> pools;
  BoundedQueue<BatchPtr> q_in;              // read, waiting for the model
  BoundedQueue<BatchPtr> q_out;             // scored, waiting for the writer
  std::vector<InputGuard> guards;           // per reader
  std::mutex feed_mu;                       // the feed, handed_out, feed_done
  int64_t handed_out = 0;                   // shards the feed handed out
  bool feed_done = false;                   // the feed had no more
  std::atomic<bool> grown{false};           // the batches ahead were added to the pools
  std::vector<double> read_s, read_waited;  // per reader: busy and blocked seconds
  std::vector<double> model_s;              // per worker
  std::vector<int64_t> expected_last;       // per output, its last dimension (0: a list)
  std::atomic<size_t> workers_left, readers_left;
  std::mutex mu;
  Status fatal;  // first fatal error
  void Fail(Status s) {
    std::lock_guard<std::mutex> lock(mu);
    if (fatal.ok()) fatal = std::move(s);
  }
  bool failed() {
    std::lock_guard<std::mutex> lock(mu);
    return !fatal.ok();
  }
  BoundedQueue<BatchPtr>& PoolOf(const RowBatch& b) {
    return *pools[static_cast<size_t>(b.shard_index) % pools.size()];
  }
  void Recycle(BatchPtr b) {
    b->carried.reset();
    BoundedQueue<BatchPtr>& pool = PoolOf(*b);
    pool.Push(std::move(b));
  }
  void CloseAll() {
    for (auto& pool : pools) pool->Close();
    q_in.Close();
    q_out.Close();
  }
};

struct Pipeline::Lane {
  Lane(size_t index, size_t count, size_t capacity, ShardCommitter c)
      : queue(capacity),
        committer(std::move(c)),
        next_shard(static_cast<int64_t>(index)),
        step(static_cast<int64_t>(count)) {}
  BoundedQueue<BatchPtr> queue;  // from the calling thread (several writers only)
  ShardCommitter committer;
  std::map<std::pair<int64_t, int64_t>, BatchPtr> pending;  // (shard, seq) out of order
  int64_t next_shard, next_seq = 0;                         // the batch to write next
  const int64_t step;  // this writer's shards are next_shard + k * step
  double write_s = 0;  // busy seconds
};

namespace {
// One I/O thread per 4 cores from 8 cores up, at most 4.
int PerCores(unsigned cores) {
  constexpr unsigned kCoresPerThread = 4, kMaxChosen = 4;
  return cores < 2 * kCoresPerThread
             ? 1
             : static_cast<int>(std::min(kMaxChosen, cores / kCoresPerThread));
}
}  // namespace

int ChooseWriters(int requested, bool database_output, unsigned cores) {
  if (database_output) return 1;
  return requested > 0 ? requested : PerCores(cores);
}

int ChooseReaders(int requested, unsigned cores) {
  return requested > 0 ? requested : PerCores(cores);
}

Pipeline::Pipeline(PipelineConfig config) : config_(std::move(config)) {}

void Pipeline::RequestStop() {
  stop_.store(true);
  reading_.request_stop();
  if (config_.source != nullptr) config_.source->Interrupt();
  for (Source* source : config_.more_sources) source->Interrupt();
}

void Pipeline::CancelInFlight() {
  RequestStop();
  cancel_.request_stop();
}

void Pipeline::Abort(Impl& impl, Status s) {
  impl.Fail(std::move(s));
  RequestStop();
  impl.CloseAll();
}

PipelineResult Pipeline::Run() {
  const size_t workers = config_.instances.size();
  if (config_.env == nullptr) config_.env = Env::Default();
  std::vector<Source*> sources = {config_.source};
  sources.insert(sources.end(), config_.more_sources.begin(), config_.more_sources.end());
  // Enough batches for every stage to hold one and the queues to buffer one
  // each, and once the first batch's size is known, small batches ahead
  // (BatchesAhead, added by the writer); this is the pipeline's memory bound.
  // Each writer past the first may hold a batch and wait for the next; each
  // reader has a pool of its own. The queues hold every batch.
  const size_t writers = static_cast<size_t>(std::max(1, config_.writers));
  const size_t pool_size = 2 * workers + 4 + 2 * (writers - 1);
  const size_t all_batches = sources.size() * pool_size + kMaxBatchesAhead;
  Impl impl(sources, pool_size + kMaxBatchesAhead, all_batches, workers);
  for (auto& pool : impl.pools) {
    for (size_t i = 0; i < pool_size; ++i) pool->Push(std::make_unique<RowBatch>());
  }
  // Once stopping, a reader waiting for a free batch must not wait for ever:
  // with several readers the writer may hold all of one reader's batches,
  // waiting in shard order for a batch of another reader's shard that was
  // cancelled (or never read). Closed, its pool hands out what it holds,
  // then the reader's next batch is refused by the stopped queue.
  std::stop_callback wake_readers(reading_.get_token(), [&impl] {
    for (auto& pool : impl.pools) pool->Close();
  });
  impl.expected_last.assign(config_.output_names.size(), -1);
  for (const auto& c : config_.output_columns) {
    if (c.item_number || c.kept_image) continue;  // from the batch, not a tensor
    auto& e = impl.expected_last[static_cast<size_t>(c.output_index)];
    if (!c.is_list) e = std::max<int64_t>(e, c.element + 1);
  }
  CommitSection section(config_.failed_before);
  std::vector<std::unique_ptr<Lane>> lanes;
  for (size_t i = 0; i < writers; ++i) {
    lanes.push_back(std::make_unique<Lane>(
        i, writers, all_batches, ShardCommitter(config_, on_commit, &rows_done_, &section)));
  }

  const double started = Now();
  std::vector<std::thread> threads;
  for (size_t r = 0; r < sources.size(); ++r) {
    threads.emplace_back([&, r] { ReadLoop(impl, r, sources[r]); });
  }
  for (size_t w = 0; w < workers; ++w) threads.emplace_back([&, w] { WorkLoop(impl, w); });
  WriteLoop(impl, lanes);
  for (auto& pool : impl.pools) pool->Close();
  for (auto& t : threads) t.join();
  return Collect(impl, lanes, Now() - started);
}

PipelineResult Pipeline::Collect(Impl& impl, const std::vector<std::unique_ptr<Lane>>& lanes,
                                 double wall) {
  PipelineResult result;
  result.stages.wall = wall;
  for (size_t r = 0; r < impl.read_s.size(); ++r) {
    result.stages.read += impl.read_s[r] - impl.read_waited[r];
  }
  result.stages.readers = static_cast<int>(impl.read_s.size());
  result.stages.workers = static_cast<int>(impl.model_s.size());
  result.stages.writers = static_cast<int>(lanes.size());
  for (double m : impl.model_s) result.stages.model += m;
  result.status = impl.fatal;
  for (const auto& lane : lanes) {
    const ShardCommitter& c = lane->committer;
    result.stages.write += lane->write_s;
    result.shards_committed += c.shards_committed();
    result.shards_dropped += c.shards_dropped();
    result.rows_written += c.rows_written();
    result.rows_failed += c.rows_failed();
  }
  // Stopped before the work ran out: interrupted, even if what was read all
  // committed.
  const bool all_done =
      config_.feed->drained() && result.shards_committed + result.shards_dropped == impl.handed_out;
  result.interrupted = result.status.ok() && stop_.load() && !all_done;
  return result;
}

// A reader thread: takes its shards from the feed until it runs dry, and
// reads them into batches.
void Pipeline::ReadLoop(Impl& impl, size_t reader, Source* source) {
  const double t0 = Now();
  int64_t next = static_cast<int64_t>(reader);
  Status s;
  while (s.ok() && !stop_.load()) {
    Result<std::vector<ShardTask>> tasks = NextTasks(impl, &next);
    if (!tasks.has_value()) {
      s = tasks.error();
      break;
    }
    if (tasks->empty()) break;
    s = ReadShards(impl, reader, source, *tasks);
  }
  impl.read_s[reader] = Now() - t0;
  if (!s.ok() && !stop_.load()) Abort(impl, s);
  if (--impl.readers_left == 0) impl.q_in.Close();
}

// With one reader: whatever the feed hands out next. With R: the shard at
// index *next (then *next + R), taking more from the feed, for every reader,
// until there is one or the feed runs dry.
Result<std::vector<ShardTask>> Pipeline::NextTasks(Impl& impl, int64_t* next) {
  std::lock_guard<std::mutex> lock(impl.feed_mu);
  const auto readers = static_cast<int64_t>(impl.pools.size());
  if (readers == 1) {
    Result<std::vector<ShardTask>> tasks = config_.feed->Next(reading_.get_token());
    if (tasks.has_value()) impl.handed_out += static_cast<int64_t>(tasks->size());
    return tasks;
  }
  while (*next >= impl.handed_out && !impl.feed_done) {
    NS_ASSIGN_OR_RETURN(std::vector<ShardTask> tasks, config_.feed->Next(reading_.get_token()));
    impl.feed_done = tasks.empty();
    impl.handed_out += static_cast<int64_t>(tasks.size());
  }
  if (*next >= impl.handed_out) return std::vector<ShardTask>{};
  std::vector<ShardTask> one = {config_.feed->Get(*next)};
  *next += readers;
  return one;
}

Status Pipeline::ReadShards(Impl& impl, size_t reader, Source* source,
                            const std::vector<ShardTask>& tasks) {
  auto timed = [&impl, reader](auto&& fn) {  // blocked on the pool or the queue: not reading
    double t0 = Now();
    auto r = fn();
    impl.read_waited[reader] += Now() - t0;
    return r;
  };
  BoundedQueue<BatchPtr>& pool = *impl.pools[reader];
  InputGuard& guard = impl.guards[reader];
  Status s = Guarded("reader", [&] {
    return source->Read(
        config_.layout, tasks,
        [&]() -> BatchPtr {
          auto b = timed([&] { return pool.Pop(); });
          return b ? std::move(*b) : std::make_unique<RowBatch>();
        },
        [&](BatchPtr b) {
          MaybeThrow("reader");
          return !stop_.load() && guard.Check(*b) &&
                 timed([&] { return impl.q_in.Push(std::move(b)); });
        });
  });
  return s.ok() ? guard.status() : guard.Explain(s);
}

// A model worker thread: scores batches until the input queue closes.
void Pipeline::WorkLoop(Impl& impl, size_t worker) {
  BatchRunnerOptions ro;
  ro.max_retries = config_.errors.max_retries;
  ro.timeout_s = config_.errors.batch_timeout_s;
  ro.expected_last_dims = impl.expected_last;
  ro.top_k = &config_.top_k;
  ro.ocr = &config_.ocr;
  ro.breaker = &impl.breaker;
  ro.cancel = cancel_.get_token();
  ro.env = config_.env;
  ro.observer = config_.observer;
  BatchRunner runner(std::move(config_.instances[worker]), ro);
  while (auto b = impl.q_in.Pop()) {
    if (impl.failed()) continue;  // drain
    const double t0 = Now();
    Status s = Guarded("model worker", [&] {
      MaybeThrow("model");
      // An empty batch only marks the end of its shard.
      return (*b)->num_rows == 0 ? Status::Ok() : runner.Run(b->get());
    });
    impl.model_s[worker] += Now() - t0;
    if (config_.observer != nullptr && s.ok() && (*b)->num_rows > 0)
      config_.observer->OnBatch(Now() - t0, (*b)->num_rows);
    if (s.code() == Code::kInterrupted && stop_.load()) {
      // Cancelled while stopping: the batch is incomplete; its shard will
      // not commit and is run again on resume.
      impl.Recycle(std::move(*b));
      continue;
    }
    if (!s.ok()) {
      Abort(impl, s.WithContext(fmt::format("shard {} rows {}..{}", (*b)->shard_id, (*b)->first_row,
                                            (*b)->first_row + (*b)->num_rows)));
      continue;
    }
    if (!impl.q_out.Push(std::move(*b))) break;
  }
  if (--impl.workers_left == 0) impl.q_out.Close();
}

// The writers: with one, the calling thread itself; with several, one thread
// each, and the calling thread hands every batch to its shard's writer. A
// writer's queue holds the whole pool, so handing out never blocks.
void Pipeline::WriteLoop(Impl& impl, std::vector<std::unique_ptr<Lane>>& lanes) {
  if (lanes.size() == 1) return LaneLoop(impl, *lanes[0], impl.q_out);
  std::vector<std::thread> threads;
  for (auto& lane : lanes) {
    threads.emplace_back([&, l = lane.get()] { LaneLoop(impl, *l, l->queue); });
  }
  while (auto b = impl.q_out.Pop()) {
    Lane& lane = *lanes[static_cast<size_t>((*b)->shard_index) % lanes.size()];
    lane.queue.Push(std::move(*b));
  }
  for (auto& lane : lanes) lane->queue.Close();
  for (auto& t : threads) t.join();
}

// One writer: takes its batches from `in`, restores (shard, batch) order and
// hands each batch in turn to its committer.
void Pipeline::LaneLoop(Impl& impl, Lane& lane, BoundedQueue<BatchPtr>& in) {
  while (auto b = in.Pop()) {
    if (impl.failed()) {
      impl.Recycle(std::move(*b));
      continue;
    }
    if (!impl.grown.exchange(true)) {
      for (size_t i = BatchesAhead(config_.layout, *config_.feed, **b); i > 0; --i)
        impl.pools[i % impl.pools.size()]->Push(std::make_unique<RowBatch>());
    }
    lane.pending.emplace(std::make_pair((*b)->shard_index, (*b)->seq), std::move(*b));
    if (Status s = WriteReady(impl, lane); !s.ok()) Abort(impl, s);
  }
  lane.committer.Abandon();  // an unfinished shard is abandoned: its temp files go
  for (auto& [k, b] : lane.pending) b->carried.reset();
}

// Writes the lane's pending batches that are next in order.
Status Pipeline::WriteReady(Impl& impl, Lane& lane) {
  for (auto it = lane.pending.find({lane.next_shard, lane.next_seq}); it != lane.pending.end();
       it = lane.pending.find({lane.next_shard, lane.next_seq})) {
    BatchPtr cur = std::move(it->second);
    lane.pending.erase(it);
    const bool last = cur->last_in_shard;
    const double t0 = Now();
    Status s = Guarded("writer", [&] {
      MaybeThrow("writer");
      return lane.committer.Write(*cur);
    });
    lane.write_s += Now() - t0;
    impl.Recycle(std::move(cur));
    if (!s.ok()) return s;
    lane.next_seq = last ? 0 : lane.next_seq + 1;
    lane.next_shard += last ? lane.step : 0;
  }
  return Status::Ok();
}

}  // namespace nightshift::exec
