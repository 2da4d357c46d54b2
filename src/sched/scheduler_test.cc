// The scheduler's decisions on a fake clock with a fake launcher: catch-up
// counts, overlap skip and queue, the DST day, resumes, the stop.
#include "sched/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "env/temp_dir_for_test.h"
#include "sched/fake_clock_env.h"

namespace nightshift::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

int64_t At(std::string_view rfc3339) {
  Result<SysSeconds> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value());
  return std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
}

class FakeLauncher final : public RunLauncher {
 public:
  struct Started {
    std::string run_id, why, date;
    int64_t at;
  };
  explicit FakeLauncher(Env* env) : env_(env) {}
  void Start(const JobSpec&, const RunRequest& r) override {
    started.push_back({r.run_id, r.why, r.date, env_->NowMicros()});
    running.push_back(r);
    ++starts;
  }
  std::vector<RunOutcome> TakeFinished() override {
    std::vector<RunOutcome> out;
    out.swap(finished);
    return out;
  }
  void JoinAll() override {
    for (const RunRequest& r : running) finished.push_back({r.job, r.run_id, on_join, "drained"});
    running.clear();
  }
  void Finish(ExitCode code = ExitCode::kOk) {
    ASSERT_FALSE(running.empty());
    finished.push_back({running.front().job, running.front().run_id, code, ""});
    running.erase(running.begin());
  }
  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const Started& s : started) ids.push_back(s.run_id);
    return ids;
  }
  std::vector<Started> started;
  std::vector<RunRequest> running;
  std::vector<RunOutcome> finished;
  ExitCode on_join = ExitCode::kInterrupted;
  std::atomic<int> starts{0};  // read by another thread

 private:
  Env* env_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_sched"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
  }

  JobSpec Job(const std::string& cron, const std::string& zone = "UTC") {
    JobSpec job;
    job.name = "nightly";
    job.run.ledger = (dir_ / "ledger.db").string();
    job.schedule = ScheduleSpec{};
    job.schedule->cron = cron;
    job.schedule->timezone = zone;
    return job;
  }

  // A run of the job in the ledger, as an earlier scheduler left it.
  void AddRun(const std::string& run_id, RunState state) {
    auto ledger = Ledger::Open((dir_ / "ledger.db").string());
    ASSERT_TRUE(ledger.has_value()) << ledger.error().message();
    RunRecord rec;
    rec.run_id = run_id;
    rec.job_name = "nightly";
    ASSERT_TRUE((*ledger)->CreateOrAttachRun(rec, {}, {}).has_value());
    ASSERT_TRUE((*ledger)->SetRunState(run_id, state, "").ok());
  }

  std::unique_ptr<Scheduler> Make(JobSpec job, std::optional<RunOwner> identity = std::nullopt,
                                  RunLauncher* launcher = nullptr) {
    SchedulerOptions o;
    o.identity = std::move(identity);
    o.env = &env_;
    o.signals = &signals_;
    o.log = [this](std::string_view event, const std::string& line) {
      log_.push_back(line);
      events_.emplace_back(event);
    };
    std::vector<JobSpec> jobs;
    jobs.push_back(std::move(job));
    return std::make_unique<Scheduler>(std::move(jobs), launcher ? launcher : &launcher_, o);
  }

  std::string Log() const {
    std::string all;
    for (const auto& l : log_) all += l + "\n";
    return all;
  }

  // Steps the loop once a second for `seconds`.
  void RunFor(Scheduler& s, int seconds) {
    for (int i = 0; i < seconds; ++i) {
      ASSERT_TRUE(s.Step().ok());
      env_.Advance(1000000);
    }
  }

  std::filesystem::path dir_;
  FakeClockEnv env_{At("2026-01-01T10:30:00Z")};
  FakeLauncher launcher_{&env_};
  std::atomic<int> signals_{0};
  std::vector<std::string> log_;
  std::vector<std::string> events_;  // the event name of each log_ line
};

TEST_F(SchedulerTest, FirstStartEverCatchesNothingUpAndWaitsForTheNextFire) {
  JobSpec job = Job("0 * * * *");
  job.schedule->catchup = true;
  auto s = Make(job);
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 60);
  EXPECT_TRUE(launcher_.started.empty());
  env_.Set(At("2026-01-01T11:00:00Z"));
  ASSERT_TRUE(s->Step().ok());
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1100"));
  EXPECT_EQ(launcher_.started[0].date, "2026-01-01");
  EXPECT_THAT(Log(), HasSubstr("fired (due 2026-01-01T11:00:00+00:00): starting run "
                               "nightly-20260101T1100"));
  EXPECT_THAT(events_, ElementsAre("lock_taken", "next_fire", "fired"));
}

