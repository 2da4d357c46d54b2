#include "worker_flags.h"

#include <fmt/format.h>

#include <charconv>
#include <string>
#include <string_view>

namespace nightshift::cli {
namespace {

// Environment variable `name` as an integer: nullopt when unset or empty.
Result<std::optional<int64_t>> EnvInt(const std::function<const char*(const char*)>& getenv,
                                      const char* name) {
  const char* raw = getenv(name);
  if (raw == nullptr || *raw == '\0') return std::optional<int64_t>();
  std::string_view text(raw);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error(Code::kInvalidJob,
                 fmt::format("environment variable {}='{}' is not an integer", name, text));
  }
  return std::optional<int64_t>(value);
}

// Where the worker's index and count come from, when the flags are absent.
struct ArrayDefaults {
  std::optional<int64_t> index;
  std::optional<int64_t> workers;
  std::string source;          // for messages: the variable the index came from
  std::string workers_source;  // and the one the worker count came from
};

Result<ArrayDefaults> FromEnvironment(const std::function<const char*(const char*)>& getenv) {
  ArrayDefaults d;
  NS_ASSIGN_OR_RETURN(d.index, EnvInt(getenv, "JOB_COMPLETION_INDEX"));
  if (d.index.has_value()) {
    d.source = "JOB_COMPLETION_INDEX";
    return d;
  }
  NS_ASSIGN_OR_RETURN(d.index, EnvInt(getenv, "SLURM_ARRAY_TASK_ID"));
  if (d.index.has_value()) {
    d.source = "SLURM_ARRAY_TASK_ID";
    // --array=1-4 numbers tasks from 1: the index counts from the first.
    NS_ASSIGN_OR_RETURN(std::optional<int64_t> min, EnvInt(getenv, "SLURM_ARRAY_TASK_MIN"));
    *d.index -= min.value_or(0);
    NS_ASSIGN_OR_RETURN(d.workers, EnvInt(getenv, "SLURM_ARRAY_TASK_COUNT"));
    d.workers_source = "SLURM_ARRAY_TASK_COUNT";
    return d;
  }
  NS_ASSIGN_OR_RETURN(d.index, EnvInt(getenv, "AWS_BATCH_JOB_ARRAY_INDEX"));
  if (d.index.has_value()) {
    d.source = "AWS_BATCH_JOB_ARRAY_INDEX";
    NS_ASSIGN_OR_RETURN(d.workers, EnvInt(getenv, "AWS_BATCH_JOB_ARRAY_SIZE"));
    d.workers_source = "AWS_BATCH_JOB_ARRAY_SIZE";
  }
  return d;
}

}  // namespace

void AddWorkerFlags(CLI::App* run, WorkerArgs* args) {
  run->add_option("--worker-index", args->index,
                  "This worker's index I in [0, N): it prefers shards with shard % N == I "
                  "(default: from JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or "
                  "AWS_BATCH_JOB_ARRAY_INDEX, else 0)");
  run->add_option("--workers", args->workers,
                  "How many workers share the run, N (default: SLURM_ARRAY_TASK_COUNT or "
                  "AWS_BATCH_JOB_ARRAY_SIZE, else 1)");
  run->add_flag("--wait", args->wait,
                "With a shared ledger: exit only once the whole run is completed");
}

Status ResolveWorkers(const WorkerArgs& args, const std::function<const char*(const char*)>& getenv,
                      RunOptions* options) {
  NS_ASSIGN_OR_RETURN(ArrayDefaults env, FromEnvironment(getenv));
  const int64_t workers = args.workers.value_or(env.workers.value_or(1));
  const int64_t index = args.index.value_or(env.index.value_or(0));
  const std::string index_from = args.index.has_value() || env.source.empty()
                                     ? fmt::format("--worker-index {}", index)
                                     : fmt::format("worker index {} (from {})", index, env.source);
  if (workers < 1 || workers > INT32_MAX) {
    return Status(Code::kInvalidJob,
                  args.workers.has_value() || env.workers_source.empty()
                      ? fmt::format("--workers {} must be at least 1", workers)
                      : fmt::format("environment variable {}={} must be at least 1 (it is the "
                                    "number of workers)",
                                    env.workers_source, workers));
  }
  if (index < 0 || index >= workers) {
    return Status(Code::kInvalidJob,
                  fmt::format("{} is outside [0, {}): a worker index counts from 0 to --workers "
                              "- 1{}",
                              index_from, workers,
                              env.source == "JOB_COMPLETION_INDEX" && !args.workers.has_value()
                                  ? "; pass --workers N, the Job's completions"
                                  : ""));
  }
  options->worker_index = static_cast<int32_t>(index);
  options->workers = static_cast<int32_t>(workers);
  options->wait = args.wait;
  return Status::Ok();
}

}  // namespace nightshift::cli
