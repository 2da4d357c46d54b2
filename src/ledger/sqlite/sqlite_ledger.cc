#include "ledger/sqlite/sqlite_ledger.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <utility>

#include "ledger/sqlite/claim_store.h"
#include "ledger/sqlite/connection.h"
#include "ledger/sqlite/input_store.h"
#include "ledger/sqlite/owner_store.h"
#include "ledger/sqlite/records.h"
#include "ledger/sqlite/retry_store.h"
#include "ledger/sqlite/run_store.h"
#include "ledger/sqlite/schema.h"
#include "nightshift/env.h"

namespace nightshift {
namespace {

using sqlite::Checked;
using sqlite::Connection;
using sqlite::ReadRun;
using sqlite::Statement;
using sqlite::Transaction;

bool IsTerminal(RunState s) {
  return s == RunState::kCompleted || s == RunState::kFailed || s == RunState::kInterrupted;
}

// The parts of a shard row that claims and commits decide on.
struct ShardLease {
  ShardState state = ShardState::kPending;
  int64_t epoch = 0;
  std::string output_file;
};

class SqliteLedger final : public Ledger {
 public:
  // `schema_version`: of the file (a reader may find an older one that it
  // must not migrate, without the run_owners or workers table).
  SqliteLedger(std::unique_ptr<Connection> conn, int64_t schema_version, Env* env)
      : conn_(std::move(conn)), schema_version_(schema_version), env_(env) {}

  Result<RunRecord> CreateOrAttachRun(const RunRecord& run,
                                      const std::vector<InputFileRecord>& files,
                                      const std::vector<ShardRecord>& shards) override {
    if (run.run_id.empty()) return Error(Code::kInternal, "CreateOrAttachRun: empty run id");
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_ASSIGN_OR_RETURN(std::optional<RunRecord> stored, FindRun(run.run_id));
    if (stored.has_value()) {
      NS_RETURN_IF_ERROR(txn.Commit());
      return *std::move(stored);
    }

    int64_t planned_rows = 0;
    for (const ShardRecord& s : shards) planned_rows += s.row_end - s.row_begin;
    NS_RETURN_IF_ERROR(sqlite::InsertRun(conn_.get(), run, planned_rows,
                                         static_cast<int64_t>(shards.size()), NowMs()));
    NS_RETURN_IF_ERROR(sqlite::InsertFiles(conn_.get(), run.run_id, files));
    for (const ShardRecord& s : shards) {
      NS_RETURN_IF_ERROR(sqlite::InsertPendingShard(conn_.get(), run.run_id, s));
    }
    NS_ASSIGN_OR_RETURN(stored, FindRun(run.run_id));
    NS_RETURN_IF_ERROR(txn.Commit());
    return *std::move(stored);
  }

  Result<RunRecord> GetRun(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(std::optional<RunRecord> run, FindRun(run_id));
    if (!run.has_value()) return Error(NoSuchRun(run_id));
    return *std::move(run);
  }

  Result<RunRecord> LatestRun(const std::string& job_name) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, sqlite::SelectRuns(conn_.get(), job_name, 1));
    if (runs.empty()) {
      return Error(Code::kNotFound,
                   fmt::format("no run of job '{}' in ledger '{}'", job_name, conn_->path()));
    }
    return std::move(runs.front());
  }

  Result<std::vector<RunRecord>> ListRuns(const std::string& job_name, int64_t limit) override {
    std::lock_guard lock(mu_);
    return sqlite::SelectRuns(conn_.get(), job_name, limit);
  }

