// SharedView: a Ledger that presents a SQLite ledger as a shared one
// (shared() true), so that tests reach the worker code paths (one claim at a
// time, fencing, CompleteRunIfDone) without a PostgreSQL server. Its claims
// are SQLite's: a shard running under another process identity is claimable
// whatever its lease, which is how a test makes a worker lose a claim.
// Tests only.
#pragma once

#include <memory>
#include <utility>

#include "nightshift/ledger.h"

namespace nightshift::exec {

class SharedView final : public Ledger {
 public:
  explicit SharedView(std::unique_ptr<Ledger> base) : base_(std::move(base)) {}
  bool shared() const override { return true; }

  Result<RunRecord> CreateOrAttachRun(const RunRecord& run,
                                      const std::vector<InputFileRecord>& files,
                                      const std::vector<ShardRecord>& shards) override {
    return base_->CreateOrAttachRun(run, files, shards);
  }
  Result<RunRecord> GetRun(const std::string& run_id) override { return base_->GetRun(run_id); }
  Result<RunRecord> LatestRun(const std::string& job_name) override {
    return base_->LatestRun(job_name);
  }
  Result<std::vector<RunRecord>> ListRuns(const std::string& job_name, int64_t limit) override {
    return base_->ListRuns(job_name, limit);
  }
  Result<std::vector<InputFileRecord>> ListFiles(const std::string& run_id) override {
    return base_->ListFiles(run_id);
  }
  Result<std::vector<ShardRecord>> ListShards(const std::string& run_id) override {
    return base_->ListShards(run_id);
  }
  Status SetRunState(const std::string& run_id, RunState state,
                     const std::string& message) override {
    return base_->SetRunState(run_id, state, message);
  }
  Status SetRunModel(const std::string& run_id, const std::string& model_path,
                     const std::string& model_sha256) override {
    return base_->SetRunModel(run_id, model_path, model_sha256);
  }
  Result<int64_t> ClaimShard(const std::string& run_id, int64_t shard_id) override {
    return base_->ClaimShard(run_id, shard_id);
  }
  Status CommitShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                     int64_t rows_written, const std::string& output_file,
                     const std::string& dead_letter_file,
                     const std::vector<ItemFailure>& failures) override {
    return base_->CommitShard(run_id, shard_id, epoch, rows_written, output_file, dead_letter_file,
                              failures);
  }
  Status FailShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                   const std::string& message) override {
    return base_->FailShard(run_id, shard_id, epoch, message);
  }
  Status CommitRetry(const std::string& run_id, int64_t shard_id, int32_t seq, int64_t rows_written,
                     const std::string& output_file, const std::string& dead_letter_file,
                     const std::vector<ItemFailure>& remaining) override {
    return base_->CommitRetry(run_id, shard_id, seq, rows_written, output_file, dead_letter_file,
                              remaining);
  }
  Result<std::vector<RetryPart>> ListRetryParts(const std::string& run_id) override {
    return base_->ListRetryParts(run_id);
  }
  Status SetRunInputs(const std::string& run_id, const RunInputs& inputs) override {
    return base_->SetRunInputs(run_id, inputs);
  }
  Result<std::optional<RunInputs>> GetRunInputs(const std::string& run_id) override {
    return base_->GetRunInputs(run_id);
  }
  Status ReplanRun(const std::string& run_id, const std::vector<InputFileRecord>& files,
                   const std::vector<ShardRecord>& shards, const RunInputs& inputs) override {
    return base_->ReplanRun(run_id, files, shards, inputs);
  }
  Result<RunCounts> Counts(const std::string& run_id) override { return base_->Counts(run_id); }
  Result<std::vector<ItemFailure>> ListFailures(const std::string& run_id, int64_t limit) override {
    return base_->ListFailures(run_id, limit);
  }
  Result<RunAcquisition> AcquireRun(
      const std::string& run_id, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& owner_gone) override {
    return base_->AcquireRun(run_id, me, owner_gone);
  }
  Status Heartbeat(const std::string& run_id, const RunOwner& me) override {
    return base_->Heartbeat(run_id, me);
  }
  Status ReleaseRun(const std::string& run_id, const RunOwner& me) override {
    return base_->ReleaseRun(run_id, me);
  }
  Result<std::optional<RunOwner>> GetRunOwner(const std::string& run_id) override {
    return base_->GetRunOwner(run_id);
  }
  Result<std::optional<ShardRecord>> ClaimNextShard(const std::string& run_id, const RunOwner& me,
                                                    const ClaimPolicy& policy) override {
    return base_->ClaimNextShard(run_id, me, policy);
  }
  Status RenewLeases(const std::string& run_id, const RunOwner& me,
                     const ClaimPolicy& policy) override {
    return base_->RenewLeases(run_id, me, policy);
  }
  Status CheckClaim(const std::string& run_id, int64_t shard_id, int64_t epoch,
                    int64_t margin_ms) override {
    return base_->CheckClaim(run_id, shard_id, epoch, margin_ms);
  }
  Result<bool> CompleteRunIfDone(const std::string& run_id) override {
    return base_->CompleteRunIfDone(run_id);
  }
  Result<std::vector<WorkerRecord>> ListWorkers(const std::string& run_id) override {
    return base_->ListWorkers(run_id);
  }
  Result<RunAcquisition> AcquireLock(
      const std::string& name, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& holder_gone) override {
    return base_->AcquireLock(name, me, holder_gone);
  }
  Status RenewLock(const std::string& name, const RunOwner& me) override {
    return base_->RenewLock(name, me);
  }
  Status ReleaseLock(const std::string& name, const RunOwner& me) override {
    return base_->ReleaseLock(name, me);
  }
  Result<std::optional<std::string>> GetTuning(const std::string& key) override {
    return base_->GetTuning(key);
  }
  Status PutTuning(const std::string& key, const std::string& value) override {
    return base_->PutTuning(key, value);
  }

 private:
  std::unique_ptr<Ledger> base_;
};

}  // namespace nightshift::exec
