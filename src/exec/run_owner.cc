#include "exec/run_owner.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "nightshift/utc_time.h"
#include "obs/log.h"

namespace nightshift::exec {
namespace {}  // namespace

RunOwner ThisProcess(Env* env) {
  RunOwner me;
  me.host = env->HostName();
  me.pid = env->ProcessId();
  auto start = env->ProcessStartTime(me.pid);
  me.start_time = start.has_value() ? *start : 0;
  return me;
}

bool OwnerGone(Env* env, const RunOwner& owner, int64_t now_ms) {
  if (owner.host != env->HostName()) return now_ms - owner.heartbeat_at_ms > kOwnerStaleMs;
  auto start = env->ProcessStartTime(owner.pid);
  if (!start.has_value()) return start.error().code() == Code::kNotFound;
  return *start != owner.start_time;
}

Result<std::unique_ptr<RunOwnership>> RunOwnership::Acquire(Ledger* ledger,
                                                            const std::string& run_id, Env* env) {
  RunOwner me = ThisProcess(env);
  NS_ASSIGN_OR_RETURN(RunAcquisition got,
                      ledger->AcquireRun(run_id, me, [env](const RunOwner& holder) {
                        return OwnerGone(env, holder, env->NowMicros() / 1000);
                      }));
  if (!got.acquired) {
    const RunOwner& h = got.holder;
    return Error(Code::kInvalidJob,
                 fmt::format("run {} is being run by pid {} on host {} since {}; wait for it to "
                             "finish, or stop it (SIGTERM) and run again to resume",
                             run_id, h.pid, h.host, UtcSeconds(h.acquired_at_ms)));
  }
  return std::unique_ptr<RunOwnership>(new RunOwnership(ledger, run_id, std::move(me)));
}

RunOwnership::RunOwnership(Ledger* ledger, std::string run_id, RunOwner me)
    : ledger_(ledger), run_id_(std::move(run_id)), me_(std::move(me)) {
  heartbeat_ = std::thread([this] { Beat(); });
}

void RunOwnership::Beat() {
  std::unique_lock<std::mutex> lock(mu_);
  while (
      !cv_.wait_for(lock, std::chrono::milliseconds(kHeartbeatEveryMs), [this] { return stop_; })) {
    Status s = ledger_->Heartbeat(run_id_, me_);
    // A busy ledger misses one beat, which the stale limit allows for.
    if (!s.ok()) obs::Log(obs::LogLevel::kWarn, "warning", "warning: " + s.message());
  }
}

RunOwnership::~RunOwnership() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  heartbeat_.join();
  Status s = ledger_->ReleaseRun(run_id_, me_);
  if (!s.ok()) obs::Log(obs::LogLevel::kWarn, "warning", "warning: " + s.message());
}

}  // namespace nightshift::exec
