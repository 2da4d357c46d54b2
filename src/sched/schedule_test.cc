#include "sched/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace nightshift::sched {
namespace {

using ::testing::HasSubstr;

SysSeconds Utc(std::string_view rfc3339) {
  Result<SysSeconds> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(SysSeconds{});
}

// "fire_at run_id" of the next `n` fires strictly after `from`, walked from
// fire to fire as the scheduler walks them.
std::vector<std::string> Fires(std::string_view cron, std::string_view zone, std::string_view from,
                               int n) {
  Result<Schedule> s = Schedule::Make(cron, zone);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message());
  std::vector<std::string> out;
  if (!s) return out;
  std::optional<Fire> last;
  for (int i = 0; i < n; ++i) {
    Result<Fire> f = last ? s->NextAfter(*last) : s->NextAfter(Utc(from));
    EXPECT_TRUE(f.has_value());
    if (!f) break;
    out.push_back(FormatRfc3339(*f) + " " + ScheduledRunId("job", *f));
    last = *f;
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Schedule, UtcByDefaultAndStrictlyAfter) {
  EXPECT_EQ(Fires("0 2 * * *", "UTC", "2026-01-01T02:00:00Z", 2),
            (V{"2026-01-02T02:00:00+00:00 job-20260102T0200",
               "2026-01-03T02:00:00+00:00 job-20260103T0200"}));
  EXPECT_EQ(Fires("0 2 * * *", "UTC", "2026-01-01T01:59:59.9Z", 1),
            (V{"2026-01-01T02:00:00+00:00 job-20260101T0200"}));
}

TEST(Schedule, BerlinSpringGapFiresOnceAtTheGapsEnd) {
  // 2026-03-29: 02:00 CET jumps to 03:00 CEST.
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            (V{"2026-03-29T03:00:00+02:00 job-20260329T0230",
               "2026-03-30T02:30:00+02:00 job-20260330T0230"}));
  // The gap's times (02:00, 02:30): one fire, the earliest's id; 03:00, which
  // exists, fires on its own at the same instant.
  EXPECT_EQ(Fires("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", 4),
            (V{"2026-03-29T01:30:00+01:00 job-20260329T0130",
               "2026-03-29T03:00:00+02:00 job-20260329T0200",
               "2026-03-29T03:00:00+02:00 job-20260329T0300",
               "2026-03-29T03:30:00+02:00 job-20260329T0330"}));
  EXPECT_EQ(Fires("0 2,3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 3),
            (V{"2026-03-29T03:00:00+02:00 job-20260329T0200",
               "2026-03-29T03:00:00+02:00 job-20260329T0300",
               "2026-03-30T02:00:00+02:00 job-20260330T0200"}));
  // One fire per instant where only instants are asked for.
  Result<Schedule> s = Schedule::Make("0 2,3 * * *", "Europe/Berlin");
  ASSERT_TRUE(s.has_value());
  Result<Fire> gap = s->NextAfter(Utc("2026-03-28T12:00:00Z"));
  ASSERT_TRUE(gap.has_value());
  Result<Fire> next = s->NextAfter(gap->at);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(ScheduledRunId("job", *next), "job-20260330T0200");
}

TEST(Schedule, BerlinFallBackFiresTheFirstOccurrenceOnly) {
  // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:00-02:59 happen twice.
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            (V{"2026-10-25T02:30:00+02:00 job-20261025T0230",
               "2026-10-26T02:30:00+01:00 job-20261026T0230"}));
  EXPECT_EQ(Fires("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", 3),
            (V{"2026-10-25T02:30:00+02:00 job-20261025T0230",
               "2026-10-25T03:00:00+01:00 job-20261025T0300",
               "2026-10-25T03:30:00+01:00 job-20261025T0330"}));
  // Starting inside the second pass: its repeated times are not fired again.
  EXPECT_EQ(Fires("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", 1),
            (V{"2026-10-25T03:00:00+01:00 job-20261025T0300"}));
}

TEST(Schedule, NewYork) {
  // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
  EXPECT_EQ(Fires("0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            (V{"2026-03-08T03:00:00-04:00 job-20260308T0200",
               "2026-03-09T02:00:00-04:00 job-20260309T0200"}));
  // 2026-11-01: 02:00 EDT falls back to 01:00 EST.
  EXPECT_EQ(Fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            (V{"2026-11-01T01:30:00-04:00 job-20261101T0130",
               "2026-11-02T01:30:00-05:00 job-20261102T0130"}));
  EXPECT_EQ(Fires("15 * * * *", "America/New_York", "2026-11-01T04:00:00Z", 3),
            (V{"2026-11-01T00:15:00-04:00 job-20261101T0015",
               "2026-11-01T01:15:00-04:00 job-20261101T0115",
               "2026-11-01T02:15:00-05:00 job-20261101T0215"}));
}

