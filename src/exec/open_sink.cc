#include "exec/open_sink.h"

#include <fmt/format.h>

#include <ctime>

#include "exec/ahead.h"
#include "exec/output_folders.h"
#include "io/duckdb_sink.h"
#include "io/file_sink.h"
#include "io/postgres/pg_sink.h"
#include "io/sqlite/sqlite_sink.h"
#include "ledger/postgres/pg_ledger_txn.h"
#include "nightshift/env.h"
#include "nightshift/pg_location.h"
#include "nightshift/utc_time.h"
#include "obs/log.h"

namespace nightshift::exec {
namespace {

// The file sink's DuckDB threads: one shard's COPY at a time per writer.
constexpr int kFileSinkThreads = 1;

}  // namespace

std::string DatabaseOutputPath(const OutputSpec& output) {
  return fmt::format("{}:{}", OutputFormatName(output.format), output.table);
}

SinkDatabaseAhead OpenSinkDatabaseAhead(const JobSpec& job) {
  if (IsDatabase(job.output.format)) return {};
  return Ahead([] { return io::DuckDatabase::OpenInMemory(kFileSinkThreads); });
}

Result<std::unique_ptr<Sink>> OpenSink(const JobSpec& job, const RunRecord& run, SinkLayout layout,
                                       Ledger* ledger, SinkDatabaseAhead* ahead) {
  layout.shared = ledger->shared();
  if (!IsDatabase(job.output.format)) {
    NS_RETURN_IF_ERROR(ClaimOutputFolders(job, run, layout, ledger));
    if (ahead != nullptr && ahead->valid()) {
      auto db = ahead->get();
      if (db.has_value()) return io::OpenFileSinkOn(layout, std::move(*db));
    }
    // Not opened ahead, or that failed: opened here, which reports why.
    return OpenFileSink(layout, kFileSinkThreads);
  }
  // {date} is the day the run was created: the same folder on every resume.
  layout.dead_letter_dir =
      ExpandOutputPath(job.errors.dead_letter, job, run.run_id, UtcDate(run.created_at_ms));
  layout.url = job.output.url;
  layout.table = job.output.table;
  layout.mode = job.output.mode;
  layout.run_id = run.run_id;
  switch (job.output.format) {
    case OutputFormat::kPostgres:
      // A PostgreSQL ledger in the output's database commits each shard in
      // the sink's transaction (io/postgres/pg_sink.h).
      return io::OpenPostgresSink(layout, IsPostgresLocation(job.run.ledger)
                                              ? pgledger::MakeLedgerInTxn(job.run.ledger)
                                              : nullptr);
    case OutputFormat::kSqlite: return io::OpenSqliteSink(layout);
    case OutputFormat::kDuckdb: return io::OpenDuckdbSink(layout);
    default: break;
  }
  return Error(Code::kInvalidJob, fmt::format("output.format {} is not available yet",
                                              OutputFormatName(job.output.format)));
}

Status AdoptHeldShards(Sink* sink, Ledger* ledger, const RunRecord& run) {
  const std::string& run_id = run.run_id;
  // A shared run's shards may be held by live workers: there the claim loop
  // adopts a shard when the sink refuses it (ShardCommitter), under a claim.
  if (ledger->shared()) return Status::Ok();
  NS_ASSIGN_OR_RETURN(auto held, sink->HeldShards());
  if (held.empty()) return Status::Ok();
  NS_ASSIGN_OR_RETURN(auto shards, ledger->ListShards(run_id));
  for (const auto& h : held) {
    if (h.retry_seq != 0) continue;  // retry parts commit through `retry` only
    for (const auto& s : shards) {
      if (s.shard_id != h.shard_id || s.state == ShardState::kCommitted) continue;
      NS_ASSIGN_OR_RETURN(int64_t epoch, ledger->ClaimShard(run_id, s.shard_id));
      NS_RETURN_IF_ERROR(ledger->CommitShard(run_id, s.shard_id, epoch, h.rows, "", "", {}));
      obs::Log(obs::LogLevel::kInfo, "shard_adopted",
               fmt::format("shard {} was already in the table (committed there before a stop): "
                           "recorded, not written again",
                           s.shard_id),
               obs::LogFields(run.job_name, run_id, s.shard_id));
    }
  }
  return Status::Ok();
}

}  // namespace nightshift::exec