  Result<std::vector<InputFileRecord>> ListFiles(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kRead));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(std::vector<InputFileRecord> files,
                        sqlite::SelectFiles(conn_.get(), run_id));
    NS_RETURN_IF_ERROR(txn.Commit());
    return files;
  }

  Result<std::vector<ShardRecord>> ListShards(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kRead));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(std::vector<ShardRecord> shards, sqlite::SelectShards(conn_.get(), run_id));
    NS_RETURN_IF_ERROR(txn.Commit());
    return shards;
  }

  Status SetRunState(const std::string& run_id, RunState state,
                     const std::string& message) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kDurableWrite));
    const int64_t now = NowMs();
    {
      NS_ASSIGN_OR_RETURN(Statement update,
                          conn_->Prepare("UPDATE runs SET state = ?2, message = ?3, "
                                         "updated_at_ms = ?4, finished_at_ms = ?5 "
                                         "WHERE run_id = ?1"));
      update.Bind(1, run_id)
          .Bind(2, RunStateName(state))
          .Bind(3, message)
          .Bind(4, now)
          .Bind(5, IsTerminal(state) ? now : int64_t{0});
      NS_RETURN_IF_ERROR(update.Run());
    }
    if (sqlite3_changes(conn_->handle()) == 0) return NoSuchRun(run_id);
    return txn.Commit();
  }

  Status SetRunModel(const std::string& run_id, const std::string& model_path,
                     const std::string& model_sha256) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    {
      NS_ASSIGN_OR_RETURN(Statement update,
                          conn_->Prepare("UPDATE runs SET model_path = ?2, model_sha256 = ?3, "
                                         "updated_at_ms = ?4 WHERE run_id = ?1"));
      update.Bind(1, run_id).Bind(2, model_path).Bind(3, model_sha256).Bind(4, NowMs());
      NS_RETURN_IF_ERROR(update.Run());
    }
    if (sqlite3_changes(conn_->handle()) == 0) return NoSuchRun(run_id);
    return txn.Commit();
  }

  Result<int64_t> ClaimShard(const std::string& run_id, int64_t shard_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(run_id, shard_id));
    if (lease.state == ShardState::kCommitted) return Error(AlreadyCommitted(run_id, shard_id));
    const int64_t epoch = lease.epoch + 1;
    {
      NS_ASSIGN_OR_RETURN(Statement update,
                          conn_->Prepare("UPDATE shards SET state = ?3, attempts = attempts + 1, "
                                         "epoch = ?4, started_at_ms = ?5 "
                                         "WHERE run_id = ?1 AND shard_id = ?2"));
      update.Bind(1, run_id)
          .Bind(2, shard_id)
          .Bind(3, ShardStateName(ShardState::kRunning))
          .Bind(4, epoch)
          .Bind(5, NowMs());
      NS_RETURN_IF_ERROR(update.Run());
    }
    NS_RETURN_IF_ERROR(txn.Commit());
    return epoch;
  }

  Status CommitShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                     int64_t rows_written, const std::string& output_file,
                     const std::string& dead_letter_file,
                     const std::vector<ItemFailure>& failures) override {
    NS_RETURN_IF_ERROR(CheckFailuresOfShard(run_id, shard_id, failures));
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kDurableWrite));
    NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(run_id, shard_id));
    if (lease.state == ShardState::kCommitted) {
      // The same commit repeated (e.g. after a crash between the sink's
      // publish and our reply): nothing to do.
      if (lease.output_file == output_file) return txn.Commit();
      if (lease.epoch != epoch) return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
      return Status(Code::kConflict,
                    fmt::format("shard {} of run '{}' is already committed with output '{}'",
                                shard_id, run_id, lease.output_file));
    }
    if (lease.epoch != epoch) return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
    if (lease.state != ShardState::kRunning) {
      return Status(Code::kConflict,
                    fmt::format("shard {} of run '{}' is not claimed (state {}, epoch {})",
                                shard_id, run_id, ShardStateName(lease.state), epoch));
    }
    {
      NS_ASSIGN_OR_RETURN(Statement update,
                          conn_->Prepare("UPDATE shards SET state = ?3, rows_written = ?4, "
                                         "rows_failed = ?5, output_file = ?6, "
                                         "dead_letter_file = ?7, committed_at_ms = ?8, "
                                         "message = '' WHERE run_id = ?1 AND shard_id = ?2"));
      update.Bind(1, run_id)
          .Bind(2, shard_id)
          .Bind(3, ShardStateName(ShardState::kCommitted))
          .Bind(4, rows_written)
          .Bind(5, static_cast<int64_t>(failures.size()))
          .Bind(6, output_file)
          .Bind(7, dead_letter_file)
          .Bind(8, NowMs());
      NS_RETURN_IF_ERROR(update.Run());
    }
    NS_RETURN_IF_ERROR(sqlite::InsertItemFailures(conn_.get(), run_id, shard_id, failures));
    return txn.Commit();
  }

  Status FailShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                   const std::string& message) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kDurableWrite));
    NS_ASSIGN_OR_RETURN(ShardLease lease, FindShard(run_id, shard_id));
    if (lease.state == ShardState::kCommitted) return AlreadyCommitted(run_id, shard_id);
    if (lease.epoch != epoch) return StaleEpoch(run_id, shard_id, epoch, lease.epoch);
    {
      NS_ASSIGN_OR_RETURN(Statement update,
                          conn_->Prepare("UPDATE shards SET state = ?3, message = ?4 "
                                         "WHERE run_id = ?1 AND shard_id = ?2"));
      update.Bind(1, run_id)
          .Bind(2, shard_id)
          .Bind(3, ShardStateName(ShardState::kFailed))
          .Bind(4, message);
      NS_RETURN_IF_ERROR(update.Run());
    }
    return txn.Commit();
  }

  Status CommitRetry(const std::string& run_id, int64_t shard_id, int32_t seq, int64_t rows_written,
                     const std::string& output_file, const std::string& dead_letter_file,
                     const std::vector<ItemFailure>& remaining) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kDurableWrite));
    NS_RETURN_IF_ERROR(sqlite::CommitRetryPart(conn_.get(), run_id, shard_id, seq, rows_written,
                                               output_file, dead_letter_file, remaining, NowMs()));
    return txn.Commit();
  }

  Result<std::vector<RetryPart>> ListRetryParts(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kRead));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(auto parts, sqlite::SelectRetryParts(conn_.get(), run_id));
    NS_RETURN_IF_ERROR(txn.Commit());
    return parts;
  }

  Status SetRunInputs(const std::string& run_id, const RunInputs& inputs) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_RETURN_IF_ERROR(sqlite::StoreRunInputs(conn_.get(), run_id, inputs));
    return txn.Commit();
  }

  Result<std::optional<RunInputs>> GetRunInputs(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kRead));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(auto inputs, sqlite::LoadRunInputs(conn_.get(), run_id));
    NS_RETURN_IF_ERROR(txn.Commit());
    return inputs;
  }

  Status ReplanRun(const std::string& run_id, const std::vector<InputFileRecord>& files,
                   const std::vector<ShardRecord>& shards, const RunInputs& inputs) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_RETURN_IF_ERROR(sqlite::ReplaceRunPlan(conn_.get(), run_id, files, shards, NowMs()));
    NS_RETURN_IF_ERROR(sqlite::StoreRunInputs(conn_.get(), run_id, inputs));
    return txn.Commit();
  }

  Result<RunCounts> Counts(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kRead));
    NS_ASSIGN_OR_RETURN(std::optional<RunRecord> run, FindRun(run_id));
    if (!run.has_value()) return Error(NoSuchRun(run_id));
    RunCounts counts;
    counts.total_rows = run->total_rows;
    {
      NS_ASSIGN_OR_RETURN(
          Statement select,
          conn_->Prepare("SELECT COUNT(*), COALESCE(SUM(state = ?2), 0), "
                         "COALESCE(SUM(CASE WHEN state = ?2 THEN rows_written ELSE 0 END), 0) "
                         "FROM shards WHERE run_id = ?1"));
      select.Bind(1, run_id).Bind(2, ShardStateName(ShardState::kCommitted));
      NS_ASSIGN_OR_RETURN(bool row, select.Step());
      if (row) {
        counts.shards_total = select.Int(0);
        counts.shards_committed = select.Int(1);
        counts.succeeded = select.Int(2);
      }
    }
    {
      NS_ASSIGN_OR_RETURN(Statement select,
                          conn_->Prepare("SELECT COUNT(*) FROM item_failures WHERE run_id = ?1"));
      select.Bind(1, run_id);
      NS_ASSIGN_OR_RETURN(bool row, select.Step());
      if (row) counts.failed = select.Int(0);
    }
    NS_RETURN_IF_ERROR(txn.Commit());
    return counts;
  }

  Result<std::vector<ItemFailure>> ListFailures(const std::string& run_id, int64_t limit) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kRead));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(auto failures, sqlite::SelectFailures(conn_.get(), run_id, limit));
    NS_RETURN_IF_ERROR(txn.Commit());
    return failures;
  }

  Result<RunAcquisition> AcquireRun(
      const std::string& run_id, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& owner_gone) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(RunAcquisition got,
                        sqlite::TakeOwner(conn_.get(), run_id, me, owner_gone, NowMs()));
    NS_RETURN_IF_ERROR(txn.Commit());
    return got;
  }

  Status Heartbeat(const std::string& run_id, const RunOwner& me) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(sqlite::TouchOwner(conn_.get(), run_id, me, NowMs()));
    return txn.Commit();
  }

  Status ReleaseRun(const std::string& run_id, const RunOwner& me) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(sqlite::DeleteOwner(conn_.get(), run_id, me));
    return txn.Commit();
  }

  Result<RunAcquisition> AcquireLock(
      const std::string& name, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& holder_gone) override {
    std::lock_guard lock(mu_);
    // BEGIN IMMEDIATE: the read of the holder and the write are one step
    // against every other process.
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_ASSIGN_OR_RETURN(RunAcquisition got,
                        sqlite::TakeLock(conn_.get(), name, me, holder_gone, NowMs()));
    NS_RETURN_IF_ERROR(txn.Commit());
    return got;
  }

  Status RenewLock(const std::string& name, const RunOwner& me) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(sqlite::TouchLock(conn_.get(), name, me, NowMs()));
    return txn.Commit();
  }

  Status ReleaseLock(const std::string& name, const RunOwner& me) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(sqlite::DeleteLock(conn_.get(), name, me));
    return txn.Commit();
  }

  Result<std::optional<RunOwner>> GetRunOwner(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    if (schema_version_ < 3) return std::optional<RunOwner>();
    return sqlite::SelectOwner(conn_.get(), run_id);
  }

  Result<std::optional<ShardRecord>> ClaimNextShard(const std::string& run_id, const RunOwner& me,
                                                    const ClaimPolicy& policy) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(auto shard, sqlite::ClaimNext(conn_.get(), run_id, me, policy, NowMs()));
    NS_RETURN_IF_ERROR(txn.Commit());
    return shard;
  }

  Status RenewLeases(const std::string& run_id, const RunOwner& me,
                     const ClaimPolicy& policy) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_RETURN_IF_ERROR(sqlite::RenewClaims(conn_.get(), run_id, me, policy, NowMs()));
    return txn.Commit();
  }

  Status CheckClaim(const std::string& run_id, int64_t shard_id, int64_t epoch,
                    int64_t margin_ms) override {
    std::lock_guard lock(mu_);
    return sqlite::CheckShardClaim(conn_.get(), run_id, shard_id, epoch, margin_ms, NowMs());
  }

  Result<bool> CompleteRunIfDone(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kDurableWrite));
    NS_RETURN_IF_ERROR(RequireRun(run_id));
    NS_ASSIGN_OR_RETURN(bool completed, sqlite::CompleteIfDone(conn_.get(), run_id, NowMs()));
    NS_RETURN_IF_ERROR(txn.Commit());
    return completed;
  }

  Result<std::vector<WorkerRecord>> ListWorkers(const std::string& run_id) override {
    std::lock_guard lock(mu_);
    if (schema_version_ < 6) return std::vector<WorkerRecord>();  // an older file, read only
    return sqlite::SelectWorkers(conn_.get(), run_id, NowMs());
  }

  Result<std::optional<std::string>> GetTuning(const std::string& key) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Statement select,
                        conn_->Prepare("SELECT value FROM tuning WHERE key = ?1"));
    select.Bind(1, key);
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(select.Text(0));
  }

  Status PutTuning(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    NS_ASSIGN_OR_RETURN(Transaction txn, Begin(Transaction::Kind::kWrite));
    {
      NS_ASSIGN_OR_RETURN(Statement upsert,
                          conn_->Prepare("INSERT INTO tuning (key, value, updated_at_ms) "
                                         "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
                                         "value = excluded.value, "
                                         "updated_at_ms = excluded.updated_at_ms"));
      upsert.Bind(1, key).Bind(2, value).Bind(3, NowMs());
      NS_RETURN_IF_ERROR(upsert.Run());
    }
    return txn.Commit();
  }

 private:
  Result<Transaction> Begin(Transaction::Kind kind) {
    return Transaction::Begin(conn_.get(), kind);
  }

  // REQUIRES: mu_ held. nullopt when there is no such run.
  Result<std::optional<RunRecord>> FindRun(const std::string& run_id) {
    NS_ASSIGN_OR_RETURN(Statement select, conn_->Prepare("SELECT " NS_LEDGER_RUN_COLUMNS
                                                         " FROM runs WHERE run_id = ?1"));
    select.Bind(1, run_id);
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return std::optional<RunRecord>();
    NS_ASSIGN_OR_RETURN(RunRecord run, ReadRun(select, *conn_));
    return std::optional<RunRecord>(std::move(run));
  }

  // REQUIRES: mu_ held. NotFound when there is no such run.
  Status RequireRun(const std::string& run_id) {
    NS_ASSIGN_OR_RETURN(Statement select, conn_->Prepare("SELECT 1 FROM runs WHERE run_id = ?1"));
    select.Bind(1, run_id);
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    return row ? Status::Ok() : NoSuchRun(run_id);
  }

  // REQUIRES: mu_ held. NotFound when there is no such shard.
  Result<ShardLease> FindShard(const std::string& run_id, int64_t shard_id) {
    NS_ASSIGN_OR_RETURN(Statement select,
                        conn_->Prepare("SELECT state, epoch, output_file FROM shards "
                                       "WHERE run_id = ?1 AND shard_id = ?2"));
    select.Bind(1, run_id).Bind(2, shard_id);
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) {
      return Error(Code::kNotFound, fmt::format("no shard {} of run '{}' in ledger '{}'", shard_id,
                                                run_id, conn_->path()));
    }
    ShardLease lease;
    NS_ASSIGN_OR_RETURN(lease.state, Checked(ParseShardState(select.Text(0)), *conn_));
    lease.epoch = select.Int(1);
    lease.output_file = select.Text(2);
    return lease;
  }

  Status NoSuchRun(const std::string& run_id) const {
    return Status(Code::kNotFound,
                  fmt::format("no run '{}' in ledger '{}'", run_id, conn_->path()));
  }

  // Final (another worker won): never retried, and not the job's fault.
  static Status AlreadyCommitted(const std::string& run_id, int64_t shard_id) {
    return Status(Code::kConflict,
                  fmt::format("shard {} of run '{}' is already committed", shard_id, run_id));
  }

  static Status StaleEpoch(const std::string& run_id, int64_t shard_id, int64_t epoch,
                           int64_t current) {
    return Status(Code::kConflict,
                  fmt::format("stale epoch {} for shard {} of run '{}' (current epoch {}); "
                              "another worker claimed it",
                              epoch, shard_id, run_id, current));
  }

  std::mutex mu_;  // serializes all use of conn_
  // Timestamps come from the run's clock.
  int64_t NowMs() { return env_->NowMillis(); }

  std::unique_ptr<Connection> conn_;
  const int64_t schema_version_;
  Env* const env_;
};

