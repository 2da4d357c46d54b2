#include "env/env_wrapper.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "env/temp_dir_for_test.h"

namespace nightshift {
namespace {

// A target that records each call (method and argument) and answers with
// values no real Env would give, so a test sees that the wrapper's answer is
// the target's.
class RecordingEnv final : public Env {
 public:
  std::vector<std::string> calls;

  Result<FileInfo> Stat(const std::string& p) override {
    calls.push_back("Stat " + p);
    return FileInfo{.size = 42, .mtime_ns = 7, .is_dir = false, .device = 1, .inode = 2};
  }
  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    calls.push_back("ListDir " + d);
    return std::vector<std::string>{"x", "y"};
  }
  Status CreateDirs(const std::string& d) override { return Record("CreateDirs " + d); }
  Status WriteFile(const std::string& p, const std::string& data) override {
    return Record("WriteFile " + p + " " + data);
  }
  Status AppendFile(const std::string& p, const std::string& data) override {
    return Record("AppendFile " + p + " " + data);
  }
  Result<std::string> ReadFile(const std::string& p) override {
    calls.push_back("ReadFile " + p);
    return std::string("contents");
  }
  Status SyncPath(const std::string& p) override { return Record("SyncPath " + p); }
  Status RenameFile(const std::string& a, const std::string& b) override {
    return Record("RenameFile " + a + " " + b);
  }
  Result<bool> RenameIfAbsent(const std::string& a, const std::string& b) override {
    calls.push_back("RenameIfAbsent " + a + " " + b);
    return false;
  }
  Status RemoveFile(const std::string& p) override { return Record("RemoveFile " + p); }
  Status ReadFileBlocks(const std::string& p, size_t block,
                        const std::function<bool(std::string_view)>& fn) override {
    fn("block");
    return Record("ReadFileBlocks " + p + " " + std::to_string(block));
  }
  Result<std::vector<std::string>> Glob(const std::string& p) override {
    calls.push_back("Glob " + p);
    return std::vector<std::string>{"g"};
  }
  Status CheckAccess(const std::string& p, Access mode) override {
    return Record("CheckAccess " + p + (mode == Access::kWrite ? " w" : " r"));
  }
  Result<std::string> ExecutablePath() override {
    calls.push_back("ExecutablePath");
    return std::string("/bin/recorded");
  }
  Result<std::unique_ptr<DirWatch>> WatchDir(const std::string& d) override {
    calls.push_back("WatchDir " + d);
    return Error(Code::kNotFound, "recorded watch");
  }
  int64_t NowMicros() override { return 1111; }
  int64_t MonotonicMicros() override { return 2222; }
  void SleepMicros(int64_t micros) override { calls.push_back("Sleep " + std::to_string(micros)); }
  std::string HostName() override { return "recorded-host"; }
  int64_t ProcessId() override { return 3333; }
  Result<int64_t> ProcessStartTime(int64_t pid) override { return pid + 1; }
  int Cores() override { return 44; }

 private:
  Status Record(std::string call) {
    calls.push_back(std::move(call));
    return Status(Code::kConflict, "recorded");
  }
};

// A wrapper that overrides nothing.
class PlainWrapper final : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
};

