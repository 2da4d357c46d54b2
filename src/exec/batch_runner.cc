#include "exec/batch_runner.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "nightshift/env.h"

namespace nightshift::exec {

std::atomic<int> g_abandoned_executors{0};

namespace {

constexpr int kSuccessesBeforeGrowth = 32;

std::vector<int64_t> WithRows(const std::vector<int64_t>& shape, int64_t rows) {
  std::vector<int64_t> s = shape;
  if (!s.empty()) s[0] = rows;
  return s;
}

int64_t RowBytes(const Tensor& t) {
  return t.shape().empty() || t.shape()[0] == 0 ? 0
                                                : static_cast<int64_t>(t.ByteSize()) / t.shape()[0];
}

}  // namespace

// One thread that runs Execute calls for a runner, so that the runner can
// stop waiting for a call that hangs. A task owns copies of its inputs and its
// outputs: an abandoned call may go on touching them after the batch is gone.
struct BatchRunner::Executor {
  struct Task {
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;
    Status status;
    bool done = false;
  };

  explicit Executor(std::shared_ptr<ModelInstance> instance) : instance(std::move(instance)) {}

  // Starts the thread; it holds a reference to this executor.
  static std::shared_ptr<Executor> Start(std::shared_ptr<ModelInstance> instance) {
    auto e = std::make_shared<Executor>(std::move(instance));
    e->thread = std::thread([e] { e->Loop(); });
    return e;
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || (task && !task->done); });
      if (stop) return;
      auto t = task;
      lock.unlock();
      Status s = instance->Execute(t->inputs, &t->outputs);
      lock.lock();
      t->status = std::move(s);
      t->done = true;
      cv.notify_all();
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
      cv.notify_all();
    }
    if (thread.joinable()) thread.join();
  }

  std::shared_ptr<ModelInstance> instance;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<Task> task;
  bool stop = false;
};

BatchRunner::BatchRunner(std::unique_ptr<ModelInstance> instance, InstanceFactory factory,
                         BatchRunnerOptions options)
    : instance_(std::move(instance)), factory_(std::move(factory)), options_(std::move(options)) {
  if (options_.timeout_s > 0) executor_ = Executor::Start(instance_);
}

BatchRunner::~BatchRunner() {
  if (executor_) executor_->Stop();
}

Status BatchRunner::ExecuteOnce(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  if (!executor_) return instance_->Execute(inputs, outputs);
  auto task = std::make_shared<Executor::Task>();
  for (const Tensor& t : inputs) {
    Tensor copy = Tensor::Allocate(t.dtype(), t.shape());
    std::memcpy(copy.data(), t.data(), t.ByteSize());
    task->inputs.push_back(std::move(copy));
  }
  std::unique_lock<std::mutex> lock(executor_->mu);
  executor_->task = task;
  executor_->cv.notify_all();
  bool finished = executor_->cv.wait_for(lock, std::chrono::duration<double>(options_.timeout_s),
                                         [&] { return task->done; });
  if (finished) {
    *outputs = std::move(task->outputs);
    return task->status;
  }
  lock.unlock();
  // Abandon the stuck call with its instance and thread; start afresh.
  {
    std::lock_guard<std::mutex> l(executor_->mu);
    executor_->stop = true;  // it exits after the stuck call returns, if ever
  }
  executor_->thread.detach();
  g_abandoned_executors.fetch_add(1);
  auto fresh = factory_();
  if (!fresh.has_value())
    return fresh.error().WithContext("recreating the model instance after a timeout");
  instance_ = std::shared_ptr<ModelInstance>(std::move(*fresh));
  executor_ = Executor::Start(instance_);
  return Status(
      Code::kTimeout,
      fmt::format("the batch ran longer than errors.batch_timeout ({:g}s); the model instance was "
                  "abandoned and recreated",
                  options_.timeout_s));
}

Status BatchRunner::CheckOutputs(const std::vector<Tensor>& outputs, int64_t rows) const {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& shape = outputs[i].shape();
    if (shape.empty() || shape[0] != rows) {
      return Status(Code::kModelError,
                    fmt::format("the model returned output {} with shape {} for a batch of {} rows",
                                i, outputs[i].DebugString(), rows));
    }
    if (i < options_.expected_last_dims.size() && options_.expected_last_dims[i] >= 0) {
      int64_t last = shape.size() > 1 ? shape.back() : 1;
      if (last != options_.expected_last_dims[i]) {
        return Status(
            Code::kSchemaMismatch,
            fmt::format("the model returned output {} as {} but the job maps it to {} column(s)", i,
                        outputs[i].DebugString(), options_.expected_last_dims[i]));
      }
    }
  }
  return Status::Ok();
}

