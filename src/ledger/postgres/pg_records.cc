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

// One row of a result, read by column number (ledger/record_columns.h).
struct PgRow {
  const PgResult& result;
  int row;
  std::string Text(int column) const { return result.Text(row, column); }
  int64_t Int(int column) const { return result.Int(row, column); }
};

}  // namespace

Status BadRow(const std::string& what, const Status& why) {
  return Status(Code::kIoError, fmt::format("ledger {}: {}", what, why.message()));
}

Result<RunRecord> ReadRun(const PgResult& r, int row) {
  auto run = ledger::RunFromRow(PgRow{r, row});
  if (!run.has_value()) return Error(BadRow("run " + r.Text(row, 0), run.error()));
  return run;
}

Result<ShardRecord> ReadShard(const PgResult& r, int row) {
  auto shard = ledger::ShardFromRow(PgRow{r, row});
  if (!shard.has_value()) {
    return Error(BadRow(fmt::format("shard {}", r.Int(row, 0)), shard.error()));
  }
  return shard;
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
