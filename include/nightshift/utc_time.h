// UTC wall-clock text: the one place that turns unix milliseconds into the
// dates and timestamps nightshift writes (output paths, markers, status, logs).
#pragma once

#include <cstdint>
#include <string>

namespace nightshift {

// "2026-12-01" (the {date} of output paths).
std::string UtcDate(int64_t unix_ms);
// "2026-12-01T02:00:03Z" (whole seconds).
std::string UtcSeconds(int64_t unix_ms);
// "2026-12-01T02:00:03.456Z" (RFC 3339 with milliseconds).
std::string UtcMillis(int64_t unix_ms);

}  // namespace nightshift