Status BatchRunner::ExecuteWithRetry(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                                     int* attempts) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 0;; ++attempt) {
    *attempts = attempt + 1;
    Status s = ExecuteOnce(inputs, outputs);
    if (s.ok() || s.code() == Code::kOutOfMemory || !s.transient() ||
        attempt >= options_.max_retries)
      return s;
    // Exponential backoff with jitter: base, 2*base, ... capped at 5 s, x[0.5, 1.5).
    double base = std::min(5e6, static_cast<double>(options_.backoff_base_us) *
                                    static_cast<double>(int64_t{1} << std::min(attempt, 10)));
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    Env::Default()->SleepMicros(static_cast<int64_t>(base * jitter(rng)));
  }
}

void BatchRunner::NoteSuccess() {
  if (cap_ == 0) return;
  if (++successes_at_cap_ >= kSuccessesBeforeGrowth) {
    cap_ *= 2;
    successes_at_cap_ = 0;
  }
}

Status BatchRunner::Run(RowBatch* batch) {
  if (cap_ == 0 || batch->num_rows <= cap_) {
    int attempts = 0;
    Status s = ExecuteWithRetry(batch->inputs, &batch->outputs, &attempts);
    if (s.ok()) {
      NoteSuccess();
      return CheckOutputs(batch->outputs, batch->num_rows);
    }
    if (s.code() == Code::kSchemaMismatch && batch->num_rows > 0) {
      return s;  // wrong shapes are the job's fault, not the rows'
    }
    if (s.code() == Code::kOutOfMemory) cap_ = std::max<int64_t>(1, batch->num_rows / 2);
  }
  // Isolate the failing rows, or run in pieces under the cap. Output tensors
  // are allocated for the whole batch once the first piece succeeds.
  batch->outputs.clear();
  return RunRange(batch, 0, batch->num_rows);
}

Status BatchRunner::RunRange(RowBatch* batch, int64_t begin, int64_t end) {
  const int64_t rows = end - begin;
  if (cap_ > 0 && rows > cap_) {
    // The cap may shrink while the pieces run: cut each piece at the cap of
    // the moment.
    for (int64_t b = begin; b < end;) {
      int64_t e = std::min(end, b + cap_);
      NS_RETURN_IF_ERROR(RunRange(batch, b, e));
      b = e;
    }
    return Status::Ok();
  }
  scratch_inputs_.clear();
  for (Tensor& t : batch->inputs) {
    auto* base = static_cast<char*>(t.data()) + begin * RowBytes(t);
    scratch_inputs_.push_back(Tensor::View(t.dtype(), WithRows(t.shape(), rows), base));
  }
  int attempts = 0;
  Status s = ExecuteWithRetry(scratch_inputs_, &scratch_outputs_, &attempts);
  if (s.ok()) {
    NoteSuccess();
    NS_RETURN_IF_ERROR(CheckOutputs(scratch_outputs_, rows));
    if (batch->outputs.empty()) {
      for (const Tensor& o : scratch_outputs_) {
        batch->outputs.push_back(Tensor::Allocate(o.dtype(), WithRows(o.shape(), batch->num_rows)));
      }
    }
    for (size_t i = 0; i < scratch_outputs_.size(); ++i) {
      const int64_t rb = RowBytes(scratch_outputs_[i]);
      if (rb != RowBytes(batch->outputs[i])) {
        return Status(Code::kModelError,
                      "the model returned outputs of different widths for parts of one batch");
      }
      std::memcpy(static_cast<char*>(batch->outputs[i].data()) + begin * rb,
                  scratch_outputs_[i].data(), static_cast<size_t>(rows * rb));
    }
    return Status::Ok();
  }
  if (s.code() == Code::kSchemaMismatch) return s;
  if (rows == 1) {
    batch->SetRowError(begin, fmt::format("the model failed on this row: {}", s.message()));
    if (batch->row_attempts.size() < static_cast<size_t>(batch->num_rows)) {
      batch->row_attempts.resize(static_cast<size_t>(batch->num_rows), 1);
    }
    batch->row_attempts[static_cast<size_t>(begin)] = attempts;
    return Status::Ok();
  }
  if (s.code() == Code::kOutOfMemory) cap_ = std::max<int64_t>(1, rows / 2);
  int64_t mid = begin + rows / 2;
  NS_RETURN_IF_ERROR(RunRange(batch, begin, mid));
  // If every row fails no output tensor is made: the writer then only
  // dead-letters.
  return RunRange(batch, mid, end);
}

}  // namespace nightshift::exec
