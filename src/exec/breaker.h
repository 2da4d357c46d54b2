// Breaker: stops a run whose model keeps failing for a reason that is not the
// rows' (a timeout, a lost connection), instead of dead-lettering the whole
// input one batch at a time.
//
// Every batch outcome is recorded; kTrips consecutive batches that outlasted
// their retries with the same transient code (Code::kTimeout, kTransient) trip
// it. A success, or a failure of another code, starts the count again.
// Thread-safe: one breaker is shared by a run's workers.
#pragma once

#include <mutex>

#include "nightshift/status.h"

namespace nightshift::exec {

class Breaker {
 public:
  // Consecutive failed batches that stop the run. Fixed: three whole batches
  // each failing max_retries + 1 times is no passing hiccup.
  static constexpr int kTrips = 3;

  void RecordSuccess();
  // Records a batch that failed with `failure` after its retries. Returns
  // Failed (the run must stop, with the reason) when this trips the breaker.
  Status RecordFailure(const Status& failure);

 private:
  std::mutex mu_;
  Code code_ = Code::kOk;  // guarded by mu_: the code of the current streak
  int streak_ = 0;         // guarded by mu_
};

}  // namespace nightshift::exec