TEST_F(SchedulerTest, CatchUpRunsTheNewestMaxCatchupMissedIntervalsOldestFirst) {
  AddRun("nightly-20260101T0000", RunState::kCompleted);
  JobSpec job = Job("0 * * * *");
  job.schedule->catchup = true;
  job.schedule->max_catchup = 3;
  auto s = Make(job);
  ASSERT_TRUE(s->Start().ok());
  EXPECT_THAT(Log(), HasSubstr("10 interval(s) missed while no scheduler ran; catching up the "
                               "newest 3 (max_catchup 3)"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s->Step().ok());
    launcher_.Finish();
  }
  ASSERT_TRUE(s->Step().ok());
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T0800", "nightly-20260101T0900",
                                           "nightly-20260101T1000"));
  EXPECT_EQ(launcher_.started[0].why, "caught up");
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "caught_up"), 3);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "missed_intervals"), 1);
}

TEST_F(SchedulerTest, CatchupOffSaysWhatWasMissedAndRunsNone) {
  AddRun("nightly-20260101T0800", RunState::kCompleted);
  auto s = Make(Job("0 * * * *"));
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 5);
  EXPECT_TRUE(launcher_.started.empty());
  EXPECT_THAT(Log(), HasSubstr("2 interval(s) missed while no scheduler ran; catchup is off"));
}

TEST_F(SchedulerTest, UnfinishedScheduledRunsAreResumedBeforeCatchUp) {
  AddRun("nightly-20260101T0900", RunState::kInterrupted);
  AddRun("nightly-20260101T0700", RunState::kCompleted);
  AddRun("nightly-20260101T0600", RunState::kFailed);
  JobSpec job = Job("0 * * * *");
  job.schedule->catchup = true;
  auto s = Make(job);
  ASSERT_TRUE(s->Start().ok());
  ASSERT_TRUE(s->Step().ok());
  launcher_.Finish();
  ASSERT_TRUE(s->Step().ok());
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T0900", "nightly-20260101T1000"));
  EXPECT_EQ(launcher_.started[0].why, "resumed");
}

TEST_F(SchedulerTest, OverlapSkipSkipsAFireWhileTheRunIsGoing) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  auto s = Make(Job("* * * * *"));
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 31);  // 10:01 fires
  RunFor(*s, 60);  // 10:02 is skipped: 10:01 still runs
  launcher_.Finish();
  RunFor(*s, 60);  // 10:03 fires
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1001", "nightly-20260101T1003"));
  EXPECT_THAT(Log(), HasSubstr("skipped run nightly-20260101T1002 (fired (due "
                               "2026-01-01T10:02:00+00:00)) because run nightly-20260101T1001 "
                               "is still going (overlap: skip)"));
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "skipped_overlap"), 1);
}

TEST_F(SchedulerTest, OverlapQueueRunsTheFireWhenThePreviousRunEnds) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  JobSpec job = Job("* * * * *");
  job.schedule->overlap = ScheduleSpec::Overlap::kQueue;
  auto s = Make(job);
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 91);  // 10:01 fires, 10:02 queues
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1001"));
  EXPECT_THAT(Log(), HasSubstr("queued run nightly-20260101T1002"));
  launcher_.Finish();
  ASSERT_TRUE(s->Step().ok());
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1001", "nightly-20260101T1002"));
}

TEST_F(SchedulerTest, SpringForwardDayFiresTheGapTimeOnceRightAfterTheGap) {
  env_.Set(At("2026-03-28T12:00:00Z"));
  auto s = Make(Job("30 2 * * *", "Europe/Berlin"));
  ASSERT_TRUE(s->Start().ok());
  // A step a minute: the gap (02:00-03:00 local) ends at 01:00Z.
  for (int64_t t = At("2026-03-28T12:00:00Z"); t < At("2026-03-30T12:00:00Z"); t += 60000000) {
    env_.Set(t);
    ASSERT_TRUE(s->Step().ok());
    if (!launcher_.running.empty()) launcher_.Finish();
  }
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260329T0230", "nightly-20260330T0230"));
  EXPECT_EQ(launcher_.started[0].at, At("2026-03-29T03:00:00+02:00"));
  EXPECT_EQ(launcher_.started[0].date, "2026-03-29");
  EXPECT_EQ(launcher_.started[1].at, At("2026-03-30T02:30:00+02:00"));
}

