#include "nightshift/env.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stop_token>
#include <thread>

#include "env/temp_dir_for_test.h"

namespace nightshift {
namespace {

TEST(EnvTest, WriteFileAtomicPublishesWholeFileAndLeavesNoTemp) {
  Env* env = Env::Default();
  TempDir folder("ns_env_test");
  ASSERT_TRUE(folder.ok());
  std::string dir = folder.path();
  std::string path = JoinPath(dir, "a/b/_SUCCESS");
  ASSERT_TRUE(env->CreateDirs(DirName(path)).ok());
  ASSERT_TRUE(env->WriteFileAtomic(path, "{\"ok\":true}").ok());
  EXPECT_EQ(env->ReadFile(path).value(), "{\"ok\":true}");
  auto names = env->ListDir(DirName(path)).value();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0], "_SUCCESS");
}

TEST(EnvTest, WriteFileAtomicOntoAFolderFailsAndLeavesNoTemp) {
  Env* env = Env::Default();
  TempDir folder("ns_env_test");
  ASSERT_TRUE(folder.ok());
  const std::string target = JoinPath(folder.path(), "report");
  ASSERT_TRUE(env->CreateDirs(target).ok());
  EXPECT_FALSE(env->WriteFileAtomic(target, "<html>").ok());
  auto names = env->ListDir(folder.path()).value();
  EXPECT_EQ(names, std::vector<std::string>{"report"});
}

TEST(EnvTest, RenameIfAbsentNeverReplaces) {
  Env* env = Env::Default();
  TempDir folder("ns_env_test");
  ASSERT_TRUE(folder.ok());
  std::string dir = folder.path();
  std::string a = JoinPath(dir, "a"), b = JoinPath(dir, "b");
  ASSERT_TRUE(env->WriteFile(a, "first").ok());
  EXPECT_EQ(env->RenameIfAbsent(a, b).value(), true);
  EXPECT_EQ(env->ReadFile(b).value(), "first");
  EXPECT_EQ(env->Stat(a).error().code(), Code::kNotFound);
  ASSERT_TRUE(env->WriteFile(a, "second").ok());
  EXPECT_EQ(env->RenameIfAbsent(a, b).value(), false);
  EXPECT_EQ(env->ReadFile(b).value(), "first");   // kept
  EXPECT_EQ(env->ReadFile(a).value(), "second");  // untouched
  EXPECT_EQ(env->RenameIfAbsent(JoinPath(dir, "none"), JoinPath(dir, "c")).error().code(),
            Code::kNotFound);
}

// A file already at the final name is replaced only when the check allows it;
// a refusal (a lost claim) is returned and the temp file stays for its owner.
TEST(EnvTest, PublishFileFencedAsksBeforeReplacing) {
  Env* env = Env::Default();
  TempDir folder("ns_env_test");
  ASSERT_TRUE(folder.ok());
  std::string dir = folder.path();
  std::string tmp = JoinPath(dir, ".part.tmp"), final_path = JoinPath(dir, "part");
  int asked = 0;
  auto lost = [&] {
    ++asked;
    return Status(Code::kConflict, "claim lost");
  };
  ASSERT_TRUE(env->WriteFile(tmp, "mine").ok());
  ASSERT_TRUE(env->PublishFileFenced(tmp, final_path, lost).ok());  // nothing there: no question
  EXPECT_EQ(asked, 0);
  ASSERT_TRUE(env->WriteFile(tmp, "late").ok());
  EXPECT_EQ(env->PublishFileFenced(tmp, final_path, lost).code(), Code::kConflict);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(env->ReadFile(final_path).value(), "mine");
  EXPECT_EQ(env->ReadFile(tmp).value(), "late");
  ASSERT_TRUE(env->PublishFileFenced(tmp, final_path, [] { return Status::Ok(); }).ok());
  EXPECT_EQ(env->ReadFile(final_path).value(), "late");
  EXPECT_EQ(env->Stat(tmp).error().code(), Code::kNotFound);
}

TEST(EnvTest, StatOfMissingFileIsNotFound) {
  auto r = Env::Default()->Stat("/nonexistent/ns/file");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_NE(r.error().message().find("/nonexistent/ns/file"), std::string::npos);
}

