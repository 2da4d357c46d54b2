// The run's batch latencies, kept in the ledger as the run goes so that
// `nightshift report` can draw their distribution after the process is gone.
// Bounded whatever the run's size: a fixed set of log-spaced buckets (plus
// count, sum and max), stored as one JSON value under the ledger's tuning key
// BatchTimesKey(run_id) and rewritten after each shard commit. A resumed run
// adds to what its earlier invocations recorded.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nightshift/ledger.h"
#include "obs/run_observer.h"

namespace nightshift::obs {

std::string BatchTimesKey(const std::string& run_id);

struct BatchLatencies {
  // Upper bounds in seconds of each bucket; a last bucket takes the rest.
  static const std::vector<double>& Bounds();
  std::vector<int64_t> counts = std::vector<int64_t>(Bounds().size() + 1, 0);
  int64_t n = 0;
  int64_t rows = 0;
  double sum = 0;
  double max = 0;

  void Add(double seconds, int64_t batch_rows);
  nlohmann::json ToJson() const;
  // Bad or foreign JSON gives an empty record (a report without the chart).
  static BatchLatencies FromJson(const std::string& text);
};

// Records the run's batches into the ledger (writes happen on the thread that
// commits shards, as the commit itself does).
class LedgerBatchRecorder : public RunObserver {
 public:
  // `ledger` nullptr: records nothing.
  LedgerBatchRecorder(Ledger* ledger, std::string run_id);
  void OnBatch(double seconds, int64_t rows) override;
  void OnShardCommitted(int64_t shard_id, int64_t rows_written,
                        const std::vector<ItemFailure>& failures) override;

 private:
  Ledger* ledger_;
  std::string run_id_;
  std::mutex mu_;
  BatchLatencies latencies_;
};

}  // namespace nightshift::obs
