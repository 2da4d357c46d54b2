// File triggers on a fake clock: settle, files still being written, files
// earlier runs hold, change notices and polling, run ids from file sets.
#include "sched/trigger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "env/temp_dir_for_test.h"
#include "sched/fake_clock_env.h"

namespace nightshift::sched {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kSecond = 1000000;

class TriggerTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_trigger"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    std::filesystem::create_directories(dir_ / "in");
    spec_.watch = (dir_ / "in" / "*.csv").string();
    spec_.settle_s = 10;
  }

  std::unique_ptr<FileTrigger> Make(bool polling = false) {
    TriggerOptions o;
    o.force_polling = polling;
    o.poll_micros = 5 * kSecond;
    o.log = [this](std::string_view event, const std::string& line) {
      log_ += line + "\n";
      events_ += std::string(event) + "\n";
    };
    return std::make_unique<FileTrigger>(spec_, &env_, o);
  }

  std::string Write(const std::string& name, const std::string& text, bool append = false) {
    const std::string path = (dir_ / "in" / name).string();
    std::ofstream(path, append ? std::ios::app : std::ios::trunc) << text;
    return path;
  }

  std::vector<std::string> TakePaths(FileTrigger& t) {
    Result<std::vector<WatchedFile>> got = t.Take(env_.NowMicros());
    EXPECT_TRUE(got.has_value()) << got.error().message();
    std::vector<std::string> paths;
    for (const auto& f : *got) paths.push_back(f.path);
    return paths;
  }

  std::filesystem::path dir_;
  TriggerSpec spec_;
  FakeClockEnv env_{1000 * kSecond};
  std::string log_;
  std::string events_;  // the event name of each line, one a line
};

TEST_F(TriggerTest, AFileIsTakenOnceItStoppedChangingForSettle) {
  auto t = Make();
  const std::string a = Write("a.csv", "id\n1\n");
  EXPECT_TRUE(TakePaths(*t).empty());  // seen now
  env_.Advance(9 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());  // 9 s < settle
  env_.Advance(1 * kSecond);
  EXPECT_EQ(TakePaths(*t), std::vector<std::string>{a});
  env_.Advance(60 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());  // taken once
  EXPECT_THAT(log_, HasSubstr("file seen: '" + a + "' (5 bytes)"));
}

TEST_F(TriggerTest, AFileStillBeingWrittenIsNotTaken) {
  auto t = Make(/*polling=*/true);
  const std::string a = Write("a.csv", "id\n");
  for (int i = 0; i < 6; ++i) {  // grows every 5 s for 30 s: never unchanged for 10 s
    EXPECT_TRUE(TakePaths(*t).empty()) << "step " << i;
    env_.Advance(5 * kSecond);
    Write("a.csv", std::to_string(i) + "\n", /*append=*/true);
  }
  env_.Advance(5 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());  // the last append is seen now
  env_.Advance(9 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());
  env_.Advance(1 * kSecond);
  Result<std::vector<WatchedFile>> got = t->Take(env_.NowMicros());
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].size, static_cast<int64_t>(std::filesystem::file_size(a)));
}

TEST_F(TriggerTest, FilesAnEarlierRunHoldsAreIgnoredButARewriteIsNew) {
  const std::string a = Write("a.csv", "id\n1\n");
  const std::string b = Write("b.csv", "id\n2\n");
  Result<FileInfo> info = env_.Stat(a);
  ASSERT_TRUE(info.has_value());
  auto t = Make();
  t->Remember(std::vector<InputFileRecord>{{0, a, info->size, info->mtime_ns, 0}});
  EXPECT_TRUE(TakePaths(*t).empty());
  env_.Advance(10 * kSecond);
  EXPECT_EQ(TakePaths(*t), std::vector<std::string>{b});
  EXPECT_THAT(log_, HasSubstr("1 file(s) matching"));
  EXPECT_THAT(events_, HasSubstr("files_held\n"));
  Write("a.csv", "id\n1\n3\n");  // rewritten: another size
  EXPECT_TRUE(TakePaths(*t).empty());
  env_.Advance(10 * kSecond);
  EXPECT_EQ(TakePaths(*t), std::vector<std::string>{a});
}

TEST_F(TriggerTest, PollingListsTheFolderOnlyEveryPollInterval) {
  auto t = Make(/*polling=*/true);
  EXPECT_FALSE(t->watching());
  EXPECT_TRUE(TakePaths(*t).empty());  // first listing: nothing
  const std::string a = Write("a.csv", "id\n1\n");
  env_.Advance(4 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());  // not listed again yet
  EXPECT_EQ(log_.find("file seen"), std::string::npos);
  env_.Advance(1 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());  // listed: seen at 5 s
  EXPECT_THAT(log_, HasSubstr("file seen"));
  env_.Advance(10 * kSecond);
  EXPECT_EQ(TakePaths(*t), std::vector<std::string>{a});
}

TEST_F(TriggerTest, ChangeNoticesListTheFolderAtOnce) {
  auto t = Make();
  ASSERT_TRUE(t->watching()) << log_;
  EXPECT_THAT(log_, HasSubstr("(inotify)"));
  EXPECT_EQ(events_, "trigger_watching\n");
  EXPECT_TRUE(TakePaths(*t).empty());
  Write("a.csv", "id\n1\n");
  EXPECT_TRUE(TakePaths(*t).empty());  // no time passed, but listed at once
  EXPECT_THAT(log_, HasSubstr("file seen"));
}

TEST_F(TriggerTest, WithoutNoticesItFallsBackToPolling) {
  env_.watch_ = false;
  auto t = Make();
  EXPECT_FALSE(t->watching());
  EXPECT_THAT(log_, HasSubstr("gives no change notices"));
}

TEST_F(TriggerTest, EmptyFilesAndFilesThatGoAwayAreIgnoredWithAReason) {
  auto t = Make();
  Write("empty.csv", "");
  const std::string gone = Write("gone.csv", "id\n1\n");
  EXPECT_TRUE(TakePaths(*t).empty());
  std::filesystem::remove(gone);
  env_.Advance(10 * kSecond);
  EXPECT_TRUE(TakePaths(*t).empty());
  EXPECT_THAT(log_, HasSubstr("file ignored: '" + gone + "' went away before it settled"));
  EXPECT_THAT(log_, HasSubstr("empty.csv' is empty (0 bytes)"));
}

TEST(TriggerRunIds, SameFilesSameIdOtherFilesOtherId) {
  std::vector<WatchedFile> one{{"/in/a.csv", 7, 100}};
  std::vector<WatchedFile> two{{"/in/a.csv", 7, 100}, {"/in/b.csv", 1, 2}};
  EXPECT_EQ(TriggerRunId("job", one), TriggerRunId("job", one));
  EXPECT_NE(TriggerRunId("job", one), TriggerRunId("job", two));
  EXPECT_NE(TriggerRunId("job", one), TriggerRunId("job", {{"/in/a.csv", 8, 100}}));
  EXPECT_THAT(TriggerRunId("job", one), ::testing::StartsWith("job-files-"));
  EXPECT_TRUE(IsTriggerRunId("job", TriggerRunId("job", two)));
  EXPECT_FALSE(IsTriggerRunId("job", "job-20260101T0000"));
}

}  // namespace
}  // namespace nightshift::sched
