#include "sched/time_scale_env.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string>

namespace nightshift::sched {
namespace {

class TimeScaleEnv final : public Env {
 public:
  TimeScaleEnv(Env* base, int64_t anchor_micros, double factor)
      : base_(base), anchor_(anchor_micros), factor_(factor) {}

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
    return base_->WatchDir(d);
  }
  int64_t NowMicros() override {
    const int64_t real = base_->NowMicros();
    return anchor_ + static_cast<int64_t>(static_cast<double>(real - anchor_) * factor_);
  }
  int64_t MonotonicMicros() override {
    return static_cast<int64_t>(static_cast<double>(base_->MonotonicMicros()) * factor_);
  }
  void SleepMicros(int64_t micros) override {
    base_->SleepMicros(static_cast<int64_t>(static_cast<double>(micros) / factor_));
  }
  std::string HostName() override { return base_->HostName(); }
  int64_t ProcessId() override { return base_->ProcessId(); }
  Result<int64_t> ProcessStartTime(int64_t pid) override { return base_->ProcessStartTime(pid); }

 private:
  Env* const base_;
  const int64_t anchor_;
  const double factor_;
};

}  // namespace

Result<std::unique_ptr<Env>> MakeTimeScaleEnv(Env* base, std::string_view value) {
  const std::string text(value);
  const size_t colon = text.find(':');
  char* end = nullptr;
  const long long anchor = std::strtoll(text.c_str(), &end, 10);
  const bool anchor_ok = colon != std::string::npos && end == text.c_str() + colon;
  const double factor = anchor_ok ? std::strtod(text.c_str() + colon + 1, &end) : 0;
  if (!anchor_ok || *end != '\0' || !(factor > 0)) {
    return Error(Code::kInvalidJob, fmt::format("{}='{}': expected ANCHOR_UNIX_SECONDS:FACTOR",
                                                kTimeScaleVariable, text));
  }
  return std::unique_ptr<Env>(std::make_unique<TimeScaleEnv>(base, anchor * 1000000LL, factor));
}

}  // namespace nightshift::sched
