#include "ledger/postgres/pg_schema.h"

#include <fmt/format.h>

#include <array>

namespace nightshift::pgledger {
namespace {

struct Migration {
  int64_t version;
  const char* sql;
};

// Text columns are NOT NULL with '' for "none"; timestamps are epoch ms, 0
// for "not yet".
constexpr char kV1Schema[] = R"sql(
CREATE FUNCTION nightshift.now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

CREATE TABLE nightshift.runs (
  run_id         text PRIMARY KEY,
  seq            bigserial,
  job_name       text NOT NULL,
  fingerprint    text NOT NULL DEFAULT '',
  state          text NOT NULL,
  message        text NOT NULL DEFAULT '',
  output_path    text NOT NULL DEFAULT '',
  model_path     text NOT NULL DEFAULT '',
  model_sha256   text NOT NULL DEFAULT '',
  total_rows     bigint NOT NULL DEFAULT 0,
  total_shards   bigint NOT NULL DEFAULT 0,
  created_at_ms  bigint NOT NULL,
  updated_at_ms  bigint NOT NULL,
  finished_at_ms bigint NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_job ON nightshift.runs (job_name, created_at_ms, seq);

CREATE TABLE nightshift.files (
  run_id   text NOT NULL REFERENCES nightshift.runs (run_id) ON DELETE CASCADE,
  idx      integer NOT NULL,
  path     text NOT NULL,
  size     bigint NOT NULL,
  mtime_ns bigint NOT NULL,
  rows     bigint NOT NULL,
  PRIMARY KEY (run_id, idx)
);

-- holder_*: the worker of the current claim (epoch); lease_until_ms: when
-- that claim lapses unless renewed.
CREATE TABLE nightshift.shards (
  run_id           text NOT NULL REFERENCES nightshift.runs (run_id) ON DELETE CASCADE,
  shard_id         bigint NOT NULL,
  file_index       integer NOT NULL,
  row_begin        bigint NOT NULL,
  row_end          bigint NOT NULL,
  file_last        integer NOT NULL DEFAULT -1,
  key_after        text NOT NULL DEFAULT '',
  key_upto         text NOT NULL DEFAULT '',
  state            text NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  epoch            bigint NOT NULL DEFAULT 0,
  rows_written     bigint NOT NULL DEFAULT 0,
  rows_failed      bigint NOT NULL DEFAULT 0,
  output_file      text NOT NULL DEFAULT '',
  dead_letter_file text NOT NULL DEFAULT '',
  message          text NOT NULL DEFAULT '',
  started_at_ms    bigint NOT NULL DEFAULT 0,
  committed_at_ms  bigint NOT NULL DEFAULT 0,
  lease_until_ms   bigint NOT NULL DEFAULT 0,
  holder_host      text NOT NULL DEFAULT '',
  holder_pid       bigint NOT NULL DEFAULT 0,
  holder_start     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, shard_id)
);

CREATE TABLE nightshift.item_failures (
  run_id     text NOT NULL,
  shard_id   bigint NOT NULL,
  "row"      bigint NOT NULL,
  key_json   text NOT NULL DEFAULT '',
  error      text NOT NULL DEFAULT '',
  attempts   integer NOT NULL DEFAULT 0,
  file_index integer NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, shard_id, "row"),
  FOREIGN KEY (run_id, shard_id) REFERENCES nightshift.shards (run_id, shard_id) ON DELETE CASCADE
);

CREATE TABLE nightshift.retry_parts (
  run_id          text NOT NULL,
  shard_id        bigint NOT NULL,
  seq             integer NOT NULL,
  output_file     text NOT NULL,
  rows            bigint NOT NULL,
  committed_at_ms bigint NOT NULL,
  PRIMARY KEY (run_id, shard_id, seq),
  FOREIGN KEY (run_id, shard_id) REFERENCES nightshift.shards (run_id, shard_id) ON DELETE CASCADE
);

CREATE TABLE nightshift.run_owners (
  run_id          text PRIMARY KEY REFERENCES nightshift.runs (run_id) ON DELETE CASCADE,
  host            text NOT NULL,
  pid             bigint NOT NULL,
  start_time      bigint NOT NULL,
  acquired_at_ms  bigint NOT NULL,
  heartbeat_at_ms bigint NOT NULL
);

CREATE TABLE nightshift.run_job_keys (
  run_id text NOT NULL REFERENCES nightshift.runs (run_id) ON DELETE CASCADE,
  key    text NOT NULL,
  value  text NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE nightshift.run_input_files (
  run_id   text NOT NULL REFERENCES nightshift.runs (run_id) ON DELETE CASCADE,
  path     text NOT NULL,
  size     bigint NOT NULL,
  mtime_ns bigint NOT NULL,
  PRIMARY KEY (run_id, path)
);

CREATE TABLE nightshift.tuning (
  key           text PRIMARY KEY,
  value         text NOT NULL,
  updated_at_ms bigint NOT NULL
);

-- The workers of a run (Ledger::RenewLeases / ListWorkers).
CREATE TABLE nightshift.workers (
  run_id          text NOT NULL REFERENCES nightshift.runs (run_id) ON DELETE CASCADE,
  host            text NOT NULL,
  pid             bigint NOT NULL,
  start_time      bigint NOT NULL,
  worker_index    integer NOT NULL,
  workers         integer NOT NULL,
  started_at_ms   bigint NOT NULL,
  heartbeat_at_ms bigint NOT NULL,
  PRIMARY KEY (run_id, host, pid, start_time)
);
)sql";

// Named locks (Ledger::AcquireLock): "schedule:JOB" is held by the one
// `nightshift schedule` process that decides that job's runs.
constexpr char kV2Locks[] = R"sql(
CREATE TABLE nightshift.locks (
  name            text PRIMARY KEY,
  host            text NOT NULL,
  pid             bigint NOT NULL,
  start_time      bigint NOT NULL,
  acquired_at_ms  bigint NOT NULL,
  heartbeat_at_ms bigint NOT NULL
);
)sql";

