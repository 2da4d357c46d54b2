#include "sched/schedule.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <exception>
#include <sstream>

namespace nightshift::sched {

namespace {

// Howard Hinnant's date 3.0.1, reading the OS zoneinfo, ignores the rule in a
// TZif file's footer that carries daylight saving past the file's last listed
// transition (2037): later times would keep the last offset (New York on EST
// all summer). Between 1901 and 2099 the calendar repeats every 28 years
// (10227 days: same weekdays, same leap years) and DST rules go by weekday,
// so a time after 2037 is looked up 28·k years earlier, as the footer would.
constexpr int kLastListedYear = 2037;
constexpr date::days kCalendarCycle{10227};

date::days CycleShift(date::year year) {
  const int y = static_cast<int>(year);
  if (y <= kLastListedYear || y > 2099) return date::days{0};
  return kCalendarCycle * ((y - kLastListedYear + 27) / 28);
}

date::year YearOf(date::local_seconds t) {
  return date::year_month_day{date::floor<date::days>(t)}.year();
}

}  // namespace

Result<const date::time_zone*> FindZone(std::string_view name) {
  if (name.empty()) return Error(Code::kInvalidJob, "the time zone name is empty");
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return Error(Code::kInvalidJob,
                 fmt::format("unknown time zone '{}' (expected an IANA name like Europe/Berlin "
                             "or UTC)",
                             name));
  }
}

Result<Schedule> Schedule::Make(std::string_view cron, std::string_view zone) {
  NS_ASSIGN_OR_RETURN(CronExpr expr, CronExpr::Parse(cron));
  NS_ASSIGN_OR_RETURN(const date::time_zone* tz, FindZone(zone));
  return Schedule(std::move(expr), tz, std::string(zone));
}

Fire Schedule::Place(LocalMinutes nominal, bool* in_gap) const {
  const date::local_seconds local{nominal};
  const date::days shift = CycleShift(YearOf(local));
  const date::local_info info = zone_->get_info(local - shift);
  Fire fire{SysSeconds{}, nominal, info.first.offset};
  if (in_gap != nullptr) *in_gap = info.result == date::local_info::nonexistent;
  if (info.result == date::local_info::nonexistent) {
    // In the gap: the first instant after it, when the new offset begins.
    fire.at = info.second.begin + shift;
    fire.offset = info.second.offset;
  } else {
    // Unique, or ambiguous (fall back): `first` is the earlier occurrence.
    fire.at = SysSeconds{local.time_since_epoch() - info.first.offset};
  }
  return fire;
}

Result<Fire> Schedule::NextAfter(SysSeconds after) const {
  // Place() is non-decreasing in the nominal time (gap times move to the gap's
  // end, repeated times to their first pass), so the first match whose
  // instant is after `after` is the answer. Nominal times before the local
  // time of `after` all fire at or before it.
  const SysSeconds start = date::floor<std::chrono::seconds>(after);
  const date::days shift = CycleShift(YearOf(date::local_seconds{start.time_since_epoch()}));
  LocalMinutes from = date::floor<std::chrono::minutes>(zone_->to_local(start - shift) + shift);
  while (true) {
    NS_ASSIGN_OR_RETURN(LocalMinutes match, Match(from));
    Fire fire = Place(match);
    if (fire.at > after) return fire;
    from = match + std::chrono::minutes(1);
  }
}

Result<Fire> Schedule::NextAfter(const Fire& last) const {
  LocalMinutes from = last.nominal + std::chrono::minutes(1);
  while (true) {
    NS_ASSIGN_OR_RETURN(LocalMinutes match, Match(from));
    bool in_gap = false;
    Fire fire = Place(match, &in_gap);
    if (fire.at > last.at || (fire.at == last.at && !in_gap)) return fire;
    from = match + std::chrono::minutes(1);
  }
}

Result<LocalMinutes> Schedule::Match(LocalMinutes from) const {
  std::optional<LocalMinutes> match = cron_.NextMatch(from);
  if (!match) {
    return Error(Code::kInvalidJob,
                 fmt::format("cron '{}' has no fire time within 100 years after {}", cron_.text(),
                             date::format("%F %R", from)));
  }
  return *match;
}

