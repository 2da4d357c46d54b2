// NIGHTSHIFT_TEST_BATCH_SLEEP_MS=N: a TEST AND BENCHMARK SEAM, not a feature.
// Every model instance of `run` sleeps N ms before each batch, standing in
// for a model whose time goes to a remote device (a GPU behind the network)
// rather than this host's CPUs: bench/coordination.py measures what many
// workers on one shared ledger cost with it, on a machine whose two cores
// could not otherwise show four workers' worth of model time. ONNX has no
// sleep operator, so the delay is added around the real model through
// RunOptions::wrap_instance. Unset or empty: nothing changes. Read here only.
#pragma once

#include <functional>

#include "nightshift/engine.h"
#include "nightshift/status.h"

namespace nightshift::cli {

// Sets options->wrap_instance when the variable is set; InvalidJob when its
// value is not a whole number of milliseconds in [0, 60000].
Status ApplyTestBatchSleep(const std::function<const char*(const char*)>& getenv,
                           RunOptions* options);

}  // namespace nightshift::cli
