#include "ledger/sqlite/records.h"

namespace nightshift::sqlite {

Result<RunRecord> ReadRun(const Statement& s, const Connection& conn) {
  RunRecord r;
  r.run_id = s.Text(0);
  r.job_name = s.Text(1);
  r.fingerprint = s.Text(2);
  NS_ASSIGN_OR_RETURN(r.state, Checked(ParseRunState(s.Text(3)), conn));
  r.message = s.Text(4);
  r.output_path = s.Text(5);
  r.model_path = s.Text(6);
  r.model_sha256 = s.Text(7);
  r.total_rows = s.Int(8);
  r.total_shards = s.Int(9);
  r.created_at_ms = s.Int(10);
  r.updated_at_ms = s.Int(11);
  r.finished_at_ms = s.Int(12);
  return r;
}

Result<ShardRecord> ReadShard(const Statement& s, const Connection& conn) {
  ShardRecord r;
  r.shard_id = s.Int(0);
  r.file_index = static_cast<int32_t>(s.Int(1));
  r.row_begin = s.Int(2);
  r.row_end = s.Int(3);
  NS_ASSIGN_OR_RETURN(r.state, Checked(ParseShardState(s.Text(4)), conn));
  r.attempts = static_cast<int32_t>(s.Int(5));
  r.epoch = s.Int(6);
  r.rows_written = s.Int(7);
  r.rows_failed = s.Int(8);
  r.output_file = s.Text(9);
  r.dead_letter_file = s.Text(10);
  r.started_at_ms = s.Int(11);
  r.committed_at_ms = s.Int(12);
  r.message = s.Text(13);
  r.file_last = static_cast<int32_t>(s.Int(14));
  r.key_after = s.Text(15);
  r.key_upto = s.Text(16);
  r.worker = s.Text(17);
  return r;
}

}  // namespace nightshift::sqlite