std::string FormatRfc3339(const Fire& fire) {
  const auto local = date::local_seconds{fire.at.time_since_epoch() + fire.offset};
  const long long total = fire.offset.count();
  const long long minutes = (total < 0 ? -total : total) / 60;
  return fmt::format("{}{}{:02}:{:02}", date::format("%FT%T", local), total < 0 ? '-' : '+',
                     minutes / 60, minutes % 60);
}

std::string ScheduledRunId(std::string_view job_name, const Fire& fire) {
  return fmt::format("{}-{}", job_name, date::format("%Y%m%dT%H%M", fire.nominal));
}

namespace {
bool Digits(std::string_view s, size_t* pos, size_t width, int* out);
}  // namespace

std::optional<LocalMinutes> ParseScheduledRunId(std::string_view job_name,
                                                std::string_view run_id) {
  // "{name}-YYYYMMDDTHHMM"
  if (run_id.size() != job_name.size() + 14 || !run_id.starts_with(job_name) ||
      run_id[job_name.size()] != '-' || run_id[job_name.size() + 9] != 'T') {
    return std::nullopt;
  }
  const std::string_view stamp = run_id.substr(job_name.size() + 1);
  size_t p = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  if (!Digits(stamp, &p, 4, &y) || !Digits(stamp, &p, 2, &mo) || !Digits(stamp, &p, 2, &d)) {
    return std::nullopt;
  }
  ++p;  // 'T'
  if (!Digits(stamp, &p, 2, &h) || !Digits(stamp, &p, 2, &mi) || h > 23 || mi > 59) {
    return std::nullopt;
  }
  const date::year_month_day ymd{date::year(y), date::month(static_cast<unsigned>(mo)),
                                 date::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  return LocalMinutes{date::local_days(ymd).time_since_epoch() + std::chrono::hours(h) +
                      std::chrono::minutes(mi)};
}

namespace {

// Reads exactly `width` digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, size_t width, int* out) {
  if (*pos + width > s.size()) return false;
  for (size_t i = 0; i < width; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[*pos + i]))) return false;
  }
  std::from_chars(s.data() + *pos, s.data() + *pos + width, *out);
  *pos += width;
  return true;
}

bool Expect(std::string_view s, size_t* pos, std::string_view chars) {
  if (*pos >= s.size() || chars.find(s[*pos]) == std::string_view::npos) return false;
  ++*pos;
  return true;
}

}  // namespace

Result<SysSeconds> ParseRfc3339(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(Code::kInvalidJob,
                 fmt::format("'{}' is not an RFC 3339 time like 2026-03-29T01:30:00Z or "
                             "2026-03-29T03:30:00+02:00 ({})",
                             text, why));
  };
  size_t p = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!Digits(text, &p, 4, &y) || !Expect(text, &p, "-") || !Digits(text, &p, 2, &mo) ||
      !Expect(text, &p, "-") || !Digits(text, &p, 2, &d) || !Expect(text, &p, "Tt ") ||
      !Digits(text, &p, 2, &h) || !Expect(text, &p, ":") || !Digits(text, &p, 2, &mi) ||
      !Expect(text, &p, ":") || !Digits(text, &p, 2, &sec)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  if (p < text.size() && text[p] == '.') {
    ++p;
    const size_t start = p;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p]))) ++p;
    if (p == start) return bad("no digits after '.'");
  }
  int offset_minutes = 0;
  if (Expect(text, &p, "Zz")) {
  } else if (p < text.size() && (text[p] == '+' || text[p] == '-')) {
    const int sign = text[p++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!Digits(text, &p, 2, &oh) || !Expect(text, &p, ":") || !Digits(text, &p, 2, &om) ||
        oh > 23 || om > 59) {
      return bad("the offset must be +HH:MM or -HH:MM");
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad("a UTC offset (Z or +HH:MM) is required");
  }
  if (p != text.size()) return bad("trailing characters");
  const date::year_month_day ymd{date::year(y), date::month(static_cast<unsigned>(mo)),
                                 date::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return bad("no such date or time");
  const auto local = date::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                     std::chrono::seconds(sec == 60 ? 59 : sec);
  return SysSeconds{local - std::chrono::minutes(offset_minutes)};
}

}  // namespace nightshift::sched
