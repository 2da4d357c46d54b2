// Env: the only code that touches the operating system's files and clock
// (leveldb's Env). Tests substitute a fault-injecting Env that fails the Nth
// operation. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nightshift/status.h"

namespace nightshift {

struct FileInfo {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  bool is_dir = false;
  // Which file this is (st_dev, st_ino): a file replaced under the same path
  // (mv, os.replace) has another inode even when its size and mtime match.
  int64_t device = 0;
  int64_t inode = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env. Never null; not owned by the caller.
  static Env* Default();

  // NotFound when `path` does not exist, IoError otherwise.
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // Names (not paths) of the entries in `dir`, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Creates `dir` and its parents; OK if it exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  // Writes `data` to `path`, replacing it, and fsyncs the file (not atomic:
  // pair it with RenameFile for atomic publication).
  virtual Status WriteFile(const std::string& path, const std::string& data) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // fsyncs an existing file or directory.
  virtual Status SyncPath(const std::string& path) = 0;
  // rename(2): atomic replacement of `to` on the same file system.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // OK if `path` does not exist.
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual int64_t NowMicros() = 0;
  virtual void SleepMicros(int64_t micros) = 0;

  // Processes (for the run owner record: who is running a run, and is it
  // still alive). The name of this machine; the id of this process.
  virtual std::string HostName() = 0;
  virtual int64_t ProcessId() = 0;
  // An opaque start time of process `pid` (clock ticks since boot on Linux),
  // which tells a live process from a later one that reuses its pid.
  // NotFound when no such process is alive (a zombie counts as gone); a
  // stopped (SIGSTOP) process is alive.
  virtual Result<int64_t> ProcessStartTime(int64_t pid) = 0;

  // Publishes a finished temp file: fsync(tmp), rename(tmp, final), fsync(dir).
  Status PublishFile(const std::string& tmp, const std::string& final_path);
  // WriteFile to a temp name then PublishFile: `path` appears whole or not at all.
  Status WriteFileAtomic(const std::string& path, const std::string& data);
};

// Returns the folder part of `path` ("." when it has none).
std::string DirName(const std::string& path);
// Joins two path parts with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace nightshift
