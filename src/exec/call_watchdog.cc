#include "exec/call_watchdog.h"

namespace nightshift::exec {

namespace {
constexpr auto kCancelRepeat = std::chrono::milliseconds(10);
}  // namespace

CallWatchdog::CallWatchdog() : thread_([this] { Loop(); }) {}

CallWatchdog::~CallWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CallWatchdog::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutdown_) {
    if (!armed_) {
      cv_.wait(lock);
      continue;
    }
    if (fired_ == Outcome::kFinished) {
      if (stop_.stop_requested()) {
        fired_ = Outcome::kStopped;
      } else if (has_deadline_ && std::chrono::steady_clock::now() >= deadline_) {
        fired_ = Outcome::kTimedOut;
      } else {
        if (has_deadline_) {
          cv_.wait_until(lock, deadline_);
        } else {
          cv_.wait(lock);
        }
        continue;
      }
    }
    // Fired: cancel, and again until Run() disarms us. Called under mu_, so
    // no cancel reaches the backend after the call returned and Run() went on.
    (*cancel_)();
    cv_.wait_for(lock, kCancelRepeat);
  }
}

CallWatchdog::Outcome CallWatchdog::Run(double timeout_s, std::stop_token stop,
                                        const std::function<void()>& cancel,
                                        const std::function<void()>& call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    fired_ = Outcome::kFinished;
    has_deadline_ = timeout_s > 0;
    if (has_deadline_) {
      deadline_ = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(timeout_s));
    }
    stop_ = stop;
    cancel_ = &cancel;
  }
  cv_.notify_all();
  Outcome outcome;
  {
    // Wakes the watchdog the moment a stop is requested.
    std::stop_callback on_stop(stop, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    });
    call();
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
    cancel_ = nullptr;
    outcome = fired_;
  }
  return outcome;
}

}  // namespace nightshift::exec
