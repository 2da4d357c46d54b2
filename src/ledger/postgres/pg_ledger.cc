#include "ledger/postgres/pg_ledger.h"

#include <fmt/format.h>

#include <utility>

#include "ledger/postgres/pg_claims.h"
#include "ledger/postgres/pg_locks.h"
#include "ledger/postgres/pg_results.h"
#include "ledger/postgres/pg_runs.h"
#include "ledger/postgres/pg_schema.h"
#include "ledger/postgres/pg_session.h"

namespace nightshift {
namespace {

using pgledger::PgConn;
using pgledger::PgResult;
using pgledger::Session;
using pgledger::Txn;

// Every method is one statement or one transaction through the session
// (serialized, reconnecting once after a lost connection: kTransient).
class PgLedger final : public Ledger {
 public:
  explicit PgLedger(std::unique_ptr<Session> session) : session_(std::move(session)) {}

  Result<RunRecord> CreateOrAttachRun(const RunRecord& run,
                                      const std::vector<InputFileRecord>& files,
                                      const std::vector<ShardRecord>& shards) override {
    if (run.run_id.empty()) return Error(Code::kInternal, "CreateOrAttachRun: empty run id");
    return session_->Call(
        [&](PgConn* c) { return pgledger::CreateOrAttachRun(c, run, files, shards); });
  }

  Result<RunRecord> GetRun(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) -> Result<RunRecord> {
      NS_ASSIGN_OR_RETURN(std::optional<RunRecord> run, pgledger::FindRun(c, run_id));
      if (!run.has_value()) return Error(pgledger::NoSuchRun(c, run_id));
      return *std::move(run);
    });
  }

