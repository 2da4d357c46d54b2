// The POSIX Env: files through open/fsync/rename, the clock through
// std::chrono.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "nightshift/env.h"

namespace nightshift {
namespace {

Status PosixError(const std::string& what, const std::string& path, int err) {
  Code code = (err == ENOENT || err == ENOTDIR) ? Code::kNotFound : Code::kIoError;
  if (err == EINTR || err == EAGAIN) code = Code::kTransient;
  return Status(code, fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

// inotify: one instance per watched folder, read without blocking.
class InotifyWatch final : public DirWatch {
 public:
  InotifyWatch(int fd, std::string dir) : fd_(fd), dir_(std::move(dir)) {}
  ~InotifyWatch() override { ::close(fd_); }

  Result<bool> Changed() override {
    alignas(inotify_event) char buf[16384];
    bool changed = false;
    while (true) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return changed;
      if (n < 0) return Error(PosixError("cannot read the inotify watch of", dir_, errno));
      if (n == 0) return changed;
      for (ssize_t at = 0; at < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
        if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
          return Error(Code::kIoError, fmt::format("the watch of '{}' ended or overflowed", dir_));
        }
        changed = true;
        at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
  }

 private:
  const int fd_;
  const std::string dir_;
};

class PosixEnv final : public Env {
 public:
  Result<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Error(PosixError("cannot stat", path, errno));
    FileInfo info;
    info.size = st.st_size;
    info.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    info.is_dir = S_ISDIR(st.st_mode);
    info.is_special = !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode);
    info.device = static_cast<int64_t>(st.st_dev);
    info.inode = static_cast<int64_t>(st.st_ino);
    return info;
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Error(PosixError("cannot list directory", dir, errno));
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status CreateDirs(const std::string& dir) override {
    if (dir.empty()) return Status::Ok();
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::Ok();
      return Status(Code::kIoError, fmt::format("'{}' exists and is not a directory", dir));
    }
    std::string parent = DirName(dir);
    if (parent != dir && parent != "." && parent != "/") NS_RETURN_IF_ERROR(CreateDirs(parent));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError("cannot create directory", dir, errno);
    }
    return Status::Ok();
  }

