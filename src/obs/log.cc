#include "obs/log.h"

#include <cstdio>
#include <mutex>

#include "nightshift/env.h"
#include "nightshift/utc_time.h"

namespace nightshift::obs {
namespace {

std::mutex g_mu;
LogFormat g_format = LogFormat::kText;
LogTap g_tap;

void Write(LogLevel level, std::string_view event, std::string_view text, const LogFields& fields,
           bool json_only) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_format == LogFormat::kJson) {
    std::string line = JsonLine(Env::Default()->NowMillis(), level, event, text, fields)
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::fprintf(stderr, "%s\n", line.c_str());
  } else if (!json_only) {
    std::fprintf(stderr, "nightshift: %.*s\n", static_cast<int>(text.size()), text.data());
  }
  std::fflush(stderr);
  if (g_tap) g_tap(level, event, text);
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool ParseLogFormat(std::string_view name, LogFormat* format) {
  if (name == "text") {
    *format = LogFormat::kText;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

void SetLogFormat(LogFormat format) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_format = format;
}

LogFormat GetLogFormat() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_format;
}

void SetLogTap(LogTap tap) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_tap = std::move(tap);
}

nlohmann::json JsonLine(int64_t unix_ms, LogLevel level, std::string_view event,
                        std::string_view text, const LogFields& fields) {
  nlohmann::json j = {
      {"ts", UtcMillis(unix_ms)}, {"level", LogLevelName(level)}, {"event", event}, {"msg", text}};
  if (!fields.job.empty()) j["job"] = fields.job;
  if (!fields.run_id.empty()) j["run_id"] = fields.run_id;
  if (fields.shard >= 0) j["shard"] = fields.shard;
  if (fields.extra.is_object()) {
    for (const auto& [k, v] : fields.extra.items()) j[k] = v;
  }
  return j;
}

void Log(LogLevel level, std::string_view event, std::string_view text, const LogFields& fields) {
  Write(level, event, text, fields, false);
}

void LogJsonOnly(LogLevel level, std::string_view event, std::string_view text,
                 const LogFields& fields) {
  Write(level, event, text, fields, true);
}

}  // namespace nightshift::obs