  Result<RunRecord> LatestRun(const std::string& job_name) override {
    return session_->Call([&](PgConn* c) -> Result<RunRecord> {
      NS_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, pgledger::SelectRuns(c, job_name, 1));
      if (runs.empty()) {
        return Error(Code::kNotFound,
                     fmt::format("no run of job '{}' in ledger {}", job_name, c->described()));
      }
      return std::move(runs.front());
    });
  }

  Result<std::vector<RunRecord>> ListRuns(const std::string& job_name, int64_t limit) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectRuns(c, job_name, limit); });
  }

  Result<std::vector<InputFileRecord>> ListFiles(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectFiles(c, run_id); });
  }

  Result<std::vector<ShardRecord>> ListShards(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectShards(c, run_id); });
  }

  Status SetRunState(const std::string& run_id, RunState state,
                     const std::string& message) override {
    return session_->Call(
        [&](PgConn* c) { return pgledger::UpdateRunState(c, run_id, state, message); });
  }

  Status SetRunModel(const std::string& run_id, const std::string& model_path,
                     const std::string& model_sha256) override {
    return session_->Call(
        [&](PgConn* c) { return pgledger::UpdateRunModel(c, run_id, model_path, model_sha256); });
  }

  Result<int64_t> ClaimShard(const std::string& run_id, int64_t shard_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::ClaimShard(c, run_id, shard_id); });
  }

  Status CommitShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                     int64_t rows_written, const std::string& output_file,
                     const std::string& dead_letter_file,
                     const std::vector<ItemFailure>& failures) override {
    NS_RETURN_IF_ERROR(CheckFailuresOfShard(run_id, shard_id, failures));
    return session_->Call([&](PgConn* c) {
      return pgledger::CommitShard(
          c, run_id, shard_id, epoch,
          pgledger::ShardCommitRecord{rows_written, output_file, dead_letter_file, failures});
    });
  }

  Status FailShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                   const std::string& message) override {
    return session_->Call(
        [&](PgConn* c) { return pgledger::FailShard(c, run_id, shard_id, epoch, message); });
  }

  Status CommitRetry(const std::string& run_id, int64_t shard_id, int32_t seq, int64_t rows_written,
                     const std::string& output_file, const std::string& dead_letter_file,
                     const std::vector<ItemFailure>& remaining) override {
    return session_->Call([&](PgConn* c) -> Status {
      NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(c));
      NS_RETURN_IF_ERROR(pgledger::CommitRetryPart(c, run_id, shard_id, seq, rows_written,
                                                   output_file, dead_letter_file, remaining));
      return txn.Commit();
    });
  }

  Result<std::vector<RetryPart>> ListRetryParts(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectRetryParts(c, run_id); });
  }

  Status SetRunInputs(const std::string& run_id, const RunInputs& inputs) override {
    return session_->Call([&](PgConn* c) -> Status {
      NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(c));
      NS_RETURN_IF_ERROR(pgledger::RequireRun(c, run_id));
      NS_RETURN_IF_ERROR(pgledger::StoreRunInputs(c, run_id, inputs));
      return txn.Commit();
    });
  }

  Result<std::optional<RunInputs>> GetRunInputs(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) -> Result<std::optional<RunInputs>> {
      NS_RETURN_IF_ERROR(pgledger::RequireRun(c, run_id));
      return pgledger::LoadRunInputs(c, run_id);
    });
  }

  Status ReplanRun(const std::string& run_id, const std::vector<InputFileRecord>& files,
                   const std::vector<ShardRecord>& shards, const RunInputs& inputs) override {
    return session_->Call([&](PgConn* c) -> Status {
      NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(c));
      NS_RETURN_IF_ERROR(pgledger::RequireRun(c, run_id));
      NS_RETURN_IF_ERROR(pgledger::ReplaceRunPlan(c, run_id, files, shards));
      NS_RETURN_IF_ERROR(pgledger::StoreRunInputs(c, run_id, inputs));
      return txn.Commit();
    });
  }

  Result<RunCounts> Counts(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectCounts(c, run_id); });
  }

  Result<std::vector<ItemFailure>> ListFailures(const std::string& run_id, int64_t limit) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectFailures(c, run_id, limit); });
  }

  Result<RunAcquisition> AcquireRun(
      const std::string& run_id, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& owner_gone) override {
    return session_->Call([&](PgConn* c) -> Result<RunAcquisition> {
      NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(c));
      // The run's row, locked: acquirers of one run queue here.
      NS_ASSIGN_OR_RETURN(PgResult run, c->Exec("SELECT 1 FROM nightshift.runs WHERE run_id = "
                                                "$1::text FOR UPDATE",
                                                "locking a run", {run_id}));
      if (run.rows() == 0) return Error(pgledger::NoSuchRun(c, run_id));
      NS_ASSIGN_OR_RETURN(RunAcquisition got, pgledger::TakeOwner(c, run_id, me, owner_gone));
      NS_RETURN_IF_ERROR(txn.Commit());
      return got;
    });
  }

  Status Heartbeat(const std::string& run_id, const RunOwner& me) override {
    return session_->Call([&](PgConn* c) { return pgledger::TouchOwner(c, run_id, me); });
  }

  Status ReleaseRun(const std::string& run_id, const RunOwner& me) override {
    return session_->Call([&](PgConn* c) { return pgledger::DeleteOwner(c, run_id, me); });
  }

  Result<std::optional<RunOwner>> GetRunOwner(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::SelectOwner(c, run_id); });
  }

  bool shared() const override { return true; }

  Result<std::optional<ShardRecord>> ClaimNextShard(const std::string& run_id, const RunOwner& me,
                                                    const ClaimPolicy& policy) override {
    return session_->Call(
        [&](PgConn* c) { return pgledger::ClaimNextShard(c, run_id, me, policy); });
  }

  Status RenewLeases(const std::string& run_id, const RunOwner& me,
                     const ClaimPolicy& policy) override {
    return session_->Call([&](PgConn* c) { return pgledger::RenewLeases(c, run_id, me, policy); });
  }

  Status CheckClaim(const std::string& run_id, int64_t shard_id, int64_t epoch,
                    int64_t margin_ms) override {
    return session_->Call(
        [&](PgConn* c) { return pgledger::CheckClaim(c, run_id, shard_id, epoch, margin_ms); });
  }

  Result<bool> CompleteRunIfDone(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::CompleteRunIfDone(c, run_id); });
  }

  Result<std::vector<WorkerRecord>> ListWorkers(const std::string& run_id) override {
    return session_->Call([&](PgConn* c) { return pgledger::ListWorkers(c, run_id); });
  }

  Result<RunAcquisition> AcquireLock(
      const std::string& name, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& holder_gone) override {
    return session_->Call([&](PgConn* c) { return pgledger::TakeLock(c, name, me, holder_gone); });
  }

  Status RenewLock(const std::string& name, const RunOwner& me) override {
    return session_->Call([&](PgConn* c) { return pgledger::TouchLock(c, name, me); });
  }

  Status ReleaseLock(const std::string& name, const RunOwner& me) override {
    return session_->Call([&](PgConn* c) { return pgledger::DeleteLock(c, name, me); });
  }

  Result<std::optional<std::string>> GetTuning(const std::string& key) override {
    return session_->Call([&](PgConn* c) -> Result<std::optional<std::string>> {
      NS_ASSIGN_OR_RETURN(PgResult r,
                          c->Exec("SELECT value FROM nightshift.tuning WHERE key = $1::text",
                                  "reading a tuning value", {key}));
      if (r.rows() == 0) return std::optional<std::string>();
      return std::optional<std::string>(r.Text(0, 0));
    });
  }

  Status PutTuning(const std::string& key, const std::string& value) override {
    return session_->Call([&](PgConn* c) {
      return c->Run(
          "INSERT INTO nightshift.tuning (key, value, updated_at_ms) VALUES ($1::text, "
          "$2::text, nightshift.now_ms()) ON CONFLICT (key) DO UPDATE SET value = "
          "excluded.value, updated_at_ms = excluded.updated_at_ms",
          "storing a tuning value", {key, value});
    });
  }

 private:
  std::unique_ptr<Session> session_;
};

}  // namespace

Result<std::unique_ptr<Ledger>> OpenPgLedger(const std::string& url) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Connect(url, false));
  NS_RETURN_IF_ERROR(session->Call([](PgConn* c) { return pgledger::MigrateSchema(c); }));
  return std::make_unique<PgLedger>(std::move(session));
}

Result<std::unique_ptr<Ledger>> OpenPgLedgerForReading(const std::string& url) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Connect(url, true));
  NS_ASSIGN_OR_RETURN(int64_t version,
                      session->Call([](PgConn* c) { return pgledger::SchemaVersion(c); }));
  if (version == 0) {
    return Error(Code::kNotFound,
                 fmt::format("ledger {} has no nightshift schema yet", session->described()));
  }
  if (version > pgledger::LatestSchemaVersion()) {
    return Error(Code::kIoError,
                 fmt::format("ledger {} has schema version {}, newer than this nightshift "
                             "supports ({}); upgrade nightshift",
                             session->described(), version, pgledger::LatestSchemaVersion()));
  }
  return std::make_unique<PgLedger>(std::move(session));
}

}  // namespace nightshift
