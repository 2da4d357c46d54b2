#include "exec/claim_gate.h"

#include "exec/shard_feed.h"

namespace nightshift::exec {

ClaimGate::ClaimGate(const TaskFeed& feed)
    : ClaimGate(feed.fenced() ? kFencedUnfinished : kUnbounded) {}

bool ClaimGate::WaitToClaim(std::stop_token stop) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, stop, [&] { return closed_ || handed_out_ - finished_ <= max_unfinished_; });
  return !closed_ && !stop.stop_requested();
}

void ClaimGate::HandedOut(int64_t n) {
  std::lock_guard lock(mu_);
  handed_out_ += n;
}

void ClaimGate::Finished() {
  {
    std::lock_guard lock(mu_);
    ++finished_;
  }
  changed_.notify_all();
}

void ClaimGate::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  changed_.notify_all();
}

int64_t ClaimGate::handed_out() const {
  std::lock_guard lock(mu_);
  return handed_out_;
}

int64_t ClaimGate::unfinished() const {
  std::lock_guard lock(mu_);
  return handed_out_ - finished_;
}

}  // namespace nightshift::exec