#undef NS_LEDGER_RUN_COLUMNS
#undef NS_SHARD_COLUMNS

}  // namespace

Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path,
                                                 const SqliteLedgerOptions& options) {
  if (path.empty()) return Error(Code::kInvalidJob, "the ledger path is empty");
  Env* env = options.env != nullptr ? options.env : Env::Default();
  if (path != ":memory:") {
    Status s = env->CreateDirs(DirName(path));
    if (!s.ok()) {
      return Error(Code::kIoError,
                   fmt::format("cannot create the folder of ledger '{}': {}", path, s.message()));
    }
  }
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                      Connection::Open(path, options.busy_timeout_ms, env));
  NS_RETURN_IF_ERROR(sqlite::MigrateSchema(conn.get()));
  return std::make_unique<SqliteLedger>(std::move(conn), sqlite::LatestSchemaVersion(), env);
}

Result<std::unique_ptr<Ledger>> OpenSqliteLedgerForReading(const std::string& path, Env* env) {
  if (path.empty()) return Error(Code::kInvalidJob, "the ledger path is empty");
  if (env == nullptr) env = Env::Default();
  auto info = env->Stat(path);
  if (!info.has_value()) {
    if (info.error().code() == Code::kNotFound) {
      return Error(Code::kNotFound, fmt::format("no ledger at '{}'", path));
    }
    return Error(info.error());
  }
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::OpenReadOnly(path, env));
  NS_ASSIGN_OR_RETURN(int64_t version, sqlite::SchemaVersion(conn.get()));
  // A file its first opener is still setting up holds no run yet.
  if (version == 0) return Error(Code::kNotFound, fmt::format("ledger '{}' is empty", path));
  return std::make_unique<SqliteLedger>(std::move(conn), version, env);
}

}  // namespace nightshift
