#include "ledger/postgres/pg_runs.h"

#include <fmt/format.h>

#include <cstdint>
#include <set>

#include "ledger/postgres/pg_claims.h"
#include "ledger/postgres/pg_records.h"

namespace nightshift::pgledger {
namespace {

using std::to_string;

bool IsTerminal(RunState s) {
  return s == RunState::kCompleted || s == RunState::kFailed || s == RunState::kInterrupted;
}

Status InsertFiles(PgConn* conn, const std::string& run_id,
                   const std::vector<InputFileRecord>& files) {
  if (files.empty()) return Status::Ok();
  return conn->Run(
      "INSERT INTO nightshift.files (run_id, idx, path, size, mtime_ns, rows) "
      "SELECT $1::text, x.idx, x.path, x.size, x.mtime_ns, x.\"rows\" "
      "FROM " NS_PG_FILES_RECORDSET("$2"),
      "storing a run's files", {run_id, FilesJson(files)});
}

// Stores `shards` pending (a plan's new shards).
Status InsertShards(PgConn* conn, const std::string& run_id,
                    const std::vector<ShardRecord>& shards) {
  if (shards.empty()) return Status::Ok();
  return conn->Run(
      "INSERT INTO nightshift.shards (run_id, shard_id, file_index, row_begin, "
      "row_end, file_last, key_after, key_upto, state) SELECT $1::text, "
      "x.shard_id, x.file_index, x.row_begin, x.row_end, x.file_last, "
      "COALESCE(x.key_after, ''), COALESCE(x.key_upto, ''), 'pending' "
      "FROM " NS_PG_SHARDS_RECORDSET("$2"),
      "storing a run's shards", {run_id, ShardsJson(shards)});
}

}  // namespace

Result<std::optional<RunRecord>> FindRun(PgConn* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT " NS_LEDGER_RUN_COLUMNS
                                             " FROM nightshift.runs WHERE run_id = $1::text",
                                             "reading a run", {run_id}));
  if (r.rows() == 0) return std::optional<RunRecord>();
  NS_ASSIGN_OR_RETURN(RunRecord run, ReadRun(r, 0));
  return std::optional<RunRecord>(std::move(run));
}

Result<std::vector<RunRecord>> SelectRuns(PgConn* conn, const std::string& job_name,
                                          int64_t limit) {
  NS_ASSIGN_OR_RETURN(
      PgResult r, conn->Exec("SELECT " NS_LEDGER_RUN_COLUMNS
                             " FROM nightshift.runs WHERE job_name = $1::text ORDER BY "
                             "created_at_ms DESC, seq DESC LIMIT $2::bigint",
                             "listing runs", {job_name, to_string(limit < 0 ? INT64_MAX : limit)}));
  std::vector<RunRecord> runs;
  for (int i = 0; i < r.rows(); ++i) {
    NS_ASSIGN_OR_RETURN(RunRecord run, ReadRun(r, i));
    runs.push_back(std::move(run));
  }
  return runs;
}

Result<RunRecord> CreateOrAttachRun(PgConn* conn, const RunRecord& run,
                                    const std::vector<InputFileRecord>& files,
                                    const std::vector<ShardRecord>& shards) {
  int64_t planned_rows = 0;
  for (const ShardRecord& s : shards) planned_rows += s.row_end - s.row_begin;
  NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn));
  // A concurrent creator of the same run makes this wait for its commit,
  // then insert nothing: the run is then read as that creator stored it.
  NS_ASSIGN_OR_RETURN(
      PgResult inserted,
      conn->Exec("INSERT INTO nightshift.runs (run_id, job_name, fingerprint, state, "
                 "output_path, model_path, model_sha256, total_rows, total_shards, "
                 "created_at_ms, updated_at_ms) VALUES ($1::text, $2::text, $3::text, "
                 "'pending', $4::text, $5::text, $6::text, $7::bigint, $8::bigint, "
                 "nightshift.now_ms(), nightshift.now_ms()) ON CONFLICT (run_id) DO NOTHING",
                 "creating a run",
                 {run.run_id, run.job_name, run.fingerprint, run.output_path, run.model_path,
                  run.model_sha256, to_string(run.total_rows > 0 ? run.total_rows : planned_rows),
                  to_string(shards.size())}));
  if (inserted.Affected() == 1) {
    NS_RETURN_IF_ERROR(InsertFiles(conn, run.run_id, files));
    NS_RETURN_IF_ERROR(InsertShards(conn, run.run_id, shards));
  }
  NS_ASSIGN_OR_RETURN(std::optional<RunRecord> stored, FindRun(conn, run.run_id));
  if (!stored.has_value()) return Error(NoSuchRun(conn, run.run_id));
  NS_RETURN_IF_ERROR(txn.Commit());
  return *std::move(stored);
}

