#include "exec/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "env/crash_point.h"
#include "exec/backoff.h"
#include "exec/bounded_queue.h"
#include "nightshift/env.h"
#include "obs/run_observer.h"
#include "plan/input_identity.h"

namespace nightshift::exec {

using BatchPtr = std::unique_ptr<RowBatch>;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `fn` until it succeeds, fails with an error that is not an I/O or
// transient one, or has failed `max_retries` + 1 times, with the engine's
// backoff between tries. Not cut short by a cancel: publishing and committing
// a shard are bounded (max_retries backoffs of at most 5 s each).
Status RetryIo(Env* env, int max_retries, const std::function<Status()>& fn) {
  constexpr int64_t kBaseUs = 50000;
  for (int attempt = 0;; ++attempt) {
    Status s = fn();
    bool retryable = s.code() == Code::kIoError || s.code() == Code::kTransient;
    if (s.ok() || !retryable || attempt >= max_retries) return s;
    SleepBackoff(env, attempt, kBaseUs, std::stop_token{});
  }
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

}  // namespace

struct Pipeline::Impl {
  explicit Impl(size_t pool_size) : pool(pool_size), q_in(pool_size), q_out(pool_size) {}
  Breaker breaker;               // shared by the workers
  BoundedQueue<BatchPtr> pool;   // free batches
  BoundedQueue<BatchPtr> q_in;   // read, waiting for the model
  BoundedQueue<BatchPtr> q_out;  // scored, waiting for the writer
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
};

Pipeline::Pipeline(PipelineConfig config) : config_(std::move(config)) {}

void Pipeline::RequestStop() {
  stop_.store(true);
  if (config_.source != nullptr) config_.source->Interrupt();
}

void Pipeline::CancelInFlight() {
  RequestStop();
  cancel_.request_stop();
}

PipelineResult Pipeline::Run() {
  const size_t workers = config_.instances.size();
  // Enough batches for every stage to hold one and the queues to buffer one
  // each; this is the pipeline's memory bound.
  if (config_.env == nullptr) config_.env = Env::Default();
  Impl impl(2 * workers + 4);
  for (size_t i = 0; i < 2 * workers + 4; ++i) impl.pool.Push(std::make_unique<RowBatch>());
  auto abort_all = [&](Status s) {
    impl.Fail(std::move(s));
    stop_.store(true);
    config_.source->Interrupt();
    impl.pool.Close();
    impl.q_in.Close();
    impl.q_out.Close();
  };

  const double started = Now();
  double read_s = 0, write_s = 0;
  std::vector<double> model_s(workers, 0.0);
  std::thread reader([&] {
    double waited = 0;  // blocked on the pool or the queue: not reading
    auto timed = [&waited](auto&& fn) {
      double t0 = Now();
      auto r = fn();
      waited += Now() - t0;
      return r;
    };
    const double t0 = Now();
    InputGuard guard(config_.source);
    Status s = Guarded("reader", [&] {
      return config_.source->Read(
          config_.layout, config_.shards,
          [&]() -> BatchPtr {
            auto b = timed([&] { return impl.pool.Pop(); });
            return b ? std::move(*b) : std::make_unique<RowBatch>();
          },
          [&](BatchPtr b) {
            MaybeThrow("reader");
            return !stop_.load() && guard.Check(*b) &&
                   timed([&] { return impl.q_in.Push(std::move(b)); });
          });
    });
    s = s.ok() ? guard.status() : guard.Explain(s);
    read_s = Now() - t0 - waited;
    if (!s.ok() && !stop_.load()) abort_all(s);
    impl.q_in.Close();
  });

  std::vector<int64_t> expected_last(config_.output_names.size(), -1);
  for (const auto& c : config_.output_columns) {
    auto& e = expected_last[static_cast<size_t>(c.output_index)];
    if (!c.is_list) e = std::max<int64_t>(e, c.element + 1);
  }
  std::atomic<size_t> workers_left{workers};
  std::vector<std::thread> worker_threads;
  for (size_t w = 0; w < workers; ++w) {
    worker_threads.emplace_back([&, w] {
      BatchRunnerOptions ro;
      ro.max_retries = config_.errors.max_retries;
      ro.timeout_s = config_.errors.batch_timeout_s;
      ro.expected_last_dims = expected_last;
      ro.breaker = &impl.breaker;
      ro.cancel = cancel_.get_token();
      ro.env = config_.env;
      ro.observer = config_.observer;
      BatchRunner runner(std::move(config_.instances[w]), ro);
      while (auto b = impl.q_in.Pop()) {
        if (impl.failed()) continue;  // drain
        // An empty batch only marks the end of its shard.
        const double t0 = Now();
        Status s = Guarded("model worker", [&] {
          MaybeThrow("model");
          return (*b)->num_rows == 0 ? Status::Ok() : runner.Run(b->get());
        });
        model_s[w] += Now() - t0;
        if (config_.observer != nullptr && s.ok() && (*b)->num_rows > 0)
          config_.observer->OnBatch(Now() - t0, (*b)->num_rows);
        if (s.code() == Code::kInterrupted && stop_.load()) {
          // Cancelled while stopping: the batch is incomplete; its shard will
          // not commit and is run again on resume.
          impl.pool.Push(std::move(*b));
          continue;
        }
        if (!s.ok()) {
          abort_all(s.WithContext(fmt::format("shard {} rows {}..{}", (*b)->shard_id,
                                              (*b)->first_row, (*b)->first_row + (*b)->num_rows)));
          continue;
        }
        if (!impl.q_out.Push(std::move(*b))) break;
      }
      if (--workers_left == 0) impl.q_out.Close();
    });
  }

  // The writer: restores order, appends, commits each complete shard.
  PipelineResult result;
  std::map<std::pair<int64_t, int64_t>, BatchPtr> pending;
  int64_t next_shard = 0, next_seq = 0;
  std::unique_ptr<ShardWriter> writer;
  int64_t failed_total = config_.failed_before;
  auto recycle = [&](BatchPtr b) {
    b->carried.reset();
    impl.pool.Push(std::move(b));
  };
  auto process = [&](RowBatch& b) -> Status {
    const ShardTask& task = config_.shards[static_cast<size_t>(b.shard_index)];
    if (!writer) {
      NS_ASSIGN_OR_RETURN(writer,
                          config_.sink->BeginShard(task.shard_id, task.epoch, task.retry_seq));
    }
    NS_RETURN_IF_ERROR(writer->Append(b));
    rows_done_.fetch_add(b.num_rows);
    if (!b.last_in_shard) return Status::Ok();
    // Publishing and committing retry I/O hiccups with backoff; both are
    // idempotent (the same file under the same name; the same epoch).
    ShardOutput out;
    NS_RETURN_IF_ERROR(RetryIo(config_.env, config_.errors.max_retries, [&]() -> Status {
      auto r = writer->Finish();
      if (!r.has_value()) return r.error();
      out = std::move(*r);
      return Status::Ok();
    }));
    writer.reset();
    MaybeCrash("after_publish");
    NS_RETURN_IF_ERROR(RetryIo(config_.env, config_.errors.max_retries,
                               [&] { return config_.commit(task, out); }));
    MaybeCrash("after_commit");
    result.shards_committed++;
    result.rows_written += out.rows_written;
    result.rows_failed += static_cast<int64_t>(out.failures.size());
    failed_total += static_cast<int64_t>(out.failures.size());
    if (on_commit)
      on_commit(task.shard_id, out.rows_written, static_cast<int64_t>(out.failures.size()));
    if (config_.failure_limit >= 0 && failed_total > config_.failure_limit) {
      return Status(Code::kFailed,
                    fmt::format("{} items failed, more than errors.max_failed_items allows ({})",
                                failed_total, config_.failure_limit));
    }
    return Status::Ok();
  };
  while (auto b = impl.q_out.Pop()) {
    if (impl.failed()) {
      recycle(std::move(*b));
      continue;
    }
    pending.emplace(std::make_pair((*b)->shard_index, (*b)->seq), std::move(*b));
    for (auto it = pending.find({next_shard, next_seq}); it != pending.end();
         it = pending.find({next_shard, next_seq})) {
      BatchPtr cur = std::move(it->second);
      pending.erase(it);
      bool last = cur->last_in_shard;
      const double t0 = Now();
      Status s = Guarded("writer", [&] {
        MaybeThrow("writer");
        return process(*cur);
      });
      write_s += Now() - t0;
      recycle(std::move(cur));
      if (!s.ok()) {
        abort_all(s);
        break;
      }
      if (last) {
        ++next_shard;
        next_seq = 0;
      } else {
        ++next_seq;
      }
    }
  }
  writer.reset();  // an unfinished shard is abandoned: its temp files go
  for (auto& [k, b] : pending) b->carried.reset();
  pending.clear();
  impl.pool.Close();
  reader.join();
  for (auto& t : worker_threads) t.join();
  result.stages.wall = Now() - started;
  result.stages.read = read_s;
  result.stages.write = write_s;
  result.stages.workers = static_cast<int>(workers);
  for (double m : model_s) result.stages.model += m;
  result.status = impl.fatal;
  result.interrupted = result.status.ok() && stop_.load() &&
                       result.shards_committed < static_cast<int64_t>(config_.shards.size());
  return result;
}

}  // namespace nightshift::exec