TEST_F(SchedulerTest, ARealTimeAtTheGapsEndFiresAfterTheGapsFireNotMissed) {
  // 02:00 is in the gap, 03:00 is not: two runs at 01:00Z, in nominal order.
  env_.Set(At("2026-03-28T12:00:00Z"));
  auto s = Make(Job("0 2,3 * * *", "Europe/Berlin"));
  ASSERT_TRUE(s->Start().ok());
  for (int64_t t = At("2026-03-28T12:00:00Z"); t < At("2026-03-29T12:00:00Z"); t += 60000000) {
    env_.Set(t);
    ASSERT_TRUE(s->Step().ok());
    if (!launcher_.running.empty()) launcher_.Finish();
  }
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260329T0200", "nightly-20260329T0300"));
  EXPECT_EQ(launcher_.started[0].at, At("2026-03-29T03:00:00+02:00"));
  // On the step after (a minute here: the test's steps).
  EXPECT_EQ(launcher_.started[1].at, At("2026-03-29T03:01:00+02:00"));
  EXPECT_THAT(Log(), Not(HasSubstr("missed")));
}

TEST_F(SchedulerTest, FallBackDayFiresTheRepeatedTimeOnce) {
  // Berlin falls back on 2026-10-25: 02:30 happens at 00:30Z and again at 01:30Z.
  env_.Set(At("2026-10-24T12:00:00Z"));
  auto s = Make(Job("30 2 * * *", "Europe/Berlin"));
  ASSERT_TRUE(s->Start().ok());
  for (int64_t t = At("2026-10-24T12:00:00Z"); t < At("2026-10-25T12:00:00Z"); t += 60000000) {
    env_.Set(t);
    ASSERT_TRUE(s->Step().ok());
    if (!launcher_.running.empty()) launcher_.Finish();
  }
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20261025T0230"));
  EXPECT_EQ(launcher_.started[0].at, At("2026-10-25T02:30:00+02:00"));  // the first 02:30
}

TEST_F(SchedulerTest, AStopStartsNothingAndDrainSaysInterrupted) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  JobSpec job = Job("* * * * *");
  job.schedule->overlap = ScheduleSpec::Overlap::kQueue;
  auto s = Make(job);
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 91);  // one running, one queued
  signals_ = 1;
  RunFor(*s, 120);
  EXPECT_EQ(launcher_.started.size(), 1u);
  EXPECT_EQ(s->Drain(), 75);
  EXPECT_THAT(Log(), HasSubstr("stopping: run nightly-20260101T1002 not started"));
  EXPECT_THAT(Log(), HasSubstr("run nightly-20260101T1001 interrupted"));
}

TEST_F(SchedulerTest, DrainAfterRunsThatCompletedIsZero) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  launcher_.on_join = ExitCode::kOk;
  auto s = Make(Job("* * * * *"));
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 31);
  signals_ = 1;
  EXPECT_EQ(s->Drain(), 0);
}

TEST_F(SchedulerTest, RunTheLoopUntilASignal) {
  env_.Set(At("2026-01-01T10:00:59Z"));
  launcher_.on_join = ExitCode::kOk;
  auto s = Make(Job("* * * * *"));
  std::thread stopper([this] {
    while (launcher_.starts.load() == 0) std::this_thread::yield();
    signals_ = 1;
  });
  Result<int> rc = s->Run();  // sleeps on the fake clock: 10:01 is due at once
  stopper.join();
  ASSERT_TRUE(rc.has_value()) << rc.error().message();
  EXPECT_EQ(*rc, 0);
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1001"));
}

TEST_F(SchedulerTest, AfterTheLoopWasHeldUpOnlyTheNewestDueFireRuns) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  auto s = Make(Job("* * * * *"));
  ASSERT_TRUE(s->Start().ok());
  env_.Set(At("2026-01-01T10:03:10Z"));  // a suspended machine wakes up
  ASSERT_TRUE(s->Step().ok());
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1003"));
  EXPECT_THAT(Log(), HasSubstr("missed run nightly-20260101T1001 (due "
                               "2026-01-01T10:01:00+00:00): the scheduler was held up past it"));
  EXPECT_THAT(Log(), HasSubstr("missed run nightly-20260101T1002"));
}

TEST_F(SchedulerTest, AnIntervalWhoseRunCompletedIsNeverRunAgain) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  auto s = Make(Job("* * * * *"));
  ASSERT_TRUE(s->Start().ok());
  AddRun("nightly-20260101T1001", RunState::kCompleted);  // by another scheduler, say
  RunFor(*s, 91);
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1002"));
  EXPECT_THAT(Log(), HasSubstr("skipped run nightly-20260101T1001 (fired (due "
                               "2026-01-01T10:01:00+00:00)): already completed"));
}

