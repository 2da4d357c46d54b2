// `run --worker-index I --workers N [--wait]`: this process as one of N
// workers of a run (docs/cli.md, "Many workers"). When the flags are not
// given they default from the array job that started the process:
//   Kubernetes Indexed Job  JOB_COMPLETION_INDEX (N from --workers)
//   Slurm job array         SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN,
//                           SLURM_ARRAY_TASK_COUNT
//   AWS Batch array job     AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JOB_ARRAY_SIZE
// and otherwise to worker 0 of 1.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>

#include "nightshift/engine.h"
#include "nightshift/status.h"

namespace nightshift::cli {

struct WorkerArgs {
  std::optional<int64_t> index;    // --worker-index
  std::optional<int64_t> workers;  // --workers
  bool wait = false;               // --wait
};

// Adds the three flags to the `run` subcommand.
void AddWorkerFlags(CLI::App* run, WorkerArgs* args);

// Fills options->worker_index, workers and wait from `args` and, for what
// the flags leave out, the environment (`getenv`, e.g. std::getenv).
// InvalidJob naming the flag or variable when a value is not an integer,
// N < 1, or the index is outside [0, N).
Status ResolveWorkers(const WorkerArgs& args, const std::function<const char*(const char*)>& getenv,
                      RunOptions* options);

}  // namespace nightshift::cli