Result<std::vector<InputFileRecord>> SelectFiles(PgConn* conn, const std::string& run_id) {
  NS_RETURN_IF_ERROR(RequireRun(conn, run_id));
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("SELECT idx, path, size, mtime_ns, rows FROM nightshift.files "
                                 "WHERE run_id = $1::text ORDER BY idx",
                                 "listing a run's files", {run_id}));
  std::vector<InputFileRecord> files;
  for (int i = 0; i < r.rows(); ++i) {
    files.push_back({.index = static_cast<int32_t>(r.Int(i, 0)),
                     .path = r.Text(i, 1),
                     .size = r.Int(i, 2),
                     .mtime_ns = r.Int(i, 3),
                     .rows = r.Int(i, 4)});
  }
  return files;
}

Result<std::vector<ShardRecord>> SelectShards(PgConn* conn, const std::string& run_id) {
  NS_RETURN_IF_ERROR(RequireRun(conn, run_id));
  NS_ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT " NS_PG_SHARD_COLUMNS
                                             " FROM nightshift.shards WHERE run_id = $1::text "
                                             "ORDER BY shard_id",
                                             "listing a run's shards", {run_id}));
  return ReadShards(r);
}

Status UpdateRunState(PgConn* conn, const std::string& run_id, RunState state,
                      const std::string& message) {
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("UPDATE nightshift.runs SET state = $2::text, message = $3::text, "
                 "updated_at_ms = nightshift.now_ms(), finished_at_ms = CASE WHEN $4::boolean "
                 "THEN nightshift.now_ms() ELSE 0 END WHERE run_id = $1::text",
                 "setting a run's state",
                 {run_id, std::string(RunStateName(state)), message,
                  IsTerminal(state) ? "true" : "false"}));
  return r.Affected() == 1 ? Status::Ok() : NoSuchRun(conn, run_id);
}

Status UpdateRunModel(PgConn* conn, const std::string& run_id, const std::string& model_path,
                      const std::string& model_sha256) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("UPDATE nightshift.runs SET model_path = $2::text, model_sha256 = "
                                 "$3::text, updated_at_ms = nightshift.now_ms() WHERE run_id = "
                                 "$1::text",
                                 "setting a run's model", {run_id, model_path, model_sha256}));
  return r.Affected() == 1 ? Status::Ok() : NoSuchRun(conn, run_id);
}

Status StoreRunInputs(PgConn* conn, const std::string& run_id, const RunInputs& inputs) {
  // Workers starting together each record the run's inputs: the run's row
  // lock makes their delete-then-insert take turns (the later one sees the
  // earlier one's rows and replaces them) instead of colliding on the keys.
  NS_RETURN_IF_ERROR(conn->Run("SELECT 1 FROM nightshift.runs WHERE run_id = $1::text FOR UPDATE",
                               "locking a run to record its inputs", {run_id}));
  NS_RETURN_IF_ERROR(conn->Run("DELETE FROM nightshift.run_job_keys WHERE run_id = $1::text",
                               "replacing a run's inputs", {run_id}));
  NS_RETURN_IF_ERROR(conn->Run("DELETE FROM nightshift.run_input_files WHERE run_id = $1::text",
                               "replacing a run's inputs", {run_id}));
  for (const auto& [key, value] : inputs.job) {
    NS_RETURN_IF_ERROR(
        conn->Run("INSERT INTO nightshift.run_job_keys (run_id, key, value) "
                  "VALUES ($1::text, $2::text, $3::text) ON CONFLICT (run_id, "
                  "key) DO UPDATE SET value = excluded.value",
                  "recording a run's job keys", {run_id, key, value}));
  }
  if (inputs.files.empty()) return Status::Ok();
  // DISTINCT ON: a path listed twice is one row, as SQLite's OR REPLACE has it.
  return conn->Run(
      "INSERT INTO nightshift.run_input_files (run_id, path, size, mtime_ns) "
      "SELECT DISTINCT ON (x.path) $1::text, x.path, x.size, x.mtime_ns "
      "FROM " NS_PG_FILES_RECORDSET("$2"),
      "recording a run's input files", {run_id, FilesJson(inputs.files)});
}

