// Failures grouped by reason: rows that failed for the same reason (up to the
// numbers in it: "failed 3 time(s)", a row number) form one class. JSON logs
// write one line per class, the HTML report one table row per class, never
// one per row.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "obs/run_observer.h"

namespace nightshift::obs {

// The class of a failure reason: numbers become "#" (digits inside a name,
// as in column 'f2', stay), at most 200 bytes.
std::string FailureClass(std::string_view error);

struct FailureGroup {
  std::string reason;  // the class
  int64_t count = 0;
  std::vector<std::string> example_keys;  // JSON text of up to kExamples keys
};

// Counts failures by class (at most kMaxClasses; the rest under "other").
class FailureTally {
 public:
  static constexpr size_t kExamples = 3;
  static constexpr size_t kMaxClasses = 100;
  void Add(const std::string& error, const std::string& key_json);
  // Largest count first.
  std::vector<FailureGroup> Groups() const;

 private:
  std::map<std::string, FailureGroup> groups_;
};

// A RunObserver that tallies a run's failures and logs one json line per
// class ("items_failed") when asked at the end of the run.
class FailureLog : public RunObserver {
 public:
  void OnRunStarted(const std::string& job, const std::string& run_id, int workers) override;
  void OnShardCommitted(int64_t shard_id, int64_t rows_written,
                        const std::vector<ItemFailure>& failures) override;
  void LogClasses();

 private:
  std::mutex mu_;
  std::string job_, run_id_;
  FailureTally tally_;
};

}  // namespace nightshift::obs
