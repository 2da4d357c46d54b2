#include "ledger/sqlite/input_store.h"

#include <fmt/format.h>

#include <map>

namespace nightshift::sqlite {

Status InsertFiles(Connection* conn, const std::string& run_id,
                   const std::vector<InputFileRecord>& files) {
  for (const InputFileRecord& f : files) {
    NS_ASSIGN_OR_RETURN(Statement insert,
                        conn->Prepare("INSERT INTO files (run_id, idx, path, size, mtime_ns, "
                                      "rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    insert.Bind(1, run_id)
        .Bind(2, int64_t{f.index})
        .Bind(3, f.path)
        .Bind(4, f.size)
        .Bind(5, f.mtime_ns)
        .Bind(6, f.rows);
    NS_RETURN_IF_ERROR(insert.Run());
  }
  return Status::Ok();
}

Status InsertPendingShard(Connection* conn, const std::string& run_id, const ShardRecord& s) {
  NS_ASSIGN_OR_RETURN(Statement insert,
                      conn->Prepare("INSERT INTO shards (run_id, shard_id, file_index, "
                                    "row_begin, row_end, state, file_last, key_after, "
                                    "key_upto) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  insert.Bind(1, run_id)
      .Bind(2, s.shard_id)
      .Bind(3, int64_t{s.file_index})
      .Bind(4, s.row_begin)
      .Bind(5, s.row_end)
      .Bind(6, ShardStateName(ShardState::kPending))
      .Bind(7, int64_t{s.file_last})
      .Bind(8, s.key_after)
      .Bind(9, s.key_upto);
  return insert.Run();
}

namespace {

// The committed shards of the run, by id, with their file index.
Result<std::map<int64_t, int64_t>> CommittedShards(Connection* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(Statement select, conn->Prepare("SELECT shard_id, file_index FROM shards "
                                                      "WHERE run_id = ?1 AND state = ?2"));
  select.Bind(1, run_id).Bind(2, ShardStateName(ShardState::kCommitted));
  std::map<int64_t, int64_t> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    out[select.Int(0)] = select.Int(1);
  }
  return out;
}

// Stores one shard of the new plan: a committed one takes its new file
// index, any other is inserted pending.
Status StoreShard(Connection* conn, const std::string& run_id, const ShardRecord& s,
                  bool committed) {
  if (committed) {
    NS_ASSIGN_OR_RETURN(
        Statement update,
        conn->Prepare("UPDATE shards SET file_index = ?3 WHERE run_id = ?1 AND shard_id = ?2"));
    update.Bind(1, run_id).Bind(2, s.shard_id).Bind(3, int64_t{s.file_index});
    return update.Run();
  }
  return InsertPendingShard(conn, run_id, s);
}

}  // namespace

Status StoreRunInputs(Connection* conn, const std::string& run_id, const RunInputs& inputs) {
  for (const char* table : {"run_job_keys", "run_input_files"}) {
    NS_ASSIGN_OR_RETURN(Statement del,
                        conn->Prepare(fmt::format("DELETE FROM {} WHERE run_id = ?1", table)));
    del.Bind(1, run_id);
    NS_RETURN_IF_ERROR(del.Run());
  }
  for (const auto& [key, value] : inputs.job) {
    NS_ASSIGN_OR_RETURN(
        Statement insert,
        conn->Prepare("INSERT INTO run_job_keys (run_id, key, value) VALUES (?1, ?2, ?3)"));
    insert.Bind(1, run_id).Bind(2, key).Bind(3, value);
    NS_RETURN_IF_ERROR(insert.Run());
  }
  for (const InputFileRecord& f : inputs.files) {
    NS_ASSIGN_OR_RETURN(Statement insert,
                        conn->Prepare("INSERT OR REPLACE INTO run_input_files (run_id, path, "
                                      "size, mtime_ns) VALUES (?1, ?2, ?3, ?4)"));
    insert.Bind(1, run_id).Bind(2, f.path).Bind(3, f.size).Bind(4, f.mtime_ns);
    NS_RETURN_IF_ERROR(insert.Run());
  }
  return Status::Ok();
}

Result<std::optional<RunInputs>> LoadRunInputs(Connection* conn, const std::string& run_id) {
  RunInputs inputs;
  {
    NS_ASSIGN_OR_RETURN(Statement select,
                        conn->Prepare("SELECT key, value FROM run_job_keys WHERE run_id = ?1 "
                                      "ORDER BY key"));
    select.Bind(1, run_id);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      inputs.job.emplace_back(select.Text(0), select.Text(1));
    }
  }
  if (inputs.job.empty()) return std::optional<RunInputs>();
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT path, size, mtime_ns FROM run_input_files "
                                    "WHERE run_id = ?1 ORDER BY path"));
  select.Bind(1, run_id);
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    InputFileRecord f;
    f.path = select.Text(0);
    f.size = select.Int(1);
    f.mtime_ns = select.Int(2);
    inputs.files.push_back(std::move(f));
  }
  return std::optional<RunInputs>(std::move(inputs));
}

Status ReplaceRunPlan(Connection* conn, const std::string& run_id,
                      const std::vector<InputFileRecord>& files,
                      const std::vector<ShardRecord>& shards, int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(auto committed, CommittedShards(conn, run_id));
  size_t committed_given = 0;
  for (const ShardRecord& s : shards) committed_given += committed.contains(s.shard_id) ? 1 : 0;
  if (committed_given != committed.size()) {
    return Status(Code::kInvalidJob,
                  fmt::format("re-planning run '{}': the new plan leaves out {} committed shard(s)",
                              run_id, committed.size() - committed_given));
  }
  {
    NS_ASSIGN_OR_RETURN(Statement del,
                        conn->Prepare("DELETE FROM shards WHERE run_id = ?1 AND state != ?2"));
    del.Bind(1, run_id).Bind(2, ShardStateName(ShardState::kCommitted));
    NS_RETURN_IF_ERROR(del.Run());
  }
  {
    NS_ASSIGN_OR_RETURN(Statement del, conn->Prepare("DELETE FROM files WHERE run_id = ?1"));
    del.Bind(1, run_id);
    NS_RETURN_IF_ERROR(del.Run());
  }
  NS_RETURN_IF_ERROR(InsertFiles(conn, run_id, files));
  int64_t rows = 0;
  bool pending = false;
  for (const ShardRecord& s : shards) {
    const bool was_committed = committed.contains(s.shard_id);
    pending |= !was_committed;
    rows += s.row_end - s.row_begin;
    NS_RETURN_IF_ERROR(StoreShard(conn, run_id, s, was_committed));
  }
  // A run with work again is pending, not completed, until it runs.
  NS_ASSIGN_OR_RETURN(
      Statement update,
      conn->Prepare("UPDATE runs SET total_rows = ?2, total_shards = ?3, updated_at_ms = ?4, "
                    "state = CASE WHEN ?5 THEN ?6 ELSE state END, "
                    "finished_at_ms = CASE WHEN ?5 THEN 0 ELSE finished_at_ms END "
                    "WHERE run_id = ?1"));
  update.Bind(1, run_id)
      .Bind(2, rows)
      .Bind(3, static_cast<int64_t>(shards.size()))
      .Bind(4, now_ms)
      .Bind(5, int64_t{pending ? 1 : 0})
      .Bind(6, RunStateName(RunState::kPending));
  return update.Run();
}

}  // namespace nightshift::sqlite
