#include "exec/run_owner.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "nightshift/utc_time.h"
#include "obs/log.h"

namespace nightshift::exec {

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

namespace {

std::unexpected<Status> Refusal(const std::string& run_id, const RunOwner& holder) {
  return Error(Code::kInvalidJob,
               fmt::format("run {} is being run by pid {} on host {} since {}; wait for it to "
                           "finish, or stop it (SIGTERM) and run again to resume",
                           run_id, holder.pid, holder.host, UtcSeconds(holder.acquired_at_ms)));
}

// `busy` (the ledger's write lock could not be had) explained: a live owner
// of the run may be the one holding it, in the middle of a commit, or
// stopped (SIGSTOP) there. Its record is still readable (SQLite's WAL lets
// readers past a writer): the refusal names it; otherwise `busy` stands.
Status ExplainBusy(Ledger* ledger, const std::string& run_id, const RunOwner& me, Env* env,
                   Status busy) {
  auto holder = ledger->GetRunOwner(run_id);
  if (!holder.has_value() || !holder->has_value()) return busy;
  const RunOwner& h = **holder;
  if (h.SameProcess(me) || OwnerGone(env, h, env->NowMicros() / 1000)) return busy;
  return Refusal(run_id, h).error();
}

}  // namespace

Result<std::unique_ptr<RunOwnership>> RunOwnership::Acquire(Ledger* ledger,
                                                            const std::string& run_id, Env* env) {
  RunOwner me = ThisProcess(env);
  auto got = ledger->AcquireRun(run_id, me, [env](const RunOwner& holder) {
    return OwnerGone(env, holder, env->NowMicros() / 1000);
  });
  if (!got.has_value() && got.error().code() == Code::kTransient) {
    return Error(ExplainBusy(ledger, run_id, me, env, got.error()));
  }
  if (!got.has_value()) return Error(got.error());
  if (!got->acquired) return Refusal(run_id, got->holder);
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
    if (!s.ok())
      obs::Log(obs::LogLevel::kWarn, "warning", "warning: " + s.message(),
               obs::LogFields("", run_id_));
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
  if (!s.ok())
    obs::Log(obs::LogLevel::kWarn, "warning", "warning: " + s.message(),
             obs::LogFields("", run_id_));
}

}  // namespace nightshift::exec
