#include "nightshift/env.h"

#include <algorithm>
#include <thread>

namespace nightshift {

Result<std::unique_ptr<DirWatch>> Env::WatchDir(const std::string& dir) {
  return Error(Code::kIoError, "cannot watch '" + dir + "': this Env has no change notices");
}

Result<std::string> Env::RealPath(const std::string& path) {
  return Error(Code::kIoError, "cannot resolve '" + path + "': this Env has no file system");
}

int Env::Cores() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

bool Env::SleepUnlessStopped(int64_t micros, std::stop_token stop) {
  constexpr int64_t kSliceUs = 50000;
  for (int64_t left = micros; left > 0; left -= kSliceUs) {
    if (stop.stop_requested()) return false;
    SleepMicros(std::min(left, kSliceUs));
  }
  return !stop.stop_requested();
}

Status Env::PublishFile(const std::string& tmp, const std::string& final_path) {
  NS_RETURN_IF_ERROR(SyncPath(tmp));
  NS_RETURN_IF_ERROR(RenameFile(tmp, final_path));
  return SyncPath(DirName(final_path));
}

Status Env::PublishFileFenced(const std::string& tmp, const std::string& final_path,
                              const std::function<Status()>& may_replace) {
  NS_RETURN_IF_ERROR(SyncPath(tmp));
  NS_ASSIGN_OR_RETURN(bool renamed, RenameIfAbsent(tmp, final_path));
  if (!renamed) {
    // An earlier attempt's file (ours after a crash, or a worker's that lost
    // the claim): replaced only while the claim is still ours.
    NS_RETURN_IF_ERROR(may_replace());
    NS_RETURN_IF_ERROR(RenameFile(tmp, final_path));
  }
  return SyncPath(DirName(final_path));
}

Status Env::WriteFileAtomic(const std::string& path, const std::string& data) {
  // The temp name holds the process id: processes writing the same file at
  // once (workers of a shared run) must not rename one another's temp file.
  std::string tmp = JoinPath(DirName(path), "." + path.substr(path.find_last_of('/') + 1) +
                                                ".tmp-" + std::to_string(ProcessId()));
  return WriteFileVia(tmp, path, data);
}

Status Env::WriteFileVia(const std::string& tmp, const std::string& path, const std::string& data) {
  Status s = WriteFile(tmp, data);  // written and fsynced: PublishFile would sync it again
  if (s.ok()) s = RenameFile(tmp, path);
  if (!s.ok()) {
    // Nothing was published: no temp file is left behind either (a folder
    // at `path`, a full disk).
    (void)RemoveFile(tmp);
    return s;
  }
  return SyncPath(DirName(path));
}

std::string DirName(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (!b.empty() && b[0] == '/') return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

}  // namespace nightshift
