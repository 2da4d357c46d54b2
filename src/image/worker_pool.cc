#include "image/worker_pool.h"

#include <algorithm>
#include <atomic>

namespace nightshift::image {

int WorkersFor(int threads, Env* env) {
  if (threads > 0) return threads;
  return std::max(1, env->Cores() - 1);
}

struct WorkerPool::Job {
  int64_t n = 0;
  const std::function<void(int64_t)>* fn = nullptr;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mu;
  std::condition_variable finished;
};

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  threads_.clear();  // joins
}

void WorkerPool::Drain(Job* job) {
  for (int64_t i = job->next.fetch_add(1); i < job->n; i = job->next.fetch_add(1)) {
    (*job->fn)(i);
    if (job->done.fetch_add(1) + 1 == job->n) {
      std::lock_guard lock(job->mu);
      job->finished.notify_all();
    }
  }
}

void WorkerPool::Work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = jobs_.front();
      // Every item claimed: later arrivals need not look at this call.
      if (job->next.load() >= job->n) {
        jobs_.pop_front();
        continue;
      }
    }
    Drain(job.get());
  }
}

void WorkerPool::ForEach(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  auto job = std::make_shared<Job>();
  job->n = n;
  job->fn = &fn;
  if (n > 1 && !threads_.empty()) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(job);
    }
    wake_.notify_all();
  }
  Drain(job.get());
  std::unique_lock lock(job->mu);
  job->finished.wait(lock, [&] { return job->done.load() == job->n; });
  // Leave no finished job in the queue (a worker would pop it anyway).
  std::lock_guard pool_lock(mu_);
  std::erase(jobs_, job);
}

}  // namespace nightshift::image
