// FaultInjectionEnv: an Env that forwards to another Env but fails chosen
// operations (leveldb's fault-injection idea), for tests of every failure
// nightshift promises to survive. Thread-safe.
#pragma once

#include <array>
#include <mutex>

#include "nightshift/env.h"

namespace nightshift {

class FaultInjectionEnv final : public Env {
 public:
  enum class Op { kWrite, kRead, kSync, kRename, kRemove, kCount };

  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Makes calls n, n+1, ..., n+times-1 (1-based, counted from now on) of `op`
  // fail with `code`.
  void FailNth(Op op, int n, int times = 1, Code code = Code::kIoError);
  // How many times `op` was called.
  int calls(Op op) const;

  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Status WriteFile(const std::string& path, const std::string& data) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Status SyncPath(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  int64_t NowMicros() override { return base_->NowMicros(); }
  void SleepMicros(int64_t micros) override { base_->SleepMicros(micros); }
  std::string HostName() override { return base_->HostName(); }
  int64_t ProcessId() override { return base_->ProcessId(); }
  Result<int64_t> ProcessStartTime(int64_t pid) override { return base_->ProcessStartTime(pid); }

 private:
  struct Rule {
    int first = 0;  // 0: none
    int last = 0;
    Code code = Code::kIoError;
  };
  // Counts a call of `op`; returns the injected error, or OK.
  Status Tick(Op op, const std::string& path);

  Env* base_;
  mutable std::mutex mu_;
  std::array<int, static_cast<size_t>(Op::kCount)> calls_{};
  std::array<Rule, static_cast<size_t>(Op::kCount)> rules_{};
};

}  // namespace nightshift
