// EnvWrapper: an Env that forwards every call to a target Env (leveldb's
// EnvWrapper). A test seam or an adapter derives from it and overrides only
// what it changes (the clock, a failing operation), so a new Env method is
// forwarded in one place instead of in every wrapper. Thread-safe when the
// target is.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/env.h"

namespace nightshift {

class EnvWrapper : public Env {
 public:
  // `target` must outlive the wrapper; not owned.
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<FileInfo> Stat(const std::string& path) override { return target_->Stat(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return target_->ListDir(dir);
  }
  Status CreateDirs(const std::string& dir) override { return target_->CreateDirs(dir); }
  Status WriteFile(const std::string& path, const std::string& data) override {
    return target_->WriteFile(path, data);
  }
  Status AppendFile(const std::string& path, const std::string& data) override {
    return target_->AppendFile(path, data);
  }
  Result<std::string> ReadFile(const std::string& path) override { return target_->ReadFile(path); }
  Status SyncPath(const std::string& path) override { return target_->SyncPath(path); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  Result<bool> RenameIfAbsent(const std::string& from, const std::string& to) override {
    return target_->RenameIfAbsent(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status ReadFileBlocks(const std::string& path, size_t block,
                        const std::function<bool(std::string_view)>& fn) override {
    return target_->ReadFileBlocks(path, block, fn);
  }
  Result<std::vector<std::string>> Glob(const std::string& pattern) override {
    return target_->Glob(pattern);
  }
  Status CheckAccess(const std::string& path, Access mode) override {
    return target_->CheckAccess(path, mode);
  }
  Result<std::string> ExecutablePath() override { return target_->ExecutablePath(); }
  Result<std::string> RealPath(const std::string& path) override { return target_->RealPath(path); }
  Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& dir) override {
    return target_->WatchDir(dir);
  }
  int64_t NowMicros() override { return target_->NowMicros(); }
  int64_t MonotonicMicros() override { return target_->MonotonicMicros(); }
  void SleepMicros(int64_t micros) override { target_->SleepMicros(micros); }
  std::string HostName() override { return target_->HostName(); }
  int64_t ProcessId() override { return target_->ProcessId(); }
  int Cores() override { return target_->Cores(); }
  Result<int64_t> ProcessStartTime(int64_t pid) override { return target_->ProcessStartTime(pid); }

 private:
  Env* const target_;
};

}  // namespace nightshift
