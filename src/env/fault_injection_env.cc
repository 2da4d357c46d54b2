#include "nightshift/fault_injection_env.h"

#include <fmt/format.h>

namespace nightshift {
namespace {

const char* OpName(FaultInjectionEnv::Op op) {
  switch (op) {
    case FaultInjectionEnv::Op::kWrite: return "write";
    case FaultInjectionEnv::Op::kRead: return "read";
    case FaultInjectionEnv::Op::kSync: return "fsync";
    case FaultInjectionEnv::Op::kRename: return "rename";
    case FaultInjectionEnv::Op::kRemove: return "remove";
    case FaultInjectionEnv::Op::kCount: break;
  }
  return "?";
}

}  // namespace

void FaultInjectionEnv::FailNth(Op op, int n, int times, Code code) {
  std::lock_guard<std::mutex> lock(mu_);
  auto i = static_cast<size_t>(op);
  rules_[i] = Rule{calls_[i] + n, calls_[i] + n + times - 1, code};
}

int FaultInjectionEnv::calls(Op op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<size_t>(op)];
}

Status FaultInjectionEnv::Tick(Op op, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto i = static_cast<size_t>(op);
  int call = ++calls_[i];
  const Rule& r = rules_[i];
  if (r.first > 0 && call >= r.first && call <= r.last) {
    return Status(r.code, fmt::format("injected {} failure #{} on '{}'", OpName(op), call, path));
  }
  return Status::Ok();
}

Status FaultInjectionEnv::WriteFile(const std::string& path, const std::string& data) {
  NS_RETURN_IF_ERROR(Tick(Op::kWrite, path));
  return base_->WriteFile(path, data);
}

Result<std::string> FaultInjectionEnv::ReadFile(const std::string& path) {
  Status s = Tick(Op::kRead, path);
  if (!s.ok()) return Error(s);
  return base_->ReadFile(path);
}

Status FaultInjectionEnv::SyncPath(const std::string& path) {
  NS_RETURN_IF_ERROR(Tick(Op::kSync, path));
  return base_->SyncPath(path);
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  NS_RETURN_IF_ERROR(Tick(Op::kRename, to));
  return base_->RenameFile(from, to);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  NS_RETURN_IF_ERROR(Tick(Op::kRemove, path));
  return base_->RemoveFile(path);
}

}  // namespace nightshift
