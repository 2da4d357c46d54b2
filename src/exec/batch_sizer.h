// BatchSizer: chooses `batch.size: auto`.
//
// Probes increasing batch sizes (64, 128, ... up to 16384) on real rows of the
// run's first pending shard, timing the model on each, and stops where
// throughput stops improving by more than 5% (two sizes in a row), where one
// call takes 0.2 s (the pipeline's per-batch cost is amortised many times
// over), or where a batch's memory would pass its budget:
//   - host: input and output tensors plus the growth of the process's peak
//     RSS while probing (a stand-in for activations) within `batch.max_memory`;
//   - device (a GPU instance, ModelInstance::QueryDeviceMemory): the device
//     memory the probe has taken since it started (libtorch keeps what a
//     batch needed cached, so this is the largest batch's working set),
//     times model.instances, within a safety margin of the free memory at the
//     start. The next size is tried only when its projected need (linear in
//     rows) fits.
// Then the sizes within 10% of the best are timed again, interleaved, and the
// fastest wins: a plateau is resolved by measurement, not by order, and a
// burst of load on a noisy machine cannot favour one size.
// Each size is timed as the fastest of its calls (noise only adds time).
//
// The choice is cached in the ledger per model hash, device, threads and
// input width, so later runs start at it without probing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/ledger.h"
#include "nightshift/source.h"

namespace nightshift::exec {

struct BatchProbe {
  int64_t size = 0;
  double rows_per_s = 0;
  int64_t bytes = 0;         // estimated host memory of one batch in flight
  int64_t device_bytes = 0;  // device memory taken since the probe started (GPU)
};

struct BatchSizeChoice {
  int64_t size = 1024;
  bool cached = false;                          // taken from the ledger, no probe run
  std::vector<BatchProbe> probes;               // what was measured (empty when cached)
  std::optional<DeviceMemory> device_at_start;  // when the instance has a device
  int64_t device_budget = 0;                    // bytes one instance's batches may take (GPU)
};

struct SizerLimits {
  int64_t max_memory = int64_t{1} << 30;  // batch.max_memory (host bytes per batch)
  int instances = 1;                      // model.instances, each running a batch at once
  double device_margin = 0.8;             // fraction of free device memory batches may take
};

// The ledger key under which a run records the batch size it used (status).
std::string RunBatchSizeKey(const std::string& run_id);

// The cache key for a model/device/threads/input-width combination.
std::string BatchSizeKey(const std::string& model_sha256, const std::string& device, int threads,
                         const ReadLayout& layout);

// Picks the batch size. `shard` is the first pending shard (its rows are the
// probe data). Errors only when the input cannot be read; a model that fails
// on every probe size falls back to the smallest size (the run then reports
// the failures). `now` (seconds) times the probe calls; tests pass a
// simulated clock.
Result<BatchSizeChoice> ChooseBatchSize(ModelInstance* instance, Source* source,
                                        const ReadLayout& layout, const ShardTask& shard,
                                        const SizerLimits& limits, Ledger* ledger,
                                        const std::string& cache_key,
                                        const std::function<double()>& now = nullptr);

}  // namespace nightshift::exec