TEST(EnvWrapperTest, ForwardsEveryFileCallToTheTarget) {
  RecordingEnv target;
  PlainWrapper env(&target);
  EXPECT_EQ(env.target(), &target);

  EXPECT_EQ(env.Stat("s").value().size, 42);
  EXPECT_EQ(env.ListDir("d").value(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(env.CreateDirs("c").code(), Code::kConflict);
  EXPECT_EQ(env.WriteFile("w", "data").code(), Code::kConflict);
  EXPECT_EQ(env.AppendFile("a", "more").code(), Code::kConflict);
  EXPECT_EQ(env.ReadFile("r").value(), "contents");
  EXPECT_EQ(env.SyncPath("f").code(), Code::kConflict);
  EXPECT_EQ(env.RenameFile("from", "to").code(), Code::kConflict);
  EXPECT_EQ(env.RenameIfAbsent("a", "b").value(), false);
  EXPECT_EQ(env.RemoveFile("rm").code(), Code::kConflict);
  std::string seen;
  EXPECT_EQ(env.ReadFileBlocks("b", 64,
                               [&](std::string_view block) {
                                 seen = block;
                                 return true;
                               })
                .code(),
            Code::kConflict);
  EXPECT_EQ(seen, "block");
  EXPECT_EQ(env.Glob("*.csv").value(), std::vector<std::string>{"g"});
  EXPECT_EQ(env.CheckAccess("acc", Env::Access::kWrite).code(), Code::kConflict);
  EXPECT_EQ(env.ExecutablePath().value(), "/bin/recorded");
  auto watch = env.WatchDir("wd");
  ASSERT_FALSE(watch.has_value());
  EXPECT_EQ(watch.error().message(), "recorded watch");

  EXPECT_EQ(target.calls, (std::vector<std::string>{
                              "Stat s", "ListDir d", "CreateDirs c", "WriteFile w data",
                              "AppendFile a more", "ReadFile r", "SyncPath f", "RenameFile from to",
                              "RenameIfAbsent a b", "RemoveFile rm", "ReadFileBlocks b 64",
                              "Glob *.csv", "CheckAccess acc w", "ExecutablePath", "WatchDir wd"}));
}

TEST(EnvWrapperTest, ForwardsTheClockAndProcesses) {
  RecordingEnv target;
  PlainWrapper env(&target);
  EXPECT_EQ(env.NowMicros(), 1111);
  EXPECT_EQ(env.NowMillis(), 1);
  EXPECT_EQ(env.MonotonicMicros(), 2222);
  env.SleepMicros(5);
  EXPECT_EQ(target.calls, std::vector<std::string>{"Sleep 5"});
  EXPECT_EQ(env.HostName(), "recorded-host");
  EXPECT_EQ(env.ProcessId(), 3333);
  EXPECT_EQ(env.ProcessStartTime(9).value(), 10);
  EXPECT_EQ(env.Cores(), 44);
}

// A subclass changes only what it overrides; the rest still reaches the target.
class FrozenClock final : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  int64_t NowMicros() override { return 5; }
};

TEST(EnvWrapperTest, SubclassOverridesOnlyWhatItChanges) {
  RecordingEnv target;
  FrozenClock env(&target);
  EXPECT_EQ(env.NowMicros(), 5);
  EXPECT_EQ(env.MonotonicMicros(), 2222);
  EXPECT_EQ(env.ReadFile("r").value(), "contents");
  EXPECT_EQ(target.calls, std::vector<std::string>{"ReadFile r"});
}

// The non-virtual helpers of Env run on the wrapper's virtuals, so they pass
// through the wrapper too (WriteFileAtomic = WriteFile, RenameFile, SyncPath).
TEST(EnvWrapperTest, EnvHelpersGoThroughTheWrapper) {
  RecordingEnv target;
  PlainWrapper env(&target);
  Status s = env.WriteFileAtomic("/d/f", "x");
  EXPECT_EQ(s.code(), Code::kConflict);
  ASSERT_FALSE(target.calls.empty());
  EXPECT_EQ(target.calls[0].rfind("WriteFile /d/", 0), 0u) << target.calls[0];
}

// The OS Env's WriteFile fsyncs the file: publishing it then syncs only the
// folder (a second fsync of the same file cost every marker and _SUCCESS).
class SyncLog final : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Status SyncPath(const std::string& path) override {
    synced.push_back(path);
    return EnvWrapper::SyncPath(path);
  }
  std::vector<std::string> synced;
};

TEST(EnvWrapperTest, WriteFileAtomicSyncsOnlyTheFolderAfterWriting) {
  TempDir folder("ns_env_sync");
  ASSERT_TRUE(folder.ok());
  const std::string dir = folder.path();
  SyncLog env(Env::Default());
  const std::string path = JoinPath(dir, "_SUCCESS");
  ASSERT_TRUE(env.WriteFileAtomic(path, "{}").ok());
  EXPECT_EQ(env.ReadFile(path).value(), "{}");
  EXPECT_EQ(env.synced, std::vector<std::string>{dir});
}

}  // namespace
}  // namespace nightshift
