// CronExpr: a parsed 5-field cron expression (minute hour day-of-month month
// day-of-week), matched against local wall-clock minutes.
//
// Accepted: lists, ranges, steps (`*/15`, `1-5/2`), JAN-DEC and SUN-SAT
// (case-insensitive), 7 as Sunday, and @yearly @annually @monthly @weekly
// @daily @midnight @hourly. When both day fields are restricted (neither
// starts with `*`) a day matches if either matches, as in Vixie cron;
// otherwise both must match. Expressions that can never fire (`0 0 30 2 *`)
// are rejected when parsed, so a valid expression always has a next match.
#pragma once

#include <date/date.h>

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "nightshift/status.h"

namespace nightshift::sched {

using LocalMinutes = date::local_time<std::chrono::minutes>;

class CronExpr {
 public:
  // InvalidJob with a reason naming the field: "cron '61 * * * *': minute:
  // 61 is out of range 0-59".
  static Result<CronExpr> Parse(std::string_view text);

  // The first local minute at or after `from` that the expression matches.
  // nullopt only past the search horizon (never for a parsed expression
  // within the years date handles).
  std::optional<LocalMinutes> NextMatch(LocalMinutes from) const;

  bool MatchesDay(const date::year_month_day& ymd) const;
  const std::string& text() const { return text_; }

 private:
  friend struct CronFieldParser;
  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;        // 1-31
  std::bitset<13> months_;      // 1-12
  std::bitset<7> weekdays_;     // 0 = Sunday
  bool days_star_ = false;      // the day-of-month field starts with '*'
  bool weekdays_star_ = false;  // the day-of-week field starts with '*'
};

}  // namespace nightshift::sched
