#include "nightshift/utc_time.h"

#include <fmt/format.h>

#include <ctime>

namespace nightshift {
namespace {

std::string Format(int64_t unix_ms, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string UtcDate(int64_t unix_ms) {
  return Format(unix_ms, "%Y-%m-%d");
}

std::string UtcSeconds(int64_t unix_ms) {
  return Format(unix_ms, "%Y-%m-%dT%H:%M:%SZ");
}

std::string UtcMillis(int64_t unix_ms) {
  return fmt::format("{}.{:03d}Z", Format(unix_ms, "%Y-%m-%dT%H:%M:%S"), unix_ms % 1000);
}

}  // namespace nightshift
