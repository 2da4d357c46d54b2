#include "ledger/sqlite/schema.h"

#include <fmt/format.h>

#include <array>

namespace nightshift::sqlite {
namespace {

struct Migration {
  int64_t version;
  const char* sql;
};

// Timestamps are unix epoch milliseconds; 0 means "not yet". Text columns are
// NOT NULL with '' for "none" so that reads need no NULL handling.
constexpr char kV1Runs[] = R"sql(
CREATE TABLE runs (
  run_id         TEXT PRIMARY KEY,
  job_name       TEXT NOT NULL,
  fingerprint    TEXT NOT NULL DEFAULT '',
  state          TEXT NOT NULL,
  message        TEXT NOT NULL DEFAULT '',
  output_path    TEXT NOT NULL DEFAULT '',
  model_path     TEXT NOT NULL DEFAULT '',
  model_sha256   TEXT NOT NULL DEFAULT '',
  total_rows     INTEGER NOT NULL DEFAULT 0,
  total_shards   INTEGER NOT NULL DEFAULT 0,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_job ON runs (job_name, created_at_ms);

CREATE TABLE files (
  run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  idx      INTEGER NOT NULL,
  path     TEXT NOT NULL,
  size     INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  rows     INTEGER NOT NULL,
  PRIMARY KEY (run_id, idx)
);

CREATE TABLE shards (
  run_id           TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  shard_id         INTEGER NOT NULL,
  file_index       INTEGER NOT NULL,
  row_begin        INTEGER NOT NULL,
  row_end          INTEGER NOT NULL,
  state            TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  epoch            INTEGER NOT NULL DEFAULT 0,
  rows_written     INTEGER NOT NULL DEFAULT 0,
  rows_failed      INTEGER NOT NULL DEFAULT 0,
  output_file      TEXT NOT NULL DEFAULT '',
  dead_letter_file TEXT NOT NULL DEFAULT '',
  message          TEXT NOT NULL DEFAULT '',
  started_at_ms    INTEGER NOT NULL DEFAULT 0,
  committed_at_ms  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, shard_id)
);

CREATE TABLE item_failures (
  run_id   TEXT NOT NULL,
  shard_id INTEGER NOT NULL,
  "row"    INTEGER NOT NULL,
  key_json TEXT NOT NULL DEFAULT '',
  error    TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, shard_id, "row"),
  FOREIGN KEY (run_id, shard_id) REFERENCES shards (run_id, shard_id) ON DELETE CASCADE
);

CREATE TABLE tuning (
  key           TEXT PRIMARY KEY,
  value         TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
)sql";

constexpr char kV2RetryParts[] = R"sql(
CREATE TABLE retry_parts (
  run_id          TEXT NOT NULL,
  shard_id        INTEGER NOT NULL,
  seq             INTEGER NOT NULL,
  output_file     TEXT NOT NULL,
  rows            INTEGER NOT NULL,
  committed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, shard_id, seq),
  FOREIGN KEY (run_id, shard_id) REFERENCES shards (run_id, shard_id) ON DELETE CASCADE
);
)sql";

// The process running a run (at most one): see Ledger::AcquireRun.
constexpr char kV3RunOwners[] = R"sql(
CREATE TABLE run_owners (
  run_id          TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  start_time      INTEGER NOT NULL,
  acquired_at_ms  INTEGER NOT NULL,
  heartbeat_at_ms INTEGER NOT NULL
);
)sql";

// What a run was planned from (Ledger::SetRunInputs): its run-defining job
// keys and the files its input reads, so that a resume can name a change.
constexpr char kV4RunInputs[] = R"sql(
CREATE TABLE run_job_keys (
  run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE run_input_files (
  run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  path     TEXT NOT NULL,
  size     INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  PRIMARY KEY (run_id, path)
);
)sql";

