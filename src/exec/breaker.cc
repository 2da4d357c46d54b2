#include "exec/breaker.h"

#include <fmt/format.h>

namespace nightshift::exec {

void Breaker::RecordSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  streak_ = 0;
  code_ = Code::kOk;
}

Status Breaker::RecordFailure(const Status& failure) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure.code() != code_) {
    code_ = failure.code();
    streak_ = 0;
  }
  if (++streak_ < kTrips) return Status::Ok();
  return Status(
      Code::kFailed,
      fmt::format("stopped after {} consecutive batches failed ({}) despite their retries; "
                  "the model, not the rows, is failing: {}",
                  streak_, CodeName(code_), failure.message()));
}

}  // namespace nightshift::exec
