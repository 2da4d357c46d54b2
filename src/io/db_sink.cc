#include "io/db_sink.h"

#include <fmt/format.h>

#include "nightshift/digest.h"
#include "nightshift/env.h"

namespace nightshift::io {
namespace {

class DbShardWriter final : public ShardWriter {
 public:
  DbShardWriter(DbSink* sink, const ShardRowSchemas* schemas,
                const std::shared_ptr<ChunkScanRegistry>& registry, ShardAttempt attempt,
                std::unique_ptr<DuckConnection> conn)
      : sink_(sink),
        attempt_(attempt),
        conn_(std::move(conn)),
        rows_(sink->layout(), schemas, registry) {}

  ~DbShardWriter() override {
    for (const auto& tmp : temps_) (void)sink_->env()->RemoveFile(tmp);
  }

  Status Append(const RowBatch& batch) override { return rows_.Append(batch); }

  Result<ShardOutput> Finish(const ClaimCheck& still_ours) override {
    ShardOutput out;
    bool published = false;
    // Dead letters are published under their final name before the commit:
    // a crash before it leaves a file the next attempt rewrites.
    auto publish = [&](const std::vector<RejectedRow>& rejected) -> Result<ShardOutput> {
      NS_RETURN_IF_ERROR(rows_.WriteDeadLetters(conn_.get(), sink_->env(), attempt_.shard_id,
                                                attempt_.epoch, rejected, still_ours, &out,
                                                &temps_));
      temps_.clear();
      rejected_ = rejected;
      published = true;
      return out;
    };
    // Repeated keys first: an input row whose item repeats a key is withheld
    // whole, like one whose item failed.
    if (sink_->layout().mode == OutputMode::kUpsert) {
      NS_RETURN_IF_ERROR(rows_.SetAsideRepeatedKeys(conn_.get()));
    }
    rows_.WithholdItemsOfFailedRows();
    NS_ASSIGN_OR_RETURN(out.rows_written,
                        sink_->CommitShard(rows_, attempt_, conn_.get(), publish));
    // Already committed (a retry after a lost acknowledgement): the dead
    // letters are those of the attempt that committed.
    if (!published) NS_RETURN_IF_ERROR(StatusOf(publish(rejected_)));
    return out;
  }

 private:
  DbSink* sink_;
  ShardAttempt attempt_;
  std::unique_ptr<DuckConnection> conn_;
  ShardRows rows_;
  std::vector<std::string> temps_;
  // The rows the database rejected in the last attempt that reached COMMIT.
  std::vector<RejectedRow> rejected_;
};

}  // namespace

bool IsRowRejection(std::string_view sqlstate) {
  return sqlstate.starts_with("22") || sqlstate.starts_with("23");
}

std::string CommitTableName(const std::string& table) {
  return table + "__nightshift_commits";
}

std::string SwapTableName(const std::string& table, const std::string& run_id) {
  Sha256 h;
  h.Update(run_id);
  return table + "__ns_swap_" + h.HexDigest().substr(0, 12);
}

std::string RetargetCreateTable(const std::string& create_sql, const std::string& new_name) {
  // Everything before the column list is "CREATE TABLE <name>" in some
  // quoting ("name", `name` or [name], any of which may hold a '('); the
  // column list and the constraints are kept as they are.
  size_t open = std::string::npos;
  char close = 0;  // the end of the quoted name being skipped
  for (size_t i = 0; i < create_sql.size() && open == std::string::npos; ++i) {
    const char c = create_sql[i];
    if (close != 0) {
      if (c == close) close = 0;
    } else if (c == '"' || c == '`') {
      close = c;
    } else if (c == '[') {
      close = ']';
    } else if (c == '(') {
      open = i;
    }
  }
  if (open == std::string::npos) return create_sql;
  return fmt::format("CREATE TABLE IF NOT EXISTS {} {}", new_name, create_sql.substr(open));
}

std::vector<CreateStatement> CreateTablesSql(const DbTableNames& names, OutputMode mode,
                                             bool target_exists, const std::string& defs,
                                             const std::string& existing_sql,
                                             const std::string& commit_defs) {
  std::vector<CreateStatement> out;
  const std::string pk = fmt::format(", PRIMARY KEY ({})", names.key_list);
  if (!target_exists && mode != OutputMode::kSwap) {
    out.push_back({fmt::format("CREATE TABLE IF NOT EXISTS {} ({}{})", names.target, defs,
                               mode == OutputMode::kUpsert ? pk : ""),
                   "creating the table"});
  }
  if (mode == OutputMode::kSwap) {
    out.push_back({existing_sql.empty()
                       ? fmt::format("CREATE TABLE IF NOT EXISTS {} ({}{})", names.swap, defs, pk)
                       : RetargetCreateTable(existing_sql, names.swap),
                   "creating the run's swap table"});
  }
  out.push_back({fmt::format("CREATE TABLE IF NOT EXISTS {} ({})", names.commits, commit_defs),
                 "creating the commit table"});
  return out;
}

Result<int64_t> AlreadyCommitted(const SinkLayout& layout, const ShardAttempt& a,
                                 int64_t their_epoch, int64_t their_rows) {
  if (their_epoch == a.epoch) return their_rows;
  return Error(Code::kConflict,
               fmt::format("shard {}{} of run {} was already committed to table '{}' by another "
                           "worker (epoch {}; this attempt had epoch {}): this attempt was rolled "
                           "back, its rows not written",
                           a.shard_id, a.part > 0 ? fmt::format(" (retry part {})", a.part) : "",
                           layout.run_id, layout.table, their_epoch, a.epoch));
}

Status DbSink::OpenShardRows() {
  NS_ASSIGN_OR_RETURN(db_, DuckDatabase::OpenInMemory(1));
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db_));
  NS_ASSIGN_OR_RETURN(registry_, ChunkScanRegistry::Install(conn.get()));
  NS_ASSIGN_OR_RETURN(schemas_, MakeShardRowSchemas(conn.get(), layout_));
  return Status::Ok();
}

Result<std::unique_ptr<ShardWriter>> DbSink::BeginShard(int64_t shard_id, int64_t epoch,
                                                        int32_t retry_seq) {
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db_));
  return std::unique_ptr<ShardWriter>(std::make_unique<DbShardWriter>(
      this, &schemas_, registry_, ShardAttempt{shard_id, epoch, retry_seq}, std::move(conn)));
}

}  // namespace nightshift::io
