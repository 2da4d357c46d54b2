#include "ledger/sqlite/run_store.h"

#include "ledger/sqlite/records.h"

namespace nightshift::sqlite {

Status InsertRun(Connection* conn, const RunRecord& run, int64_t planned_rows, int64_t shard_count,
                 int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(Statement insert,
                      conn->Prepare("INSERT INTO runs (" NS_LEDGER_RUN_COLUMNS
                                    ") VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8, ?9, "
                                    "?10, ?10, 0)"));
  insert.Bind(1, run.run_id)
      .Bind(2, run.job_name)
      .Bind(3, run.fingerprint)
      .Bind(4, RunStateName(RunState::kPending))
      .Bind(5, run.output_path)
      .Bind(6, run.model_path)
      .Bind(7, run.model_sha256)
      .Bind(8, run.total_rows > 0 ? run.total_rows : planned_rows)
      .Bind(9, shard_count)
      .Bind(10, now_ms);
  return insert.Run();
}

Result<std::vector<RunRecord>> SelectRuns(Connection* conn, const std::string& job_name,
                                          int64_t limit) {
  NS_ASSIGN_OR_RETURN(
      Statement select,
      conn->Prepare("SELECT " NS_LEDGER_RUN_COLUMNS " FROM runs WHERE job_name = ?1 "
                    "ORDER BY created_at_ms DESC, rowid DESC LIMIT ?2"));
  select.Bind(1, job_name);
  select.Bind(2, limit < 0 ? int64_t{-1} : limit);
  std::vector<RunRecord> runs;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return runs;
    NS_ASSIGN_OR_RETURN(RunRecord run, ReadRun(select, *conn));
    runs.push_back(std::move(run));
  }
}

Result<std::vector<InputFileRecord>> SelectFiles(Connection* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT idx, path, size, mtime_ns, rows FROM files "
                                    "WHERE run_id = ?1 ORDER BY idx"));
  select.Bind(1, run_id);
  std::vector<InputFileRecord> files;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return files;
    files.push_back({.index = static_cast<int32_t>(select.Int(0)),
                     .path = select.Text(1),
                     .size = select.Int(2),
                     .mtime_ns = select.Int(3),
                     .rows = select.Int(4)});
  }
}

Result<std::vector<ShardRecord>> SelectShards(Connection* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(
      Statement select,
      conn->Prepare("SELECT " NS_SHARD_COLUMNS " FROM shards WHERE run_id = ?1 ORDER BY shard_id"));
  select.Bind(1, run_id);
  std::vector<ShardRecord> shards;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return shards;
    NS_ASSIGN_OR_RETURN(ShardRecord shard, ReadShard(select, *conn));
    shards.push_back(std::move(shard));
  }
}

}  // namespace nightshift::sqlite
