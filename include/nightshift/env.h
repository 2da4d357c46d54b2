// Env: the only code that touches the operating system's files and clock
// (leveldb's Env). A run threads one Env (RunOptions::env) through everything
// it does: the input listing, row counting, the model's stat and hash, the
// output and dead-letter folders, the sink, the ledger's folder and clock.
// Tests substitute a fault-injecting Env (src/env/fault_injection_env.h)
// that fails the Nth operation. Implementations are thread-safe. An Env that
// changes only some calls derives from EnvWrapper (src/env/env_wrapper.h).
//
// The documented exceptions, libraries that open files themselves and so
// are out of an Env's reach: DuckDB (reads the input files, globs and lists
// what input.query names, writes the Parquet/CSV/JSONL parts to their temp
// names), ONNX Runtime, libtorch and XGBoost's loaders (read the model file),
// SQLite's own I/O (the ledger file, its journal and WAL), dlopen (backend
// plugins) and the terminal (stderr, the progress bar).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace nightshift {

struct FileInfo {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  bool is_dir = false;
  // Neither a regular file nor a folder: a FIFO, socket or device, whose
  // size says nothing and whose reads may block or never end.
  bool is_special = false;
  // Which file this is (st_dev, st_ino): a file replaced under the same path
  // (mv, os.replace) has another inode even when its size and mtime match.
  int64_t device = 0;
  int64_t inode = 0;
};

// A watch on one folder (Env::WatchDir): says whether entries were created,
// written, closed after writing, moved in or out, or removed since the last
// call, without blocking. Thread-compatible (one caller).
class DirWatch {
 public:
  virtual ~DirWatch() = default;
  // True when something changed in the folder since the previous call (or
  // since the watch began); IoError when the watch broke (the folder was
  // removed, the event queue overflowed): the caller rescans and may watch
  // again.
  virtual Result<bool> Changed() = 0;
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
  // Appends `data` to `path` (created if missing) in one write(2) on an
  // O_APPEND descriptor, so a reader tailing the file sees whole lines.
  virtual Status AppendFile(const std::string& path, const std::string& data) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // fsyncs an existing file or directory.
  virtual Status SyncPath(const std::string& path) = 0;
  // rename(2): atomic replacement of `to` on the same file system.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // rename(2) that never replaces: true when `from` became `to`, false (and
  // `from` untouched) when `to` already exists. Atomic where the file system
  // can (renameat2 RENAME_NOREPLACE, else link(2) then unlink).
  virtual Result<bool> RenameIfAbsent(const std::string& from, const std::string& to) = 0;
  // OK if `path` does not exist.
  virtual Status RemoveFile(const std::string& path) = 0;
  // Reads `path` front to back in blocks of at most `block` bytes, handing
  // each to `fn` (which returns false to stop early): hashing and counting
  // without holding the whole file. NotFound/IoError naming the file.
  virtual Status ReadFileBlocks(const std::string& path, size_t block,
                                const std::function<bool(std::string_view)>& fn) = 0;
  // The paths glob(3) matches for `pattern`, sorted; empty when none match.
  // IoError when a folder on the way cannot be read.
  virtual Result<std::vector<std::string>> Glob(const std::string& pattern) = 0;
  enum class Access { kRead, kWrite };
  // OK when this process may read (or write) `path` (access(2)); IoError
  // naming it otherwise.
  virtual Status CheckAccess(const std::string& path, Access mode) = 0;
  // The path of the running program (for finding files installed beside it).
  virtual Result<std::string> ExecutablePath() = 0;

  // Watches folder `dir` for changes (inotify on Linux). IoError where the OS or the file system
  // offers no such notice (the default), or the folder cannot be watched: the caller polls instead.
  virtual Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& dir);
  // `path` with every symlink, `.` and `..` resolved (realpath(3)): where a
  // file named by untrusted input really is. NotFound/IoError naming it; the
  // default (an Env without a file system of its own) says it cannot.
  virtual Result<std::string> RealPath(const std::string& path);

  // Wall-clock time (timestamps in the ledger, markers, dates in paths).
  virtual int64_t NowMicros() = 0;
  int64_t NowMillis() { return NowMicros() / 1000; }
  // A clock for durations, which never jumps when the wall clock is set.
  virtual int64_t MonotonicMicros() = 0;
  virtual void SleepMicros(int64_t micros) = 0;
  // Sleeps `micros`, or less when `stop` is requested meanwhile: false then
  // (and at once when it already was). The default sleeps through
  // SleepMicros in slices of at most 50 ms, so that an Env with a clock of
  // its own (a test's) moves it; the OS Env wakes as soon as stop is asked.
  virtual bool SleepUnlessStopped(int64_t micros, std::stop_token stop);

  // Processes (for the run owner record: who is running a run, and is it
  // still alive). The name of this machine; the id of this process.
  virtual std::string HostName() = 0;
  virtual int64_t ProcessId() = 0;
  // An opaque start time of process `pid` (clock ticks since boot on Linux),
  // which tells a live process from a later one that reuses its pid.
  // NotFound when no such process is alive (a zombie counts as gone); a
  // stopped (SIGSTOP) process is alive.
  virtual Result<int64_t> ProcessStartTime(int64_t pid) = 0;
  // The cores this process may run on (at least 1), which size the thread
  // pools: the OS Env reads the CPU affinity (taskset, a container's
  // cpuset); the default counts the machine's (std::thread).
  virtual int Cores();

  // Publishes a finished temp file: fsync(tmp), rename(tmp, final), fsync(dir).
  Status PublishFile(const std::string& tmp, const std::string& final_path);
  // PublishFile for a writer whose right to the name can be lost (a shard
  // claim another worker may take over): a file already at `final_path` is
  // replaced only after `may_replace` returns OK; its error (the lost claim)
  // is returned with `tmp` left for the caller to remove. A worker paused
  // past its lease therefore never overwrites the new holder's file.
  Status PublishFileFenced(const std::string& tmp, const std::string& final_path,
                           const std::function<Status()>& may_replace);
  // Writes `data` to `tmp` (WriteFile fsyncs it), renames it to `path` and
  // fsyncs the folder: `path` appears whole or not at all. When writing or
  // renaming fails, `tmp` is removed.
  Status WriteFileVia(const std::string& tmp, const std::string& path, const std::string& data);
  // WriteFileVia a temp name of this process's beside `path`.
  Status WriteFileAtomic(const std::string& path, const std::string& data);
};

// Returns the folder part of `path` ("." when it has none).
std::string DirName(const std::string& path);
// Joins two path parts with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace nightshift
