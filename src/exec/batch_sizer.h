// BatchSizer: chooses `batch.size: auto`.
//
// Probes increasing batch sizes (64, 128, ... up to 16384) on real rows of the
// run's first pending shard, timing the model on each, and stops where
// throughput stops improving by more than 5% or where the batch's memory
// (input and output tensors plus the growth of the process's peak RSS while
// probing, as a stand-in for activations) would pass `batch.max_memory`.
// The choice is cached in the ledger per model hash, device, threads and
// input width, so later runs start at it without probing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/ledger.h"
#include "nightshift/source.h"

namespace nightshift::exec {

struct BatchProbe {
  int64_t size = 0;
  double rows_per_s = 0;
  int64_t bytes = 0;  // estimated memory of one batch in flight
};

struct BatchSizeChoice {
  int64_t size = 1024;
  bool cached = false;             // taken from the ledger, no probe run
  std::vector<BatchProbe> probes;  // what was measured (empty when cached)
};

// The ledger key under which a run records the batch size it used (status).
std::string RunBatchSizeKey(const std::string& run_id);

// The cache key for a model/device/threads/input-width combination.
std::string BatchSizeKey(const std::string& model_sha256, const std::string& device, int threads,
                         const ReadLayout& layout);

// Picks the batch size. `shard` is the first pending shard (its rows are the
// probe data). Errors only when the input cannot be read; a model that fails
// on every probe size falls back to 1024 (the run then reports the failures).
// `now` (seconds) times the probe calls; tests pass a simulated clock.
Result<BatchSizeChoice> ChooseBatchSize(ModelInstance* instance, Source* source,
                                        const ReadLayout& layout, const ShardTask& shard,
                                        int64_t max_memory, Ledger* ledger,
                                        const std::string& cache_key,
                                        const std::function<double()>& now = nullptr);

}  // namespace nightshift::exec
