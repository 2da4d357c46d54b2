#include "sched/job_lock.h"

#include "exec/run_owner.h"

namespace nightshift::sched {

JobLock::JobLock(Ledger* ledger, const std::string& job_name, Env* env, RunOwner me)
    : ledger_(ledger), name_("schedule:" + job_name), env_(env), me_(std::move(me)) {}

Result<JobLock::Change> JobLock::Poll(int64_t now_micros) {
  const int64_t every = held_ ? kRenewMicros : kRetryMicros;
  if (last_poll_ >= 0 && now_micros - last_poll_ < every) return Change::kNone;
  last_poll_ = now_micros;
  if (held_) {
    Status renewed = ledger_->RenewLock(name_, me_);
    if (renewed.ok()) return Change::kNone;
    if (renewed.code() != Code::kFailed) return Error(renewed);
    held_ = false;
    return Change::kLost;
  }
  NS_ASSIGN_OR_RETURN(RunAcquisition got,
                      ledger_->AcquireLock(name_, me_, [this](const RunOwner& holder) {
                        return exec::OwnerGone(env_, holder, env_->NowMicros() / 1000);
                      }));
  holder_ = got.holder;
  held_ = got.acquired;
  return held_ ? Change::kTaken : Change::kNone;
}

Status JobLock::Release() {
  if (!held_) return Status::Ok();
  held_ = false;
  return ledger_->ReleaseLock(name_, me_);
}

}  // namespace nightshift::sched
