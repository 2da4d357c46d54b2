// FaultInjectionEnv: an EnvWrapper that forwards to another Env but fails chosen
// operations (leveldb's fault-injection idea), for tests of every failure
// nightshift promises to survive. Test-only: it lives beside its code, not in
// the public include folder. Thread-safe.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <vector>

#include "env/env_wrapper.h"

namespace nightshift {

class FaultInjectionEnv final : public EnvWrapper {
 public:
  // Every file operation, by kind. kRead counts ReadFile and ReadFileBlocks;
  // kAccess counts CheckAccess.
  enum class Op {
    kWrite,
    kRead,
    kSync,
    kRename,
    kRemove,
    kStat,
    kList,
    kCreateDirs,
    kGlob,
    kAccess,
    kWatch,
    kCount
  };
  static const char* OpName(Op op);

  explicit FaultInjectionEnv(Env* base) : EnvWrapper(base) {}

  // Makes calls n, n+1, ..., n+times-1 (1-based, counted from now on) of `op`
  // fail with `code`.
  void FailNth(Op op, int n, int times = 1, Code code = Code::kIoError);
  // Makes the n-th file operation of any kind (1-based, counted from now on)
  // fail with `code`, once.
  void FailNthOperation(int n, Code code = Code::kIoError);
  // How many times `op` was called.
  int calls(Op op) const;
  // How many file operations of any kind were called.
  int operations() const;
  // "op path" of every file operation so far, in order (to say which one a
  // sweep failed).
  std::vector<std::string> log() const;
  // Moves the wall clock (NowMicros) by `micros` from now on.
  void SkewClock(int64_t micros);

  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status WriteFile(const std::string& path, const std::string& data) override;
  Status AppendFile(const std::string& path, const std::string& data) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Status SyncPath(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Result<bool> RenameIfAbsent(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  Status ReadFileBlocks(const std::string& path, size_t block,
                        const std::function<bool(std::string_view)>& fn) override;
  Result<std::vector<std::string>> Glob(const std::string& pattern) override;
  Status CheckAccess(const std::string& path, Access mode) override;
  // The clock, processes and ExecutablePath are forwarded untouched by
  // EnvWrapper (NowMicros adds the skew).
  Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& dir) override;
  int64_t NowMicros() override;

 private:
  struct Rule {
    int first = 0;  // 0: none
    int last = 0;
    Code code = Code::kIoError;
  };
  // Counts a call of `op`; returns the injected error, or OK.
  Status Tick(Op op, const std::string& path);

  mutable std::mutex mu_;
  std::array<int, static_cast<size_t>(Op::kCount)> calls_{};
  std::array<Rule, static_cast<size_t>(Op::kCount)> rules_{};
  int operations_ = 0;
  Rule any_;  // FailNthOperation
  std::vector<std::string> log_;
  int64_t skew_micros_ = 0;
};

}  // namespace nightshift
