#include "env/fault_injection_env.h"

#include <fmt/format.h>

namespace nightshift {

const char* FaultInjectionEnv::OpName(Op op) {
  switch (op) {
    case Op::kWrite: return "write";
    case Op::kRead: return "read";
    case Op::kSync: return "fsync";
    case Op::kRename: return "rename";
    case Op::kRemove: return "remove";
    case Op::kStat: return "stat";
    case Op::kList: return "list";
    case Op::kCreateDirs: return "mkdir";
    case Op::kGlob: return "glob";
    case Op::kAccess: return "access";
    case Op::kWatch: return "watch";
    case Op::kCount: break;
  }
  return "?";
}

void FaultInjectionEnv::FailNth(Op op, int n, int times, Code code) {
  std::lock_guard<std::mutex> lock(mu_);
  auto i = static_cast<size_t>(op);
  rules_[i] = Rule{calls_[i] + n, calls_[i] + n + times - 1, code};
}

void FaultInjectionEnv::FailNthOperation(int n, Code code) {
  std::lock_guard<std::mutex> lock(mu_);
  any_ = Rule{operations_ + n, operations_ + n, code};
}

int FaultInjectionEnv::calls(Op op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<size_t>(op)];
}

int FaultInjectionEnv::operations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return operations_;
}

std::vector<std::string> FaultInjectionEnv::log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void FaultInjectionEnv::SkewClock(int64_t micros) {
  std::lock_guard<std::mutex> lock(mu_);
  skew_micros_ += micros;
}

Status FaultInjectionEnv::Tick(Op op, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto i = static_cast<size_t>(op);
  int call = ++calls_[i];
  int any = ++operations_;
  log_.push_back(fmt::format("{} {}", OpName(op), path));
  const Rule& r = rules_[i];
  if (r.first > 0 && call >= r.first && call <= r.last) {
    return Status(r.code, fmt::format("injected {} failure #{} on '{}'", OpName(op), call, path));
  }
  if (any_.first > 0 && any == any_.first) {
    return Status(any_.code, fmt::format("injected {} failure (operation #{}) on '{}'", OpName(op),
                                         any, path));
  }
  return Status::Ok();
}

Result<FileInfo> FaultInjectionEnv::Stat(const std::string& path) {
  Status s = Tick(Op::kStat, path);
  if (!s.ok()) return Error(s);
  return target()->Stat(path);
}

Result<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& dir) {
  Status s = Tick(Op::kList, dir);
  if (!s.ok()) return Error(s);
  return target()->ListDir(dir);
}

Status FaultInjectionEnv::CreateDirs(const std::string& dir) {
  NS_RETURN_IF_ERROR(Tick(Op::kCreateDirs, dir));
  return target()->CreateDirs(dir);
}

Status FaultInjectionEnv::WriteFile(const std::string& path, const std::string& data) {
  NS_RETURN_IF_ERROR(Tick(Op::kWrite, path));
  return target()->WriteFile(path, data);
}

Status FaultInjectionEnv::AppendFile(const std::string& path, const std::string& data) {
  NS_RETURN_IF_ERROR(Tick(Op::kWrite, path));
  return target()->AppendFile(path, data);
}

Result<std::string> FaultInjectionEnv::ReadFile(const std::string& path) {
  Status s = Tick(Op::kRead, path);
  if (!s.ok()) return Error(s);
  return target()->ReadFile(path);
}

Status FaultInjectionEnv::ReadFileBlocks(const std::string& path, size_t block,
                                         const std::function<bool(std::string_view)>& fn) {
  NS_RETURN_IF_ERROR(Tick(Op::kRead, path));
  return target()->ReadFileBlocks(path, block, fn);
}

Result<std::unique_ptr<DirWatch>> FaultInjectionEnv::WatchDir(const std::string& dir) {
  Status s = Tick(Op::kWatch, dir);
  if (!s.ok()) return Error(s);
  return target()->WatchDir(dir);
}

Result<std::vector<std::string>> FaultInjectionEnv::Glob(const std::string& pattern) {
  Status s = Tick(Op::kGlob, pattern);
  if (!s.ok()) return Error(s);
  return target()->Glob(pattern);
}

Status FaultInjectionEnv::CheckAccess(const std::string& path, Access mode) {
  NS_RETURN_IF_ERROR(Tick(Op::kAccess, path));
  return target()->CheckAccess(path, mode);
}

Status FaultInjectionEnv::SyncPath(const std::string& path) {
  NS_RETURN_IF_ERROR(Tick(Op::kSync, path));
  return target()->SyncPath(path);
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  NS_RETURN_IF_ERROR(Tick(Op::kRename, to));
  return target()->RenameFile(from, to);
}

Result<bool> FaultInjectionEnv::RenameIfAbsent(const std::string& from, const std::string& to) {
  NS_RETURN_IF_ERROR(Tick(Op::kRename, to));
  return target()->RenameIfAbsent(from, to);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  NS_RETURN_IF_ERROR(Tick(Op::kRemove, path));
  return target()->RemoveFile(path);
}

int64_t FaultInjectionEnv::NowMicros() {
  int64_t skew;
  {
    std::lock_guard<std::mutex> lock(mu_);
    skew = skew_micros_;
  }
  return target()->NowMicros() + skew;
}

}  // namespace nightshift
