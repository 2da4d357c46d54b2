// The `schedule:` and `trigger:` sections: typed values, defaults, and errors
// that name the key and the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using ::testing::HasSubstr;
using ScheduleSectionTest = JobFileTest;

TEST_F(ScheduleSectionTest, AbsentSectionsStayEmpty) {
  Result<JobSpec> job = Parse(kMinimalJob);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_FALSE(job->schedule.has_value());
  EXPECT_FALSE(job->trigger.has_value());
}

TEST_F(ScheduleSectionTest, DefaultsAndAllKeys) {
  Result<JobSpec> job = Parse(kMinimalJob + "schedule:\n  cron: \"0 2 * * *\"\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  ASSERT_TRUE(job->schedule.has_value());
  EXPECT_EQ(job->schedule->cron, "0 2 * * *");
  EXPECT_EQ(job->schedule->timezone, "UTC");
  EXPECT_FALSE(job->schedule->catchup);
  EXPECT_EQ(job->schedule->max_catchup, 7);
  EXPECT_EQ(job->schedule->overlap, ScheduleSpec::Overlap::kSkip);

  job = Parse(kMinimalJob +
              "schedule:\n  cron: '@hourly'\n  timezone: Asia/Kathmandu\n  catchup: true\n"
              "  max_catchup: 3\n  overlap: queue\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(job->schedule->cron, "@hourly");
  EXPECT_EQ(job->schedule->timezone, "Asia/Kathmandu");
  EXPECT_TRUE(job->schedule->catchup);
  EXPECT_EQ(job->schedule->max_catchup, 3);
  EXPECT_EQ(job->schedule->overlap, ScheduleSpec::Overlap::kQueue);
}

TEST_F(ScheduleSectionTest, ErrorsNameTheKeyAndTheReason) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "schedule:\n  cron: \"61 * * * *\"\n"),
            path() + ":16:9: schedule.cron: cron '61 * * * *': minute: 61 is out of range 0-59");
  EXPECT_THAT(ErrorOf(kMinimalJob + "schedule:\n  cron: \"0 0 30 2 *\"\n"),
              HasSubstr("schedule.cron: cron '0 0 30 2 *': day-of-month: day 30 never occurs"));
  EXPECT_EQ(ErrorOf(kMinimalJob + "schedule:\n  cron: '@daily'\n  timezone: Mars/Olympus\n"),
            path() +
                ":17:13: schedule.timezone: unknown time zone 'Mars/Olympus' (expected an IANA "
                "name like Europe/Berlin or UTC)");
  EXPECT_EQ(ErrorOf(kMinimalJob + "schedule:\n  timezone: UTC\n"),
            path() + ":16:3: missing required key 'schedule.cron'");
  EXPECT_THAT(ErrorOf(kMinimalJob + "schedule:\n  cron: '@daily'\n  overlap: wait\n"),
              HasSubstr("schedule.overlap"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "schedule:\n  cron: '@daily'\n  max_catchup: -1\n"),
              HasSubstr("schedule.max_catchup: expected an integer >= 0"));
  EXPECT_THAT(ErrorOf(kMinimalJob + "schedule:\n  cron: '@daily'\n  crn: x\n"),
              HasSubstr("unknown key 'schedule.crn'; did you mean 'schedule.cron'?"));
}

TEST_F(ScheduleSectionTest, OverrideReachesTheSchedule) {
  Result<JobSpec> job = Parse(kMinimalJob + "schedule:\n  cron: '@daily'\n",
                              {{"schedule.timezone", "Europe/Berlin"}});
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(job->schedule->timezone, "Europe/Berlin");
}

TEST_F(ScheduleSectionTest, TriggerReplacesInputPath) {
  const std::string job_text = Edit("  path: in.parquet\n", "  format: parquet\n") +
                               "trigger:\n  watch: incoming/*.parquet\n  settle: 2m\n";
  Result<JobSpec> job = Parse(job_text);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  ASSERT_TRUE(job->trigger.has_value());
  EXPECT_EQ(job->trigger->watch, dir_ + "/incoming/*.parquet");
  EXPECT_EQ(job->trigger->settle_s, 120);
  EXPECT_TRUE(job->input.path.empty());

  job = Parse(Edit("  path: in.parquet\n", "") + "trigger:\n  watch: in/*.csv\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(job->trigger->settle_s, 30);

  EXPECT_EQ(ErrorOf(kMinimalJob + "trigger:\n  watch: in/*.csv\n"),
            path() +
                ":3:9: input.path: a job with a trigger takes its input from trigger.watch: "
                "remove this key");
  EXPECT_THAT(ErrorOf(Edit("  path: in.parquet\n", "") + "trigger:\n  settle: 5s\n"),
              HasSubstr("missing required key 'trigger.watch'"));
  EXPECT_THAT(ErrorOf(Edit("  path: in.parquet\n", "") + "trigger:\n  watch: a\n  settle: x\n"),
              HasSubstr("trigger.settle"));
  EXPECT_THAT(ErrorOf(Edit("  path: in.parquet\n", "") + "trigger:\n  watch: a\n  settle: 0s\n"),
              HasSubstr("trigger.settle: must be at least 100ms, got 0s: a file still being "
                        "written would be taken again after each write"));
  // Without a trigger the input still needs a path or a query.
  EXPECT_THAT(ErrorOf(Edit("  path: in.parquet\n", "")), HasSubstr("missing required key"));
}

}  // namespace
}  // namespace nightshift::spec
