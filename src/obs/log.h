// The one logger of nightshift's stderr lines. Two formats, chosen once per
// process by --log-format:
//   text (default): "nightshift: <text>\n", exactly the lines nightshift has
//                   always written (tests and users grep them);
//   json:           one JSON object per line with ts (RFC 3339), level, event,
//                   msg, and job / run_id / shard where they apply, plus the
//                   event's own fields.
// A tap (Dagster Pipes) may also receive every line. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace nightshift::obs {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

std::string_view LogLevelName(LogLevel level);
// "text" | "json"; false for anything else.
bool ParseLogFormat(std::string_view name, LogFormat* format);

void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();

struct LogFields {
  LogFields() = default;
  LogFields(std::string job_name, std::string run, int64_t shard_id = -1,
            nlohmann::json fields = nlohmann::json::object())
      : job(std::move(job_name)),
        run_id(std::move(run)),
        shard(shard_id),
        extra(std::move(fields)) {}
  std::string job;
  std::string run_id;
  int64_t shard = -1;  // -1: none
  nlohmann::json extra = nlohmann::json::object();
};

// Writes one line. `text` is the human line without the "nightshift: " prefix.
void Log(LogLevel level, std::string_view event, std::string_view text,
         const LogFields& fields = {});
// As Log, but only in the json format: lines that summarise what text mode
// already shows another way (per failure class at the end of a run).
void LogJsonOnly(LogLevel level, std::string_view event, std::string_view text,
                 const LogFields& fields = {});

// Receives every logged line (level, event, text) in either format; empty to
// remove. One tap per process.
using LogTap = std::function<void(LogLevel, std::string_view event, std::string_view text)>;
void SetLogTap(LogTap tap);

// The JSON object of one line (for tests and the logger itself).
nlohmann::json JsonLine(int64_t unix_ms, LogLevel level, std::string_view event,
                        std::string_view text, const LogFields& fields);

}  // namespace nightshift::obs
