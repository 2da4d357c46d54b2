#include "sched/cron.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <span>
#include <vector>

namespace nightshift::sched {

// Builds a CronExpr field by field (a friend, so the bitsets stay private).
struct CronFieldParser {
  static Result<CronExpr> Parse(std::string_view text);
};

namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"SUN", "MON", "TUE", "WED",
                                                           "THU", "FRI", "SAT"};

struct FieldInfo {
  std::string_view name;
  int min;
  int max;
  std::span<const std::string_view> names;  // names[i] stands for min + i
};

constexpr FieldInfo kFields[] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day-of-month", 1, 31, {}},
    {"month", 1, 12, kMonthNames},
    // 7 is accepted as Sunday and folded onto 0 after parsing.
    {"day-of-week", 0, 7, kWeekdayNames},
};

struct Shortcut {
  std::string_view name;
  std::string_view expansion;
};
constexpr Shortcut kShortcuts[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

// Days in each month of a leap year: a day-of-month that fits here fires in
// some year.
constexpr int kMaxDays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// One value of a field: a number or (month, day-of-week) a three-letter name.
Result<int> ParseValue(const FieldInfo& f, std::string_view token) {
  if (token.empty()) return Error(Code::kInvalidJob, "a value is missing");
  int value = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec == std::errc() && ptr == token.data() + token.size()) {
    if (value < f.min || value > f.max) {
      return Error(Code::kInvalidJob, fmt::format("{} is out of range {}-{}", token, f.min, f.max));
    }
    return value;
  }
  const std::string upper = Upper(token);
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (f.names[i] == upper) return f.min + static_cast<int>(i);
  }
  if (!f.names.empty()) {
    return Error(Code::kInvalidJob, fmt::format("'{}' is not a number {}-{} or a name like {}",
                                                token, f.min, f.max, f.names[0]));
  }
  return Error(Code::kInvalidJob, fmt::format("'{}' is not a number {}-{}", token, f.min, f.max));
}

// One comma-separated item: `*`, `*/S`, `A`, `A-B` or `A-B/S`; sets its bits.
Status ParseItem(const FieldInfo& f, std::string_view item, uint64_t* bits) {
  std::string_view range = item;
  int step = 1;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    std::string_view step_text = item.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
    if (step_text.empty() || ec != std::errc() || ptr != step_text.data() + step_text.size() ||
        step < 1 || step > f.max) {
      return Status(Code::kInvalidJob,
                    fmt::format("step '{}' must be a number 1-{}", step_text, f.max));
    }
    if (range != "*" && range.find('-') == std::string_view::npos) {
      return Status(Code::kInvalidJob,
                    fmt::format("'{}': a step needs '*' or a range (like {}-{}/{})", item, range,
                                f.max, step_text));
    }
  }
  int lo = f.min, hi = f.max;
  if (range != "*") {
    const size_t dash = range.find('-');
    NS_ASSIGN_OR_RETURN(lo, ParseValue(f, range.substr(0, dash)));
    hi = lo;
    if (dash != std::string_view::npos) {
      NS_ASSIGN_OR_RETURN(hi, ParseValue(f, range.substr(dash + 1)));
      if (hi < lo) {
        return Status(Code::kInvalidJob, fmt::format("range '{}' runs backwards", range));
      }
    }
  }
  for (int v = lo; v <= hi; v += step) *bits |= uint64_t{1} << v;
  return Status::Ok();
}

Result<uint64_t> ParseField(const FieldInfo& f, std::string_view field) {
  uint64_t bits = 0;
  size_t start = 0;
  while (true) {
    const size_t comma = field.find(',', start);
    std::string_view item = field.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return Error(Code::kInvalidJob, "an empty list item");
    NS_RETURN_IF_ERROR(ParseItem(f, item, &bits));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return bits;
}

std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

template <size_t N>
void CopyBits(uint64_t bits, int offset, std::bitset<N>* out) {
  for (size_t i = 0; i < N; ++i) (*out)[i] = (bits >> (i + offset)) & 1;
}

}  // namespace

