#include "sched/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nightshift::sched {
namespace {

using date::local_days;
using std::chrono::hours;
using std::chrono::minutes;
using ::testing::HasSubstr;

LocalMinutes At(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  return local_days{date::year(y) / mo / d} + hours(h) + minutes(mi);
}

std::string Show(LocalMinutes t) {
  return date::format("%F %R %a", t);
}

// The next `n` matches after `from` (each strictly after the previous).
std::vector<std::string> Next(std::string_view expr, LocalMinutes from, int n) {
  Result<CronExpr> cron = CronExpr::Parse(expr);
  EXPECT_TRUE(cron.has_value()) << (cron ? "" : cron.error().message());
  std::vector<std::string> out;
  if (!cron) return out;
  for (int i = 0; i < n; ++i) {
    std::optional<LocalMinutes> m = cron->NextMatch(from);
    if (!m) break;
    out.push_back(Show(*m));
    from = *m + minutes(1);
  }
  return out;
}

TEST(CronParse, AcceptsTheDocumentedForms) {
  for (const char* ok : {"0 2 * * *",
                         "*/15 * * * *",
                         "1-5/2 * * * *",
                         "0 0 * JAN-MAR MON-FRI",
                         "0 0 * jan,Jul sun",
                         "0 0 * * 7",
                         "0,30 8-18 * * 1-5",
                         "@yearly",
                         "@annually",
                         "@monthly",
                         "@weekly",
                         "@daily",
                         "@midnight",
                         "@hourly",
                         "@DAILY",
                         "  5  4  *  *  *  ",
                         "0 0 29 2 *",
                         "59 23 31 12 6",
                         "0 0 31 2 MON",
                         "0 0 */31 * *",
                         "0 0 * * 5-7"}) {
    Result<CronExpr> cron = CronExpr::Parse(ok);
    EXPECT_TRUE(cron.has_value()) << ok << ": " << (cron ? "" : cron.error().message());
  }
}

TEST(CronParse, RejectsWithTheFieldNamed) {
  struct Case {
    const char* expr;
    const char* reason;
  };
  const Case cases[] = {
      {"61 * * * *", "minute: 61 is out of range 0-59"},
      {"* 24 * * *", "hour: 24 is out of range 0-23"},
      {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
      {"* * 32 * *", "day-of-month: 32 is out of range 1-31"},
      {"* * * 13 *", "month: 13 is out of range 1-12"},
      {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
      {"* * * FOO *", "month: 'FOO' is not a number 1-12 or a name like JAN"},
      {"* * * * MONDAY", "day-of-week: 'MONDAY'"},
      {"abc * * * *", "minute: 'abc' is not a number 0-59"},
      {"* * * *", "expected 5 fields"},
      {"* * * * * *", "or an @shortcut, got 6"},
      {"", "expected 5 fields"},
      {"@reboot", "unknown shortcut"},
      {"*/0 * * * *", "minute: step '0' must be a number 1-59"},
      {"*/x * * * *", "minute: step 'x'"},
      {"5/15 * * * *", "minute: '5/15': a step needs '*' or a range"},
      {"30-10 * * * *", "minute: range '30-10' runs backwards"},
      {"1,,2 * * * *", "minute: an empty list item"},
      {"1- * * * *", "minute: a value is missing"},
      {"-1 * * * *", "minute: a value is missing"},
      {"* * 31 2 *", "day-of-month: day 31 never occurs"},
      {"0 0 30 2 *", "day-of-month: day 30 never occurs"},
      {"0 0 31 4,6,9,11 *", "never fires"},
      {"0 0 31 2 */2", "never fires"},  // '*/2' keeps the AND rule
  };
  for (const Case& c : cases) {
    Result<CronExpr> cron = CronExpr::Parse(c.expr);
    ASSERT_FALSE(cron.has_value()) << c.expr;
    EXPECT_EQ(cron.error().code(), Code::kInvalidJob);
    EXPECT_THAT(cron.error().message(), HasSubstr(c.reason)) << c.expr;
    EXPECT_THAT(cron.error().message(), HasSubstr(std::string("cron '") + c.expr + "'"));
  }
}

TEST(CronMatch, StepsRangesAndLists) {
  EXPECT_EQ(Next("*/15 * * * *", At(2026, 1, 1, 10, 1), 3),
            (std::vector<std::string>{"2026-01-01 10:15 Thu", "2026-01-01 10:30 Thu",
                                      "2026-01-01 10:45 Thu"}));
  EXPECT_EQ(Next("1-5/2 8 * * *", At(2026, 1, 1, 8, 0), 4),
            (std::vector<std::string>{"2026-01-01 08:01 Thu", "2026-01-01 08:03 Thu",
                                      "2026-01-01 08:05 Thu", "2026-01-02 08:01 Fri"}));
  // At or after `from`: a match at `from` itself counts.
  EXPECT_EQ(Next("0 2 * * *", At(2026, 1, 1, 2, 0), 1),
            (std::vector<std::string>{"2026-01-01 02:00 Thu"}));
}

TEST(CronMatch, NamesAndSevenAsSunday) {
  const std::vector<std::string> sundays = {"2026-01-04 00:00 Sun", "2026-01-11 00:00 Sun"};
  EXPECT_EQ(Next("0 0 * * 7", At(2026, 1, 1), 2), sundays);
  EXPECT_EQ(Next("0 0 * * sun", At(2026, 1, 1), 2), sundays);
  EXPECT_EQ(Next("0 0 * * 0", At(2026, 1, 1), 2), sundays);
  EXPECT_EQ(Next("0 0 1 feb-Mar *", At(2026, 1, 1), 3),
            (std::vector<std::string>{"2026-02-01 00:00 Sun", "2026-03-01 00:00 Sun",
                                      "2027-02-01 00:00 Mon"}));
}

TEST(CronMatch, DayFieldsOrWhenBothRestricted) {
  // 1st of the month OR a Monday (Vixie cron).
  EXPECT_EQ(Next("0 0 1 * MON", At(2026, 1, 27), 4),
            (std::vector<std::string>{"2026-02-01 00:00 Sun", "2026-02-02 00:00 Mon",
                                      "2026-02-09 00:00 Mon", "2026-02-16 00:00 Mon"}));
  // '*/2' in day-of-month starts with '*': the fields AND (odd days that are Mondays).
  EXPECT_EQ(Next("0 0 */2 * MON", At(2026, 1, 1), 3),
            (std::vector<std::string>{"2026-01-05 00:00 Mon", "2026-01-19 00:00 Mon",
                                      "2026-02-09 00:00 Mon"}));
  // A '*' day-of-week leaves day-of-month in charge, and the other way round.
  EXPECT_EQ(Next("0 0 13 * *", At(2026, 1, 14), 1),
            (std::vector<std::string>{"2026-02-13 00:00 Fri"}));
  EXPECT_EQ(Next("0 0 * * FRI", At(2026, 1, 10), 1),
            (std::vector<std::string>{"2026-01-16 00:00 Fri"}));
}

TEST(CronMatch, ShortcutsAndLeapDays) {
  EXPECT_EQ(Next("@weekly", At(2026, 1, 1), 1), (std::vector<std::string>{"2026-01-04 00:00 Sun"}));
  EXPECT_EQ(Next("@monthly", At(2026, 1, 2), 1),
            (std::vector<std::string>{"2026-02-01 00:00 Sun"}));
  EXPECT_EQ(Next("@yearly", At(2026, 1, 2), 1), (std::vector<std::string>{"2027-01-01 00:00 Fri"}));
  EXPECT_EQ(Next("@hourly", At(2026, 1, 1, 23, 1), 1),
            (std::vector<std::string>{"2026-01-02 00:00 Fri"}));
  // Feb 29 skips 2100, which is no leap year.
  EXPECT_EQ(Next("0 0 29 2 *", At(2097, 1, 1), 1),
            (std::vector<std::string>{"2104-02-29 00:00 Fri"}));
  // Feb 29 on a Sunday only (AND rule): decades apart.
  EXPECT_EQ(Next("0 0 29 2 */7", At(2026, 1, 1), 1),
            (std::vector<std::string>{"2032-02-29 00:00 Sun"}));
}

}  // namespace
}  // namespace nightshift::sched
