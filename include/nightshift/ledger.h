// Ledger: the durable record of runs, shards and failed items.
//
// The engine never writes SQL: it calls this interface, which SQLite (default)
// and PostgreSQL (many workers) implement. Every method is atomic. An
// implementation is safe to use from several threads of one process (calls
// are serialized internally) and from several processes sharing the database.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift {

enum class RunState { kPending, kRunning, kCompleted, kFailed, kInterrupted };
enum class ShardState { kPending, kRunning, kCommitted, kFailed };

std::string_view RunStateName(RunState s);  // "pending", "running", ...
std::string_view ShardStateName(ShardState s);
Result<RunState> ParseRunState(std::string_view s);
Result<ShardState> ParseShardState(std::string_view s);

// One input file of a run, as seen when the run was planned.
struct InputFileRecord {
  int32_t index = 0;
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t rows = 0;
};

struct RunRecord {
  std::string run_id;
  std::string job_name;
  std::string fingerprint;  // of job text + input listing
  RunState state = RunState::kPending;
  std::string message;      // why it failed or was interrupted
  std::string output_path;  // resolved output directory
  std::string model_path;
  std::string model_sha256;
  int64_t total_rows = 0;
  int64_t total_shards = 0;
  int64_t created_at_ms = 0;  // unix epoch milliseconds
  int64_t updated_at_ms = 0;
  int64_t finished_at_ms = 0;  // 0 until completed/failed/interrupted
};

struct ShardRecord {
  int64_t shard_id = 0;
  int32_t file_index = 0;  // into the run's input files; 0 for a query
  int64_t row_begin = 0;   // [row_begin, row_end) within that file
  int64_t row_end = 0;
  ShardState state = ShardState::kPending;
  int32_t attempts = 0;
  int64_t epoch = 0;         // incremented by every claim
  int64_t rows_written = 0;  // rows in the committed output part
  int64_t rows_failed = 0;   // rows dead-lettered
  std::string output_file;   // relative to the run's output path
  std::string dead_letter_file;
  int64_t started_at_ms = 0;
  int64_t committed_at_ms = 0;
  std::string message;  // why the last attempt failed; "" once committed
  // A packed shard (small files packed together) covers the whole files
  // [file_index, file_last]; its row_begin is 0 and row_end the number of rows
  // of all of them. -1: the shard is rows [row_begin, row_end) of file_index.
  int32_t file_last = -1;
  // For an input read from a database by key ranges (input.format postgres):
  // the shard is the rows whose key is > key_after and <= key_upto, each a
  // JSON value ("" = unbounded on that side); file_index is then 0.
  std::string key_after;
  std::string key_upto;
  // The worker of the shard's last claim, "host/pid/start_time" (the report's
  // timeline lane); "" when it was claimed by id (ClaimShard).
  std::string worker;
};

// A row that failed for good, recorded with its shard's commit.
struct ItemFailure {
  int64_t shard_id = 0;
  int64_t row = 0;       // row number within file `file_index`
  std::string key_json;  // the row's key value(s) as JSON
  std::string error;     // human-readable reason
  int32_t attempts = 0;
  int32_t file_index = 0;  // the input file holding the row (several for a packed shard)
  std::string file;        // its path, as listed (ListFailures; "" for a query)
};

// Internal when a failure in `failures` is of another shard than `shard_id`
// (a caller's bug): every Ledger::CommitShard checks this first.
Status CheckFailuresOfShard(const std::string& run_id, int64_t shard_id,
                            const std::vector<ItemFailure>& failures);

struct RunCounts {
  int64_t total_rows = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t shards_total = 0;
  int64_t shards_committed = 0;
  // Output rows written, when the job's input rows make several each
  // (pdf_pages, crop: exec/item_counts.h); succeeded is then input rows. -1
  // otherwise (succeeded is both).
  int64_t items_written = -1;
};

