// Schedule: a cron expression in an IANA time zone, and the instants it
// fires at (docs/job-file.md, "schedule").
//
// Daylight saving: local times inside a spring-forward gap fire once,
// together, at the first instant after the gap; a local time that occurs
// twice (fall back) fires once, at its first occurrence. Each fire keeps the
// nominal local time of the interval it stands for: the run id is
// `{name}-{YYYYMMDDTHHMM}` of it. When several nominal times inside a gap
// fire at one instant, the fire is the earliest of them; a time that really
// exists at the gap's end (03:00 after a 02:00-03:00 gap) is a fire of its
// own at that same instant, after the gap's.
//
// Zones come from the OS tz database (/usr/share/zoneinfo) through Howard
// Hinnant's date library; its exceptions stop here.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "nightshift/status.h"
#include "sched/cron.h"

namespace nightshift::sched {

using SysSeconds = date::sys_time<std::chrono::seconds>;

struct Fire {
  SysSeconds at;                // the instant it fires
  LocalMinutes nominal;         // the interval's nominal local time
  std::chrono::seconds offset;  // the zone's UTC offset at `at`
};

class Schedule {
 public:
  // InvalidJob naming the problem: a bad cron (cron.h) or an unknown zone.
  static Result<Schedule> Make(std::string_view cron, std::string_view zone);

  // The first fire strictly after `after` (one per instant).
  Result<Fire> NextAfter(SysSeconds after) const;
  // The fire after `last`, a fire this schedule gave: the next nominal time
  // whose instant is after last.at, or equal to it when that time is not in
  // a gap (the rules above). What the scheduler walks.
  Result<Fire> NextAfter(const Fire& last) const;
  // The fire that stands for nominal local time `nominal` (the rules above),
  // whether or not the expression matches it.
  Fire FireOf(LocalMinutes nominal) const { return Place(nominal); }

  const CronExpr& cron() const { return cron_; }
  const std::string& zone_name() const { return zone_name_; }

 private:
  Schedule(CronExpr cron, const date::time_zone* zone, std::string zone_name)
      : cron_(std::move(cron)), zone_(zone), zone_name_(std::move(zone_name)) {}
  // The instant a nominal local time fires at (the rules above); `in_gap`,
  // when given, is set to whether it falls in a spring-forward gap.
  Fire Place(LocalMinutes nominal, bool* in_gap = nullptr) const;
  // The first match at or after `from`; InvalidJob when none in 100 years.
  Result<LocalMinutes> Match(LocalMinutes from) const;

  CronExpr cron_;
  const date::time_zone* zone_;  // owned by the process-wide tz database
  std::string zone_name_;
};

// The IANA zone called `name`; InvalidJob when there is none.
Result<const date::time_zone*> FindZone(std::string_view name);

// "2026-03-29T03:00:00+02:00": the fire instant with the zone's offset.
std::string FormatRfc3339(const Fire& fire);

// "{name}-{YYYYMMDDTHHMM}" of the fire's nominal local time.
std::string ScheduledRunId(std::string_view job_name, const Fire& fire);

// The nominal local time of a run id made by ScheduledRunId for `job_name`;
// nullopt for any other id (a trigger run's, one given with --run-id).
std::optional<LocalMinutes> ParseScheduledRunId(std::string_view job_name, std::string_view run_id);

// Parses an RFC 3339 time ("2026-03-29T01:30:00Z", "...+05:45", fractional
// seconds dropped; 't'/'z' and a space for 'T' accepted). The offset is
// required: without one the instant would be ambiguous.
Result<SysSeconds> ParseRfc3339(std::string_view text);

}  // namespace nightshift::sched
