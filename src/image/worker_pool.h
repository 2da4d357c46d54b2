// WorkerPool: a fixed set of threads that run the items of one call in
// parallel (the rows of a batch being decoded), so decoding keeps pace with
// the model while the reader thread waits only for its own batch.
// Thread-safe: calls from several threads share the workers (each call's
// own thread works on its items too, so no call waits behind another).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nightshift/env.h"

namespace nightshift::image {

// The workers of a pool whose calling (reader) thread works too: `threads`
// when > 0, else one per core of `env` but one (at least 1).
int WorkersFor(int threads, Env* env);

class WorkerPool {
 public:
  // `threads` >= 0 workers besides the calling threads; joined by the destructor.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs fn(i) for every i in [0, n) and returns when all have returned.
  // `fn` must not throw.
  void ForEach(int64_t n, const std::function<void(int64_t)>& fn);

 private:
  struct Job;
  void Work();
  // Runs items of `job` until none is left to claim.
  static void Drain(Job* job);

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> jobs_;  // calls with items left to claim
  bool stopping_ = false;
  std::vector<std::jthread> threads_;
};

}  // namespace nightshift::image
