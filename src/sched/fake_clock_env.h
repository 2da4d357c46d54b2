// FakeClockEnv (test seam for the scheduler and triggers): the real files of
// Env::Default(), a clock that moves only when a test sleeps or sets it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "nightshift/env.h"

namespace nightshift::sched {

class FakeClockEnv final : public Env {
 public:
  explicit FakeClockEnv(int64_t now_micros) : now_(now_micros) {}
  void Set(int64_t micros) { now_ = micros; }
  void Advance(int64_t micros) { now_ += micros; }

  Result<FileInfo> Stat(const std::string& p) override { return base_->Stat(p); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    return base_->ListDir(d);
  }
  Status CreateDirs(const std::string& d) override { return base_->CreateDirs(d); }
  Status WriteFile(const std::string& p, const std::string& data) override {
    return base_->WriteFile(p, data);
  }
  Status AppendFile(const std::string& p, const std::string& data) override {
    return base_->AppendFile(p, data);
  }
  Result<std::string> ReadFile(const std::string& p) override { return base_->ReadFile(p); }
  Status SyncPath(const std::string& p) override { return base_->SyncPath(p); }
  Status RenameFile(const std::string& a, const std::string& b) override {
    return base_->RenameFile(a, b);
  }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status ReadFileBlocks(const std::string& p, size_t block,
                        const std::function<bool(std::string_view)>& fn) override {
    return base_->ReadFileBlocks(p, block, fn);
  }
  Result<std::vector<std::string>> Glob(const std::string& p) override { return base_->Glob(p); }
  Status CheckAccess(const std::string& p, Access mode) override {
    return base_->CheckAccess(p, mode);
  }
  Result<std::string> ExecutablePath() override { return base_->ExecutablePath(); }
  Result<std::string> RealPath(const std::string& p) override { return base_->RealPath(p); }
  Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& d) override {
    if (!watch_) return Env::WatchDir(d);
    return base_->WatchDir(d);
  }
  int64_t NowMicros() override { return now_; }
  int64_t MonotonicMicros() override { return now_; }
  void SleepMicros(int64_t micros) override { now_ += micros; }
  std::string HostName() override { return base_->HostName(); }
  int64_t ProcessId() override { return base_->ProcessId(); }
  Result<int64_t> ProcessStartTime(int64_t pid) override { return base_->ProcessStartTime(pid); }

  bool watch_ = true;  // false: WatchDir fails, as on a file system without notices

 private:
  Env* const base_ = Env::Default();
  std::atomic<int64_t> now_;
};

}  // namespace nightshift::sched
