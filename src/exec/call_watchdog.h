// CallWatchdog: bounds one model call at a time without leaving it behind.
//
// Run() makes the call on the caller's own thread. A watchdog thread, owned
// and joined by this object, calls `cancel` once the call has run past its
// timeout or the stop token is requested, and repeats it every 10 ms until the
// call returns (a cancel that lands between two steps of a backend is not
// lost). Run() always waits for the call to return: nothing is detached, so a
// call that cannot be cancelled is bounded only by its own work.
//
// Thread-safe for one caller at a time (one watchdog per worker thread); the
// stop token may be requested from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace nightshift::exec {

class CallWatchdog {
 public:
  enum class Outcome {
    kFinished,  // the call returned before its deadline and before any stop
    kTimedOut,  // the deadline passed: `cancel` was called
    kStopped,   // the stop token was requested: `cancel` was called
  };

  CallWatchdog();
  ~CallWatchdog();  // joins the watchdog thread
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  // Runs `call`; `timeout_s` <= 0: no deadline. `cancel` must be safe to call
  // from another thread while `call` runs, and repeatedly.
  Outcome Run(double timeout_s, std::stop_token stop, const std::function<void()>& cancel,
              const std::function<void()>& call);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  // All guarded by mu_.
  bool armed_ = false;
  bool shutdown_ = false;
  Outcome fired_ = Outcome::kFinished;
  bool has_deadline_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::stop_token stop_;
  const std::function<void()>* cancel_ = nullptr;
  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace nightshift::exec
