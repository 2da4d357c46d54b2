#include "ledger/postgres/pg_records.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace nightshift::pgledger {
namespace {

// Text that is not valid UTF-8 cannot be stored in a UTF-8 database anyway;
// replacing it keeps dump() from throwing.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Status BadRow(const std::string& what, const Status& why) {
  return Status(Code::kIoError, fmt::format("ledger {}: {}", what, why.message()));
}

Result<RunRecord> ReadRun(const PgResult& r, int row) {
  RunRecord run;
  run.run_id = r.Text(row, 0);
  run.job_name = r.Text(row, 1);
  run.fingerprint = r.Text(row, 2);
  auto state = ParseRunState(r.Text(row, 3));
  if (!state.has_value()) return Error(BadRow("run " + run.run_id, state.error()));
  run.state = *state;
  run.message = r.Text(row, 4);
  run.output_path = r.Text(row, 5);
  run.model_path = r.Text(row, 6);
  run.model_sha256 = r.Text(row, 7);
  run.total_rows = r.Int(row, 8);
  run.total_shards = r.Int(row, 9);
  run.created_at_ms = r.Int(row, 10);
  run.updated_at_ms = r.Int(row, 11);
  run.finished_at_ms = r.Int(row, 12);
  return run;
}

Result<ShardRecord> ReadShard(const PgResult& r, int row) {
  ShardRecord s;
  s.shard_id = r.Int(row, 0);
  s.file_index = static_cast<int32_t>(r.Int(row, 1));
  s.row_begin = r.Int(row, 2);
  s.row_end = r.Int(row, 3);
  auto state = ParseShardState(r.Text(row, 4));
  if (!state.has_value()) {
    return Error(BadRow(fmt::format("shard {}", s.shard_id), state.error()));
  }
  s.state = *state;
  s.attempts = static_cast<int32_t>(r.Int(row, 5));
  s.epoch = r.Int(row, 6);
  s.rows_written = r.Int(row, 7);
  s.rows_failed = r.Int(row, 8);
  s.output_file = r.Text(row, 9);
  s.dead_letter_file = r.Text(row, 10);
  s.started_at_ms = r.Int(row, 11);
  s.committed_at_ms = r.Int(row, 12);
  s.message = r.Text(row, 13);
  s.file_last = static_cast<int32_t>(r.Int(row, 14));
  s.key_after = r.Text(row, 15);
  s.key_upto = r.Text(row, 16);
  s.worker = r.Text(row, 17);
  return s;
}

Result<std::vector<ShardRecord>> ReadShards(const PgResult& r) {
  std::vector<ShardRecord> shards;
  shards.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    NS_ASSIGN_OR_RETURN(ShardRecord s, ReadShard(r, i));
    shards.push_back(std::move(s));
  }
  return shards;
}

std::string FilesJson(const std::vector<InputFileRecord>& files) {
  nlohmann::json j = nlohmann::json::array();
  for (const InputFileRecord& f : files) {
    j.push_back({{"idx", f.index},
                 {"path", f.path},
                 {"size", f.size},
                 {"mtime_ns", f.mtime_ns},
                 {"rows", f.rows}});
  }
  return Dump(j);
}

std::string ShardsJson(const std::vector<ShardRecord>& shards) {
  nlohmann::json j = nlohmann::json::array();
  for (const ShardRecord& s : shards) {
    j.push_back({{"shard_id", s.shard_id},
                 {"file_index", s.file_index},
                 {"row_begin", s.row_begin},
                 {"row_end", s.row_end},
                 {"file_last", s.file_last},
                 {"key_after", s.key_after},
                 {"key_upto", s.key_upto}});
  }
  return Dump(j);
}

std::string FailuresJson(const std::vector<ItemFailure>& failures) {
  nlohmann::json j = nlohmann::json::array();
  for (const ItemFailure& f : failures) {
    j.push_back({{"row", f.row},
                 {"key_json", f.key_json},
                 {"error", f.error},
                 {"attempts", f.attempts},
                 {"file_index", f.file_index}});
  }
  return Dump(j);
}

}  // namespace nightshift::pgledger