TEST_F(SchedulerTest, WithATriggerEachFireTakesTheFilesSettledByThen) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  JobSpec job = Job("* * * * *");
  std::filesystem::create_directories(dir_ / "in");
  job.trigger = TriggerSpec{(dir_ / "in" / "*.csv").string(), 5};
  auto s = Make(job);
  ASSERT_TRUE(s->Start().ok());
  RunFor(*s, 31);  // 10:01: nothing there
  EXPECT_TRUE(launcher_.started.empty());
  EXPECT_THAT(Log(), HasSubstr("fired (due 2026-01-01T10:01:00+00:00): skipped, no new settled "
                               "files"));
  std::ofstream(dir_ / "in" / "a.csv") << "id\n1\n";
  RunFor(*s, 60);  // settled long before 10:02
  ASSERT_EQ(launcher_.running.size(), 1u);
  EXPECT_EQ(launcher_.running[0].files, std::vector<std::string>{(dir_ / "in" / "a.csv").string()});
  EXPECT_EQ(launcher_.started[0].at, At("2026-01-01T10:02:00Z"));
  EXPECT_THAT(launcher_.started[0].run_id, ::testing::StartsWith("nightly-files-"));
}

TEST(ScheduledRunIds, ParseWhatScheduledRunIdMakes) {
  auto s = Schedule::Make("30 2 * * *", "Europe/Berlin");
  ASSERT_TRUE(s.has_value());
  Result<Fire> f =
      s->NextAfter(SysSeconds{std::chrono::seconds(At("2026-03-28T12:00:00Z") / 1000000)});
  ASSERT_TRUE(f.has_value());
  const std::string id = ScheduledRunId("a-b", *f);
  EXPECT_EQ(id, "a-b-20260329T0230");
  EXPECT_EQ(ParseScheduledRunId("a-b", id), f->nominal);
  EXPECT_EQ(ParseScheduledRunId("a", id), std::nullopt);
  EXPECT_EQ(ParseScheduledRunId("a-b", "a-b-files-0123456789abcdef"), std::nullopt);
  EXPECT_EQ(ParseScheduledRunId("a-b", "a-b-20260230T0230"), std::nullopt);
}

// Two schedulers of one job on other hosts (so that only the heartbeat tells
// whether the holder lives): one runs the job, the other stands by; when the
// first falls silent past exec::kOwnerStaleMs the second takes over, and the
// first, waking, finds its lock gone and starts nothing more.
TEST_F(SchedulerTest, OneOfTwoSchedulersRunsTheJobAndTheOtherTakesOverWhenItFallsSilent) {
  env_.Set(At("2026-01-01T10:00:30Z"));
  FakeLauncher b_launcher{&env_};
  auto a = Make(Job("* * * * *"), RunOwner{.host = "host-a", .pid = 1, .start_time = 1});
  auto b =
      Make(Job("* * * * *"), RunOwner{.host = "host-b", .pid = 2, .start_time = 2}, &b_launcher);
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b->Start().ok());
  auto both_for = [&](int seconds, bool step_a) {
    for (int i = 0; i < seconds; ++i) {
      if (step_a) {
        ASSERT_TRUE(a->Step().ok());
      }
      ASSERT_TRUE(b->Step().ok());
      if (!launcher_.running.empty()) launcher_.Finish();
      if (!b_launcher.running.empty()) b_launcher.Finish();
      env_.Advance(1000000);
    }
  };
  both_for(180, true);  // 10:01, 10:02, 10:03
  EXPECT_THAT(launcher_.Ids(), ElementsAre("nightly-20260101T1001", "nightly-20260101T1002",
                                           "nightly-20260101T1003"));
  EXPECT_TRUE(b_launcher.started.empty());
  EXPECT_THAT(Log(), HasSubstr("standby: pid 1 on host host-a schedules this job"));
  both_for(100, false);  // a is silent: b takes over after 60 s, fires 10:05
  EXPECT_THAT(Log(), HasSubstr("taking over: the scheduler that held 'schedule:nightly' (pid 1 "
                               "on host host-a) is gone"));
  EXPECT_THAT(b_launcher.Ids(), ElementsAre("nightly-20260101T1005"));
  both_for(120, true);  // a wakes: it stands by; b goes on
  EXPECT_THAT(Log(), HasSubstr("was taken over by another scheduler: standing by"));
  EXPECT_EQ(launcher_.started.size(), 3u);
  EXPECT_THAT(b_launcher.Ids(), ElementsAre("nightly-20260101T1005", "nightly-20260101T1006",
                                            "nightly-20260101T1007"));
}

}  // namespace
}  // namespace nightshift::sched
