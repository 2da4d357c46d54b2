// Progress: what a person watching a run sees on stderr. On a terminal, a
// progress bar redrawn in place (rows done, rows/s, ETA); otherwise one log
// line per committed shard, and a progress line whenever nothing was logged
// for `log_every_s` (a slow shard must not leave a CI log silent), which is
// what orchestrators' log viewers want. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "obs/log.h"

namespace nightshift::obs {

class Progress {
 public:
  // `context`: the job and run id of its log lines.
  Progress(bool terminal, int64_t total_rows, int64_t rows_already_done, LogFields context = {},
           double log_every_s = 10);

  // Redraws the bar (terminal); logs a progress line if the last line is
  // `log_every_s` old (otherwise). `rows_done` counts this invocation.
  void Tick(int64_t rows_done);
  // Logs one committed shard (non-terminal only).
  void ShardCommitted(int64_t shard_id, int64_t rows_written, int64_t rows_failed,
                      int64_t rows_done);
  // Ends the bar line.
  void Finish(int64_t rows_done);

  // "1,234,567"
  static std::string Thousands(int64_t n);
  // "3m05s", "12s", "1h02m"
  static std::string Duration(double seconds);

  // The one line that starts a run's log, before any shard is done.
  // `batch_size` 0: batch.size auto, chosen next.
  static void LogPlan(const std::string& job, const std::string& run_id, int64_t files,
                      int64_t rows, int64_t shards, int64_t shards_to_do, int64_t batch_size);

 private:
  std::string Line(int64_t rows_done, double elapsed) const;

  const bool terminal_;
  const int64_t total_;
  const int64_t already_;
  const std::chrono::steady_clock::time_point start_;
  const std::chrono::duration<double> log_every_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_line_;  // of the log (non-terminal)
  bool drawn_ = false;
  const LogFields context_;
};

}  // namespace nightshift::obs
