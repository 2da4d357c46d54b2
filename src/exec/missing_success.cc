#include "exec/missing_success.h"

#include "exec/open_sink.h"
#include "exec/task_runner.h"
#include "nightshift/env.h"
#include "obs/log.h"

namespace nightshift::exec {

Status WriteMissingSuccess(const JobSpec& job, JobContext& ctx, Ledger* ledger,
                           const RunRecord& run, Env* env) {
  if (!ledger->shared() || run.state != RunState::kCompleted || IsDatabase(job.output.format))
    return Status::Ok();
  auto there = env->Stat(JoinPath(run.output_path, "_SUCCESS"));
  if (there.has_value()) return Status::Ok();
  if (there.error().code() != Code::kNotFound) return Error(there.error());
  NS_ASSIGN_OR_RETURN(SinkLayout layout, MakeSinkLayout(job, ctx, run, env));
  NS_ASSIGN_OR_RETURN(auto sink, OpenSink(job, run, std::move(layout), ledger));
  if (Status w = WriteManifest(job, sink.get(), ledger, run, env); !w.ok()) {
    // Another worker restoring it at the same time (or the run's finisher,
    // late) may have removed our temp file: its _SUCCESS is as good.
    if (env->Stat(JoinPath(run.output_path, "_SUCCESS")).has_value()) return Status::Ok();
    return w;
  }
  obs::Log(obs::LogLevel::kWarn, "success_restored",
           "run " + run.run_id +
               " was completed by a worker that stopped before writing _SUCCESS: written now",
           obs::LogFields(job.name, run.run_id));
  return Status::Ok();
}

}  // namespace nightshift::exec