// Packed shards (several whole small files) and dead letters that name
// their file. item_failures."row" stays unique within the shard: for a
// packed shard it is ((file_index - shard's file_index) << 32) + the row
// within the file, which is the row itself for a one-file shard.
constexpr char kV5PackedShards[] = R"sql(
ALTER TABLE shards ADD COLUMN file_last INTEGER NOT NULL DEFAULT -1;
ALTER TABLE item_failures ADD COLUMN file_index INTEGER NOT NULL DEFAULT 0;
UPDATE item_failures SET file_index = (
  SELECT s.file_index FROM shards s
  WHERE s.run_id = item_failures.run_id AND s.shard_id = item_failures.shard_id);
)sql";

// Key-range shards of a database input (ShardRecord::key_after/key_upto,
// JSON values; '' = unbounded).
constexpr char kV6KeyRangeShards[] = R"sql(
ALTER TABLE shards ADD COLUMN key_after TEXT NOT NULL DEFAULT '';
ALTER TABLE shards ADD COLUMN key_upto TEXT NOT NULL DEFAULT '';
)sql";

// Claims for many workers (Ledger::ClaimNextShard): who holds a running
// shard ("host/pid/start_time", kept after its commit to count a worker's
// commits) and until when; the workers that renewed leases on a run.
constexpr char kV7Claims[] = R"sql(
ALTER TABLE shards ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE shards ADD COLUMN lease_expires_ms INTEGER NOT NULL DEFAULT 0;
CREATE TABLE workers (
  run_id          TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  worker          TEXT NOT NULL,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  start_time      INTEGER NOT NULL,
  worker_index    INTEGER NOT NULL,
  workers         INTEGER NOT NULL,
  heartbeat_at_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, worker)
);
)sql";

// Named locks (Ledger::AcquireLock): "schedule:JOB" is held by the one
// `nightshift schedule` process that decides that job's runs.
constexpr char kV8Locks[] = R"sql(
CREATE TABLE locks (
  name            TEXT PRIMARY KEY,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  start_time      INTEGER NOT NULL,
  acquired_at_ms  INTEGER NOT NULL,
  heartbeat_at_ms INTEGER NOT NULL
);
)sql";

// In order; each applied once (PRAGMA user_version says how far). Never edit
// a migration that has shipped: add one at the end.
constexpr std::array kMigrations = {
    Migration{1, kV1Runs},      Migration{2, kV2RetryParts},   Migration{3, kV3RunOwners},
    Migration{4, kV4RunInputs}, Migration{5, kV5PackedShards}, Migration{6, kV6KeyRangeShards},
    Migration{7, kV7Claims},    Migration{8, kV8Locks},
};

Result<int64_t> UserVersion(Connection* conn) {
  NS_ASSIGN_OR_RETURN(Statement stmt, conn->Prepare("PRAGMA user_version"));
  NS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

}  // namespace

Result<int64_t> SchemaVersion(Connection* conn) {
  return UserVersion(conn);
}

int64_t LatestSchemaVersion() {
  return kMigrations.back().version;
}

Status MigrateSchema(Connection* conn) {
  // Most opens find the schema current: check without taking the write lock.
  NS_ASSIGN_OR_RETURN(int64_t version, UserVersion(conn));
  if (version == LatestSchemaVersion()) return Status::Ok();

  NS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, Transaction::Kind::kWrite));
  // Another process may have migrated while we waited for the lock.
  NS_ASSIGN_OR_RETURN(version, UserVersion(conn));
  if (version > LatestSchemaVersion()) {
    return Status(Code::kIoError,
                  fmt::format("ledger '{}' has schema version {}, newer than this nightshift "
                              "supports ({}); upgrade nightshift",
                              conn->path(), version, LatestSchemaVersion()));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= version) continue;
    Status s = conn->Exec(m.sql);
    if (!s.ok()) return s.WithContext(fmt::format("migrating to schema version {}", m.version));
  }
  // PRAGMA takes no parameters; the value is our own integer.
  std::string set_version = fmt::format("PRAGMA user_version = {}", LatestSchemaVersion());
  NS_RETURN_IF_ERROR(conn->Exec(set_version.c_str()));
  return txn.Commit();
}

}  // namespace nightshift::sqlite