// An extra output part of a shard, written by `nightshift retry` for rows
// that had been dead-lettered and now succeed.
struct RetryPart {
  int64_t shard_id = 0;
  int32_t seq = 0;  // 1, 2, ... per shard
  std::string output_file;
  int64_t rows = 0;
};

// What a run was planned from, recorded so that resuming its run id can tell
// what changed: the job's run-defining keys (see plan::JobDefinition) and
// every file its input reads (path, size, mtime_ns; index and rows unused).
struct RunInputs {
  std::vector<std::pair<std::string, std::string>> job;  // key, value; in key order
  std::vector<InputFileRecord> files;                    // sorted by path
};

// A cached tuning decision (e.g. batch.size: auto), keyed by a string the
// caller builds (model hash, device, input width).
struct TuningRecord {
  std::string key;
  std::string value;
};

// The process that is running a run: at most one per run at a time. `host`,
// `pid` and `start_time` (Env::ProcessStartTime, so that a reused pid is not
// mistaken for the owner) identify it; `heartbeat_at_ms` is renewed every few
// seconds while it runs, so that another host can tell a live owner from a
// dead one.
struct RunOwner {
  std::string host;
  int64_t pid = 0;
  int64_t start_time = 0;
  int64_t acquired_at_ms = 0;
  int64_t heartbeat_at_ms = 0;
  bool SameProcess(const RunOwner& o) const {
    return host == o.host && pid == o.pid && start_time == o.start_time;
  }
};

// The outcome of AcquireRun: either this process now owns the run, or
// `holder` (alive) does.
struct RunAcquisition {
  bool acquired = false;
  RunOwner holder;  // the owner after the call (`me` when acquired)
};

// One worker process of a run, as a shared ledger sees it (`status`).
struct WorkerRecord {
  RunOwner who;                  // host, pid, start_time; heartbeat_at_ms = last renewal
  int32_t worker_index = 0;      // --worker-index
  int32_t workers = 1;           // --workers
  int64_t shards_held = 0;       // claimed, not committed, lease not expired
  int64_t shards_committed = 0;  // committed by this worker
};

// Which shards a worker prefers (shard_id % count == index) before helping
// with any other, and how long its claims hold without renewal.
struct ClaimPolicy {
  int32_t worker_index = 0;
  int32_t workers = 1;
  int64_t lease_ms = 60000;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Opens (creating and migrating if needed) the ledger at `location`: a
  // SQLite file path, or a postgresql:// URL when built with PostgreSQL.
  // IoError naming the location on failure.
  // Its folder, waits and timestamps go through `env` (nullptr:
  // Env::Default()); SQLite does the file's own I/O.
  static Result<std::unique_ptr<Ledger>> Open(const std::string& location, Env* env = nullptr);
  // Opens an existing ledger for reading only: creates, migrates and writes
  // nothing (no file, no journal), so it works on a read-only file system.
  // NotFound when there is no ledger at `location`. Write methods fail.
  static Result<std::unique_ptr<Ledger>> OpenForReading(const std::string& location,
                                                        Env* env = nullptr);

  // Creates the run with its files and shard plan if `run.run_id` is new and
  // returns it; if it exists, returns the stored record unchanged (the plan
  // given is ignored). Atomic.
  virtual Result<RunRecord> CreateOrAttachRun(const RunRecord& run,
                                              const std::vector<InputFileRecord>& files,
                                              const std::vector<ShardRecord>& shards) = 0;
  // NotFound when there is no such run.
  virtual Result<RunRecord> GetRun(const std::string& run_id) = 0;
  // The most recently created run of `job_name`; NotFound when none.
  virtual Result<RunRecord> LatestRun(const std::string& job_name) = 0;
  // The runs of `job_name`, newest first; at most `limit` (-1: all).
  virtual Result<std::vector<RunRecord>> ListRuns(const std::string& job_name, int64_t limit) = 0;
  virtual Result<std::vector<InputFileRecord>> ListFiles(const std::string& run_id) = 0;
  virtual Result<std::vector<ShardRecord>> ListShards(const std::string& run_id) = 0;