TEST(Schedule, LordHoweShiftsByThirtyMinutes) {
  // 2026-10-04: 02:00 +10:30 jumps to 02:30 +11:00 (a 30-minute gap).
  EXPECT_EQ(Fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 2),
            (V{"2026-10-04T02:30:00+11:00 job-20261004T0215",
               "2026-10-05T02:15:00+11:00 job-20261005T0215"}));
  EXPECT_EQ(Fires("*/20 2 * * *", "Australia/Lord_Howe", "2026-10-03T15:00:00Z", 3),
            (V{"2026-10-04T02:30:00+11:00 job-20261004T0200",
               "2026-10-04T02:40:00+11:00 job-20261004T0240",
               "2026-10-05T02:00:00+11:00 job-20261005T0200"}));
  // 2026-04-05: 02:00 +11:00 falls back to 01:30 +10:30; 01:30-01:59 repeat.
  EXPECT_EQ(Fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2),
            (V{"2026-04-05T01:45:00+11:00 job-20260405T0145",
               "2026-04-06T01:45:00+10:30 job-20260406T0145"}));
}

TEST(Schedule, KathmanduOddOffsetAndItsFifteenMinuteGap) {
  EXPECT_EQ(Fires("0 0 * * *", "Asia/Kathmandu", "2026-01-01T00:00:00Z", 1),
            (V{"2026-01-02T00:00:00+05:45 job-20260102T0000"}));
  EXPECT_EQ(Fires("0 0 * * *", "Asia/Kathmandu", "2026-01-01T18:15:00Z", 1),
            (V{"2026-01-03T00:00:00+05:45 job-20260103T0000"}));
  // 1986-01-01: +05:30 became +05:45, skipping 00:00-00:14.
  EXPECT_EQ(Fires("5 0 * * *", "Asia/Kathmandu", "1985-12-31T12:00:00Z", 2),
            (V{"1986-01-01T00:15:00+05:45 job-19860101T0005",
               "1986-01-02T00:05:00+05:45 job-19860102T0005"}));
}

TEST(Schedule, DaylightSavingContinuesAfter2037) {
  // The zoneinfo files list transitions up to 2037; the rules go on.
  EXPECT_EQ(Fires("30 2 * * *", "America/New_York", "2039-07-01T00:00:00Z", 1),
            (V{"2039-07-01T02:30:00-04:00 job-20390701T0230"}));
  EXPECT_EQ(Fires("0 2 * * *", "America/New_York", "2045-03-11T12:00:00Z", 2),
            (V{"2045-03-12T03:00:00-04:00 job-20450312T0200",
               "2045-03-13T02:00:00-04:00 job-20450313T0200"}));
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Berlin", "2050-10-29T12:00:00Z", 2),
            (V{"2050-10-30T02:30:00+02:00 job-20501030T0230",
               "2050-10-31T02:30:00+01:00 job-20501031T0230"}));
  EXPECT_EQ(Fires("0 12 * * *", "Australia/Lord_Howe", "2040-01-10T00:00:00Z", 1),
            (V{"2040-01-10T12:00:00+11:00 job-20400110T1200"}));
}

TEST(Schedule, UnknownZoneAndBadCron) {
  Result<Schedule> s = Schedule::Make("0 2 * * *", "Europe/Atlantis");
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message(), HasSubstr("unknown time zone 'Europe/Atlantis'"));
  EXPECT_FALSE(Schedule::Make("0 2 * * *", "").has_value());
  EXPECT_FALSE(Schedule::Make("0 2 * * *", "../../etc/passwd").has_value());
  s = Schedule::Make("0 25 * * *", "UTC");
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message(), HasSubstr("hour: 25 is out of range 0-23"));
}

TEST(Rfc3339, ParsesOffsetsAndRejectsTheRest) {
  EXPECT_EQ(Utc("2026-03-29T03:30:00+02:00"), Utc("2026-03-29T01:30:00Z"));
  EXPECT_EQ(Utc("2026-01-01T05:45:00+05:45"), Utc("2026-01-01t00:00:00z"));
  EXPECT_EQ(Utc("2025-12-31T19:00:00-05:00"), Utc("2026-01-01 00:00:00Z"));
  for (const char* bad :
       {"2026-03-29T01:30:00", "2026-03-29", "2026-02-30T00:00:00Z", "2026-03-29T25:00:00Z",
        "2026-03-29T01:30:00+2", "yesterday", "2026-03-29T01:30:00Zjunk", "2026-03-29T01:30:00."}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
  EXPECT_THAT(ParseRfc3339("2026-03-29T01:30:00").error().message(),
              HasSubstr("a UTC offset (Z or +HH:MM) is required"));
}

}  // namespace
}  // namespace nightshift::sched