// In order; each applied once (nightshift.schema_version says how far). Never
// edit a migration that has shipped: add one at the end.
constexpr std::array kMigrations = {
    Migration{1, kV1Schema},
    Migration{2, kV2Locks},
};

// Any constant serves, as long as every nightshift uses the same one: it
// names "the nightshift schema migration" among the database's advisory locks.
constexpr int64_t kMigrationLock = 0x6e73686966740001;  // "nshift" 1

}  // namespace

int64_t LatestSchemaVersion() {
  return kMigrations.back().version;
}

Result<int64_t> SchemaVersion(PgConn* conn) {
  NS_ASSIGN_OR_RETURN(PgResult exists,
                      conn->Exec("SELECT to_regclass('nightshift.schema_version') IS NOT NULL",
                                 "reading the ledger's schema version"));
  if (exists.Text(0, 0) != "t") return 0;
  NS_ASSIGN_OR_RETURN(PgResult version,
                      conn->Exec("SELECT COALESCE(MAX(version), 0) FROM nightshift.schema_version",
                                 "reading the ledger's schema version"));
  return version.Int(0, 0);
}

Status MigrateSchema(PgConn* conn) {
  // Most opens find the schema current: check without taking the lock.
  NS_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(conn));
  if (version == LatestSchemaVersion()) return Status::Ok();

  NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn));
  // Held until COMMIT: the first opener migrates, the others wait here and
  // then find the schema current. CREATE ... IF NOT EXISTS alone would race.
  NS_RETURN_IF_ERROR(conn->Run(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLock),
                               "locking the ledger for migration"));
  NS_RETURN_IF_ERROR(
      conn->RunScript("SET LOCAL client_min_messages = warning; "  // no "already exists" notices
                      "CREATE SCHEMA IF NOT EXISTS nightshift; "
                      "CREATE TABLE IF NOT EXISTS nightshift.schema_version ("
                      "version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                      "creating the ledger's schema"));
  NS_ASSIGN_OR_RETURN(version, SchemaVersion(conn));
  if (version > LatestSchemaVersion()) {
    return Status(Code::kIoError,
                  fmt::format("ledger {} has schema version {}, newer than this nightshift "
                              "supports ({}); upgrade nightshift",
                              conn->described(), version, LatestSchemaVersion()));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= version) continue;
    NS_RETURN_IF_ERROR(conn->RunScript(
        m.sql, fmt::format("migrating the ledger to schema version {}", m.version)));
    NS_RETURN_IF_ERROR(conn->Run("INSERT INTO nightshift.schema_version (version) VALUES ($1)",
                                 "recording the ledger's schema version",
                                 {std::to_string(m.version)}));
  }
  return txn.Commit();
}

}  // namespace nightshift::pgledger