  // Sets state (and message; finished_at when terminal) of a run.
  virtual Status SetRunState(const std::string& run_id, RunState state,
                             const std::string& message) = 0;
  virtual Status SetRunModel(const std::string& run_id, const std::string& model_path,
                             const std::string& model_sha256) = 0;

  // Claims a shard that is not committed: state running, attempts+1, a new
  // epoch (returned). FailedPrecondition-style InvalidJob if it is committed.
  virtual Result<int64_t> ClaimShard(const std::string& run_id, int64_t shard_id) = 0;

  // Commits a shard claimed with `epoch`, with its failures, atomically.
  // A repeated commit of an already committed shard with the same output is a
  // no-op returning OK; a commit with a stale epoch returns kConflict (final:
  // another worker claimed the shard; a shared run drops it) and
  // changes nothing. REQUIRES: every failure's shard_id is `shard_id`.
  virtual Status CommitShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                             int64_t rows_written, const std::string& output_file,
                             const std::string& dead_letter_file,
                             const std::vector<ItemFailure>& failures) = 0;

  // Marks a shard failed (not committed) with a reason; it stays retryable.
  virtual Status FailShard(const std::string& run_id, int64_t shard_id, int64_t epoch,
                           const std::string& message) = 0;

  // Commits the re-run of a committed shard's failed rows, atomically: adds
  // the retry part `seq` (which must be the shard's number of retry parts + 1),
  // adds `rows_written` to the shard's rows, and replaces its failures with
  // `remaining` (and its dead-letter file with `dead_letter_file`). Repeating
  // a commit already made (same seq and file) is a no-op.
  virtual Status CommitRetry(const std::string& run_id, int64_t shard_id, int32_t seq,
                             int64_t rows_written, const std::string& output_file,
                             const std::string& dead_letter_file,
                             const std::vector<ItemFailure>& remaining) = 0;
  // Retry parts of a run, by shard then seq.
  virtual Result<std::vector<RetryPart>> ListRetryParts(const std::string& run_id) = 0;

  // Records (replacing) what run `run_id` was planned from. NotFound when
  // there is no such run.
  virtual Status SetRunInputs(const std::string& run_id, const RunInputs& inputs) = 0;
  // What SetRunInputs recorded; nullopt for a run recorded without it (by an
  // older nightshift). NotFound when there is no such run.
  virtual Result<std::optional<RunInputs>> GetRunInputs(const std::string& run_id) = 0;
  // Plans run `run_id` again on changed input, atomically: its files become
  // `files`, its shards that are not committed are deleted, and `shards`, the
  // new plan, is stored (committed shards keep their state, output and
  // failures, taking the file_index given for them); total rows and shards
  // are recounted from `shards`, `inputs` is recorded, and a run that gains
  // pending shards goes back to pending. REQUIRES: `shards` holds every
  // committed shard of the run under its shard_id, and no other shard reuses
  // a committed shard's id. InvalidJob (nothing changed) otherwise.
  virtual Status ReplanRun(const std::string& run_id, const std::vector<InputFileRecord>& files,
                           const std::vector<ShardRecord>& shards, const RunInputs& inputs) = 0;

  virtual Result<RunCounts> Counts(const std::string& run_id) = 0;
  // Failed items of a run, ordered by shard then row; at most `limit` (-1: all).
  virtual Result<std::vector<ItemFailure>> ListFailures(const std::string& run_id,
                                                        int64_t limit) = 0;

  // Run ownership: one process runs a run at a time (the PostgreSQL ledger's
  // per-shard leases will refine this for many workers).
  //
  // Takes `run_id` for `me` in one write transaction when it has no owner, or
  // when `owner_gone(current owner)` is true (the caller decides liveness:
  // pid and start time on this host, heartbeat age elsewhere). Taking it
  // again as the same process succeeds. Otherwise returns acquired=false and
  // the live holder; changes nothing. NotFound when there is no such run.
  virtual Result<RunAcquisition> AcquireRun(
      const std::string& run_id, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& owner_gone) = 0;
  // Renews `me`'s heartbeat. FailedPrecondition-style kFailed when `me` no
  // longer owns the run (another process took it over as gone).
  virtual Status Heartbeat(const std::string& run_id, const RunOwner& me) = 0;
  // Gives the run up if `me` owns it; OK (and no change) otherwise.
  virtual Status ReleaseRun(const std::string& run_id, const RunOwner& me) = 0;
  // The recorded owner (nullopt when none): after a crash, the last owner with
  // its last heartbeat.
  virtual Result<std::optional<RunOwner>> GetRunOwner(const std::string& run_id) = 0;

  // Claims: a run's shards are taken one at a time. The SQLite ledger has
  // one process per run (AcquireRun); a shared ledger (PostgreSQL) lets any
  // number of worker processes claim shards of one run at once.
  //
  // True when several processes may work on one run at once: then there is
  // no AcquireRun; each process is a worker that claims leased shards.
  virtual bool shared() const { return false; }
  // Claims the next shard of `run_id` for worker `me`, atomically against
  // every other claimer: a shard not committed that nobody holds (pending,
  // failed, or running under a lease that expired by the ledger's own clock,
  // never a worker's; for the SQLite ledger, held by another process, which
  // AcquireRun proved gone). Prefers shard_id % workers == worker_index, then
  // the lowest shard_id. The claim sets state running, attempts+1, a new
  // epoch, and a lease expiring policy.lease_ms after now; the record
  // returned carries that epoch. nullopt when nothing is claimable now.
  virtual Result<std::optional<ShardRecord>> ClaimNextShard(const std::string& run_id,
                                                            const RunOwner& me,
                                                            const ClaimPolicy& policy) = 0;
  // Heartbeat of worker `me`: extends the lease of every shard it holds
  // (claimed, not committed, epoch still its own) to policy.lease_ms from
  // now and records the worker (ListWorkers). OK even if it holds none.
  virtual Status RenewLeases(const std::string& run_id, const RunOwner& me,
                             const ClaimPolicy& policy) = 0;
  // Fencing before a shard's output is published: OK when `epoch` is still
  // the shard's current claim, the shard is not committed, and its lease has
  // at least `margin_ms` left (ledger clock). kConflict naming the shard and
  // the epochs otherwise: the caller must not publish, and drops the shard.
  virtual Status CheckClaim(const std::string& run_id, int64_t shard_id, int64_t epoch,
                            int64_t margin_ms) = 0;
  // Completes the run when every shard is committed and it is not completed
  // yet: state completed, atomically, true for exactly one caller (who then
  // writes _SUCCESS). false when shards remain or it was already completed.
  virtual Result<bool> CompleteRunIfDone(const std::string& run_id) = 0;
  // Workers that renewed leases on the run, by last heartbeat, newest first.
  virtual Result<std::vector<WorkerRecord>> ListWorkers(const std::string& run_id) = 0;

  // Named locks with the contract of AcquireRun / Heartbeat / ReleaseRun, on
  // a name rather than a run (nothing else need exist): `nightshift schedule`
  // holds "schedule:JOB" so that one scheduler at a time decides a job's runs
  // (sched/scheduler.h). RenewLock is kFailed when `me` no longer holds it.
  virtual Result<RunAcquisition> AcquireLock(
      const std::string& name, const RunOwner& me,
      const std::function<bool(const RunOwner&)>& holder_gone) = 0;
  virtual Status RenewLock(const std::string& name, const RunOwner& me) = 0;
  // OK (and no change) when `me` does not hold it.
  virtual Status ReleaseLock(const std::string& name, const RunOwner& me) = 0;

  virtual Result<std::optional<std::string>> GetTuning(const std::string& key) = 0;
  virtual Status PutTuning(const std::string& key, const std::string& value) = 0;
};

}  // namespace nightshift
