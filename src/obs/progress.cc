#include "obs/progress.h"

#include <fmt/format.h>

#include <cstdio>

namespace nightshift::obs {

Progress::Progress(bool terminal, int64_t total_rows, int64_t rows_already_done, LogFields context,
                   double log_every_s)
    : terminal_(terminal),
      total_(total_rows),
      already_(rows_already_done),
      start_(std::chrono::steady_clock::now()),
      log_every_(log_every_s),
      last_line_(start_),
      context_(std::move(context)) {}

void Progress::LogPlan(const std::string& job, const std::string& run_id, int64_t files,
                       int64_t rows, int64_t shards, int64_t shards_to_do, int64_t batch_size) {
  // JSON: batch_size is a number, or null with batch_auto (chosen next, in
  // batch_size_chosen).
  Log(LogLevel::kInfo, "run_planned",
      fmt::format("run {}: {} input file(s), {} rows, {} shard(s) ({} to do), batch size {}",
                  run_id, files, Thousands(rows), shards, shards_to_do,
                  batch_size > 0 ? std::to_string(batch_size) : "auto"),
      LogFields(job, run_id, -1,
                {{"files", files},
                 {"rows", rows},
                 {"shards", shards},
                 {"shards_to_do", shards_to_do},
                 {"batch_size", batch_size > 0 ? nlohmann::json(batch_size) : nlohmann::json()},
                 {"batch_auto", batch_size <= 0}}));
}

std::string Progress::Thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string Progress::Duration(double seconds) {
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

std::string Progress::Line(int64_t rows_done, double elapsed) const {
  int64_t done = already_ + rows_done;
  double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  const int width = 30;
  int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  double rate = elapsed > 0 ? static_cast<double>(rows_done) / elapsed : 0;
  std::string eta = rate > 0 ? Duration(static_cast<double>(total_ - done) / rate) : "?";
  return fmt::format("[{}] {:3.0f}% {}/{} rows  {} rows/s  ETA {}", bar, frac * 100,
                     Thousands(done), Thousands(total_), Thousands(static_cast<int64_t>(rate)),
                     eta);
}

void Progress::Tick(int64_t rows_done) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  if (!terminal_) {
    if (now - last_line_ < log_every_) return;
    last_line_ = now;
    LogFields f = context_;
    f.extra = {{"rows_done", already_ + rows_done}, {"rows_total", total_}};
    Log(LogLevel::kInfo, "progress", "progress " + Line(rows_done, elapsed), f);
    return;
  }
  std::fprintf(stderr, "\r%s\x1b[K", Line(rows_done, elapsed).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::ShardCommitted(int64_t shard_id, int64_t rows_written, int64_t rows_failed,
                              int64_t rows_done) {
  if (terminal_) return;
  std::lock_guard<std::mutex> lock(mu_);
  last_line_ = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(last_line_ - start_).count();
  LogFields f = context_;
  f.shard = shard_id;
  f.extra = {{"rows_written", rows_written},
             {"rows_failed", rows_failed},
             {"rows_done", already_ + rows_done},
             {"rows_total", total_}};
  Log(LogLevel::kInfo, "shard_committed",
      fmt::format("committed shard {} ({} rows, {} failed) {}", shard_id, Thousands(rows_written),
                  Thousands(rows_failed), Line(rows_done, elapsed)),
      f);
}

void Progress::Finish(int64_t rows_done) {
  if (!terminal_ || !drawn_) return;
  Tick(rows_done);
  std::fprintf(stderr, "\n");
}

}  // namespace nightshift::obs