TEST(EnvTest, CreateDirsFailsUnderAFile) {
  Env* env = Env::Default();
  TempDir folder("ns_env_test");
  ASSERT_TRUE(folder.ok());
  std::string dir = folder.path();
  ASSERT_TRUE(env->WriteFile(JoinPath(dir, "f"), "x").ok());
  Status s = env->CreateDirs(JoinPath(dir, "f/sub"));
  EXPECT_FALSE(s.ok());
}

TEST(EnvTest, PathHelpers) {
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(JoinPath("/a/", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a", "/abs"), "/abs");
}

// Cores() is what the process may run on, not what the machine has.
TEST(EnvTest, CoresFollowTheCpuAffinity) {
  cpu_set_t all;
  ASSERT_EQ(::sched_getaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(Env::Default()->Cores(), CPU_COUNT(&all));
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
  const int cores = Env::Default()->Cores();
  ASSERT_EQ(::sched_setaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(cores, 1);
}

// The run owner's liveness test: a stopped process is alive, a dead one (also
// before it is reaped) is not, and a start time tells processes apart.
TEST(EnvTest, ProcessStartTimeTellsLiveFromGone) {
  Env* env = Env::Default();
  EXPECT_FALSE(env->HostName().empty());
  auto self = env->ProcessStartTime(env->ProcessId());
  ASSERT_TRUE(self.has_value()) << self.error().ToString();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  auto started = env->ProcessStartTime(child);
  ASSERT_TRUE(started.has_value()) << started.error().ToString();
  EXPECT_GE(*started, *self);
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  EXPECT_EQ(env->ProcessStartTime(child).value(), *started);  // stopped: still alive
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(env->ProcessStartTime(child).error().code(), Code::kNotFound);  // a zombie
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_EQ(env->ProcessStartTime(child).error().code(), Code::kNotFound);
}

TEST(EnvTest, WatchDirSaysWhenTheFolderChangedAndWhenTheWatchEnded) {
  Env* env = Env::Default();
  TempDir folder("ns_env_test");
  ASSERT_TRUE(folder.ok());
  const std::string dir = folder.path();
  auto watch = env->WatchDir(dir);
  ASSERT_TRUE(watch.has_value()) << watch.error().message();
  EXPECT_FALSE((*watch)->Changed().value());
  ASSERT_TRUE(env->WriteFile(JoinPath(dir, "a.csv"), "id\n").ok());
  EXPECT_TRUE((*watch)->Changed().value());
  EXPECT_FALSE((*watch)->Changed().value());  // nothing new since
  ASSERT_TRUE(env->RemoveFile(JoinPath(dir, "a.csv")).ok());
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  EXPECT_FALSE((*watch)->Changed().has_value());  // the folder is gone: rescan
  EXPECT_EQ(env->WatchDir(dir).error().code(), Code::kNotFound);
}

TEST(EnvTest, SleepUnlessStoppedWakesAtOnceWhenStopIsAsked) {
  Env* env = Env::Default();
  std::stop_source stop;
  const int64_t t0 = env->MonotonicMicros();
  std::thread asker([&] {
    env->SleepMicros(20000);
    stop.request_stop();
  });
  EXPECT_FALSE(env->SleepUnlessStopped(30'000'000, stop.get_token()));
  asker.join();
  const int64_t slept = env->MonotonicMicros() - t0;
  EXPECT_GE(slept, 20000);
  EXPECT_LT(slept, 5'000'000);  // not the 30 s asked, nor a slice's worth past the request
  EXPECT_FALSE(env->SleepUnlessStopped(1'000'000, stop.get_token()));  // already stopped
  EXPECT_LT(env->MonotonicMicros() - t0, 5'000'000);
}

TEST(EnvTest, SleepUnlessStoppedSleepsTheWholeTimeWhenNotStopped) {
  Env* env = Env::Default();
  const int64_t t0 = env->MonotonicMicros();
  EXPECT_TRUE(env->SleepUnlessStopped(30000, std::stop_token()));
  EXPECT_GE(env->MonotonicMicros() - t0, 30000);
}

}  // namespace
}  // namespace nightshift