  Status WriteFile(const std::string& path, const std::string& data) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("cannot create", path, errno);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return PosixError("cannot write", path, err);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      int err = errno;
      ::close(fd);
      return PosixError("cannot fsync", path, err);
    }
    if (::close(fd) != 0) return PosixError("cannot close", path, errno);
    return Status::Ok();
  }

  Status AppendFile(const std::string& path, const std::string& data) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("cannot open", path, errno);
    ssize_t n;
    do {
      n = ::write(fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (n < 0) return PosixError("cannot append to", path, err);
    if (static_cast<size_t>(n) != data.size()) return PosixError("short append to", path, EIO);
    return Status::Ok();
  }

  Result<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(PosixError("cannot open", path, errno));
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return Error(PosixError("cannot read", path, err));
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  Status SyncPath(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("cannot open for fsync", path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL) return PosixError("cannot fsync", path, err);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError(fmt::format("cannot rename '{}' to", from), to, errno);
    }
    return Status::Ok();
  }

  Result<bool> RenameIfAbsent(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      return true;
    }
    if (errno == EEXIST) return false;
    if (errno != EINVAL && errno != ENOSYS) {
      return Error(PosixError(fmt::format("cannot rename '{}' to", from), to, errno));
    }
    // The file system lacks RENAME_NOREPLACE (NFS, some FUSE): link(2)
    // refuses an existing name just as atomically.
    if (::link(from.c_str(), to.c_str()) != 0) {
      if (errno == EEXIST) return false;
      return Error(PosixError(fmt::format("cannot link '{}' to", from), to, errno));
    }
    if (::unlink(from.c_str()) != 0) return Error(PosixError("cannot remove", from, errno));
    return true;
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return PosixError("cannot remove", path, errno);
    }
    return Status::Ok();
  }

  Status ReadFileBlocks(const std::string& path, size_t block,
                        const std::function<bool(std::string_view)>& fn) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("cannot open", path, errno);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::string buf(std::max<size_t>(block, 1), '\0');
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return PosixError("cannot read", path, err);
      }
      if (n == 0 || !fn(std::string_view(buf.data(), static_cast<size_t>(n)))) break;
    }
    ::close(fd);
    return Status::Ok();
  }

  Result<std::vector<std::string>> Glob(const std::string& pattern) override {
    glob_t g{};
    int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
    std::vector<std::string> paths;
    if (rc == 0) paths.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    if (rc == GLOB_ABORTED) {
      return Error(Code::kIoError, fmt::format("cannot read a folder that '{}' names", pattern));
    }
    if (rc != 0 && rc != GLOB_NOMATCH) {
      return Error(Code::kIoError, fmt::format("cannot expand '{}' (glob error {})", pattern, rc));
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  Status CheckAccess(const std::string& path, Access mode) override {
    if (::access(path.c_str(), mode == Access::kRead ? R_OK : W_OK) == 0) return Status::Ok();
    const int err = errno;
    return Status(err == ENOENT ? Code::kNotFound : Code::kIoError,
                  fmt::format("'{}' is not {}: {}", path,
                              mode == Access::kRead ? "readable" : "writable", std::strerror(err)));
  }

  Result<std::string> ExecutablePath() override {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return Error(PosixError("cannot read link", "/proc/self/exe", errno));
    return std::string(buf, static_cast<size_t>(n));
  }

  Result<std::string> RealPath(const std::string& path) override {
    std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
    if (real == nullptr) return Error(PosixError("cannot resolve", path, errno));
    return std::string(real.get());
  }

  Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& dir) override {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return Error(PosixError("cannot start inotify for", dir, errno));
    constexpr uint32_t kEvents = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
                                 IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |
                                 IN_MOVE_SELF;
    if (::inotify_add_watch(fd, dir.c_str(), kEvents) < 0) {
      const int err = errno;
      ::close(fd);
      return Error(PosixError("cannot watch", dir, err));
    }
    return std::unique_ptr<DirWatch>(std::make_unique<InotifyWatch>(fd, dir));
  }

  int64_t MonotonicMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void SleepMicros(int64_t micros) override {
    std::this_thread::sleep_for(std::chrono::microseconds(micros));
  }

  bool SleepUnlessStopped(int64_t micros, std::stop_token stop) override {
    std::mutex mu;
    std::condition_variable_any woken;
    std::unique_lock lock(mu);
    woken.wait_for(lock, stop, std::chrono::microseconds(micros), [] { return false; });
    return !stop.stop_requested();
  }

  std::string HostName() override {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
  }

  int64_t ProcessId() override { return ::getpid(); }

  int Cores() override {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
      return CPU_COUNT(&set);
    }
    return Env::Cores();
  }

  Result<int64_t> ProcessStartTime(int64_t pid) override {
    const std::string path = fmt::format("/proc/{}/stat", pid);
    std::string stat;
    {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return Error(PosixError("no process", path, errno));
      char buf[1024];
      ssize_t n = ::read(fd, buf, sizeof buf);
      ::close(fd);
      if (n <= 0) return Error(Code::kNotFound, fmt::format("no process {}", pid));
      stat.assign(buf, static_cast<size_t>(n));
    }
    // "pid (comm) state ppid ... starttime": comm may hold spaces and ')', so
    // fields are counted after the last ')'. starttime is field 22.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return Error(Code::kIoError, "unreadable " + path);
    std::vector<std::string> fields;
    for (size_t i = close + 2; i < stat.size();) {
      size_t end = stat.find(' ', i);
      if (end == std::string::npos) end = stat.size();
      fields.push_back(stat.substr(i, end - i));
      i = end + 1;
    }
    // fields[0] is field 3 (state); starttime (22) is fields[19].
    if (fields.size() < 20) return Error(Code::kIoError, "unreadable " + path);
    if (fields[0] == "Z" || fields[0] == "X") {
      return Error(Code::kNotFound, fmt::format("process {} has exited", pid));
    }
    return std::strtoll(fields[19].c_str(), nullptr, 10);
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

}  // namespace nightshift