Result<CronExpr> CronFieldParser::Parse(std::string_view text) {
  CronExpr expr;
  expr.text_ = std::string(text);
  std::vector<std::string_view> fields = SplitFields(text);
  if (fields.size() == 1 && fields[0].starts_with('@')) {
    const std::string lower = [&] {
      std::string s(fields[0]);
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    }();
    const Shortcut* found = nullptr;
    for (const Shortcut& s : kShortcuts) {
      if (s.name == lower) found = &s;
    }
    if (!found) {
      return Error(Code::kInvalidJob,
                   fmt::format("cron '{}': unknown shortcut (valid: @yearly @annually @monthly "
                               "@weekly @daily @midnight @hourly)",
                               text));
    }
    fields = SplitFields(found->expansion);
  }
  if (fields.size() != 5) {
    return Error(Code::kInvalidJob,
                 fmt::format("cron '{}': expected 5 fields (minute hour day-of-month month "
                             "day-of-week) or an @shortcut, got {}",
                             text, fields.size()));
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; ++i) {
    Result<uint64_t> parsed = ParseField(kFields[i], fields[i]);
    if (!parsed) {
      return Error(Code::kInvalidJob, fmt::format("cron '{}': {}: {}", text, kFields[i].name,
                                                  parsed.error().message()));
    }
    bits[i] = *parsed;
  }
  if (bits[4] & (uint64_t{1} << 7)) bits[4] |= 1;  // 7 is Sunday too
  CopyBits(bits[0], 0, &expr.minutes_);
  CopyBits(bits[1], 0, &expr.hours_);
  CopyBits(bits[2], 0, &expr.days_);
  CopyBits(bits[3], 0, &expr.months_);
  CopyBits(bits[4], 0, &expr.weekdays_);
  expr.days_star_ = fields[2].starts_with('*');
  expr.weekdays_star_ = fields[4].starts_with('*');
  return expr;
}

namespace {

// When the day fields combine with AND (one starts with '*'), some listed day
// of the month must exist in some listed month: every (month, day) falls on
// every weekday over the years, so the weekday never makes it impossible.
// With OR, the weekday alone matches days in every month.
Status CheckCanFire(const CronExpr& expr, const std::bitset<32>& days,
                    const std::bitset<13>& months, bool or_rule) {
  if (or_rule) return Status::Ok();
  int first_day = 0;
  for (int d = 1; d <= 31 && first_day == 0; ++d) {
    if (days[d]) first_day = d;
  }
  for (int m = 1; m <= 12; ++m) {
    if (months[m] && first_day <= kMaxDays[m]) return Status::Ok();
  }
  return Status(Code::kInvalidJob,
                fmt::format("cron '{}': day-of-month: day {} never occurs in the months given, "
                            "so the expression never fires",
                            expr.text(), first_day));
}

}  // namespace

Result<CronExpr> CronExpr::Parse(std::string_view text) {
  NS_ASSIGN_OR_RETURN(CronExpr expr, CronFieldParser::Parse(text));
  NS_RETURN_IF_ERROR(
      CheckCanFire(expr, expr.days_, expr.months_, !expr.days_star_ && !expr.weekdays_star_));
  return expr;
}

bool CronExpr::MatchesDay(const date::year_month_day& ymd) const {
  if (!months_[static_cast<unsigned>(ymd.month())]) return false;
  const bool day = days_[static_cast<unsigned>(ymd.day())];
  const bool weekday = weekdays_[date::weekday(date::sys_days(ymd)).c_encoding()];
  // Vixie cron: a '*' field leaves the other in charge; two restricted fields OR.
  if (days_star_ || weekdays_star_) return day && weekday;
  return day || weekday;
}

std::optional<LocalMinutes> CronExpr::NextMatch(LocalMinutes from) const {
  using std::chrono::hours;
  using std::chrono::minutes;
  // Feb 29 on a given weekday (`0 0 29 2 */7`, AND rule) can be 40 years
  // away (2100 is no leap year); 100 years bounds every expression Parse
  // accepts, and skipping whole months keeps that search short.
  const LocalMinutes horizon = from + date::days(366 * 100);
  LocalMinutes t = from;
  while (t < horizon) {
    const date::local_days day = date::floor<date::days>(t);
    const date::year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      t = date::local_days{date::year_month_day{ymd.year() / ymd.month() / 1} + date::months(1)};
      continue;
    }
    if (!MatchesDay(ymd)) {
      t = day + date::days(1);
      continue;
    }
    const auto since_midnight = t - day;
    const int hour = static_cast<int>(std::chrono::floor<hours>(since_midnight).count());
    const int minute = static_cast<int>((since_midnight - hours(hour)).count());
    if (!hours_[hour]) {
      t = day + hours(hour + 1);
      continue;
    }
    int m = minute;
    while (m < 60 && !minutes_[m]) ++m;
    if (m == 60) {
      t = day + hours(hour + 1);
      continue;
    }
    return day + hours(hour) + minutes(m);
  }
  return std::nullopt;
}

}  // namespace nightshift::sched
