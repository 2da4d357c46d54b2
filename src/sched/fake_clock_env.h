// FakeClockEnv (test seam for the scheduler and triggers): the real files of
// Env::Default(), a clock that moves only when a test sleeps or sets it.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "env/env_wrapper.h"

namespace nightshift::sched {

class FakeClockEnv final : public EnvWrapper {
 public:
  explicit FakeClockEnv(int64_t now_micros) : EnvWrapper(Env::Default()), now_(now_micros) {}
  void Set(int64_t micros) { now_ = micros; }
  void Advance(int64_t micros) { now_ += micros; }

  Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& d) override {
    if (!watch_) return Env::WatchDir(d);
    return EnvWrapper::WatchDir(d);
  }
  int64_t NowMicros() override { return now_; }
  int64_t MonotonicMicros() override { return now_; }
  void SleepMicros(int64_t micros) override { now_ += micros; }

  bool watch_ = true;  // false: WatchDir fails, as on a file system without notices

 private:
  std::atomic<int64_t> now_;
};

}  // namespace nightshift::sched