Result<std::optional<RunInputs>> LoadRunInputs(PgConn* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(PgResult keys,
                      conn->Exec("SELECT key, value FROM nightshift.run_job_keys WHERE run_id "
                                 "= $1::text ORDER BY key COLLATE \"C\"",
                                 "reading a run's inputs", {run_id}));
  if (keys.rows() == 0) return std::optional<RunInputs>();
  RunInputs inputs;
  for (int i = 0; i < keys.rows(); ++i) inputs.job.emplace_back(keys.Text(i, 0), keys.Text(i, 1));
  NS_ASSIGN_OR_RETURN(PgResult files,
                      conn->Exec("SELECT path, size, mtime_ns FROM nightshift.run_input_files "
                                 "WHERE run_id = $1::text ORDER BY path COLLATE \"C\"",
                                 "reading a run's inputs", {run_id}));
  for (int i = 0; i < files.rows(); ++i) {
    InputFileRecord f;
    f.path = files.Text(i, 0);
    f.size = files.Int(i, 1);
    f.mtime_ns = files.Int(i, 2);
    inputs.files.push_back(std::move(f));
  }
  return std::optional<RunInputs>(std::move(inputs));
}

Status ReplaceRunPlan(PgConn* conn, const std::string& run_id,
                      const std::vector<InputFileRecord>& files,
                      const std::vector<ShardRecord>& shards) {
  // The run's row first: re-plans of one run queue here.
  NS_RETURN_IF_ERROR(conn->Run("SELECT 1 FROM nightshift.runs WHERE run_id = $1::text FOR UPDATE",
                               "locking a run to re-plan it", {run_id}));
  NS_ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT shard_id FROM nightshift.shards WHERE "
                                             "run_id = $1::text AND state = 'committed'",
                                             "re-planning a run", {run_id}));
  std::set<int64_t> committed;
  for (int i = 0; i < r.rows(); ++i) committed.insert(r.Int(i, 0));
  std::vector<ShardRecord> fresh, kept;
  int64_t rows = 0;
  for (const ShardRecord& s : shards) {
    (committed.contains(s.shard_id) ? kept : fresh).push_back(s);
    rows += s.row_end - s.row_begin;
  }
  if (kept.size() != committed.size()) {
    return Status(Code::kInvalidJob,
                  fmt::format("re-planning run '{}': the new plan leaves out {} committed shard(s)",
                              run_id, committed.size() - kept.size()));
  }
  NS_RETURN_IF_ERROR(
      conn->Run("DELETE FROM nightshift.shards WHERE run_id = $1::text AND "
                "state <> 'committed'",
                "re-planning a run", {run_id}));
  NS_RETURN_IF_ERROR(conn->Run("DELETE FROM nightshift.files WHERE run_id = $1::text",
                               "re-planning a run", {run_id}));
  NS_RETURN_IF_ERROR(InsertFiles(conn, run_id, files));
  NS_RETURN_IF_ERROR(InsertShards(conn, run_id, fresh));
  // Committed shards keep their state, output and failures, with the file
  // index the new plan gives them.
  if (!kept.empty()) {
    NS_RETURN_IF_ERROR(
        conn->Run("UPDATE nightshift.shards s SET file_index = x.file_index "
                  "FROM " NS_PG_SHARDS_RECORDSET("$2") " WHERE s.run_id = "
                                                       "$1::text AND s.shard_id = x.shard_id",
                  "re-planning a run", {run_id, ShardsJson(kept)}));
  }
  // A run with work again is pending, not completed, until it runs.
  return conn->Run(
      "UPDATE nightshift.runs SET total_rows = $2::bigint, total_shards = "
      "$3::bigint, updated_at_ms = nightshift.now_ms(), state = CASE WHEN "
      "$4::boolean THEN 'pending' ELSE state END, finished_at_ms = CASE WHEN "
      "$4::boolean THEN 0 ELSE finished_at_ms END WHERE run_id = $1::text",
      "re-planning a run",
      {run_id, to_string(rows), to_string(shards.size()), fresh.empty() ? "false" : "true"});
}

}  // namespace nightshift::pgledger
