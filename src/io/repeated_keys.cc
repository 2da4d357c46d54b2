// ShardRows::SetAsideRepeatedKeys (shard_rows.h): upsert's rule for a key
// that repeats within one shard, the same for every database sink.
#include <fmt/format.h>

#include "io/shard_rows.h"
#include "io/sql_types.h"

namespace nightshift::io {

Status ShardRows::SetAsideRepeatedKeys(DuckConnection* conn) {
  if (repeats_found_) return Status::Ok();
  std::string keys;
  for (const std::string& k : layout_.key) keys += (keys.empty() ? "" : ", ") + QuoteIdent(k);
  // Positions among the good rows (the single-threaded scan keeps the append
  // order), each row with its key's first one in input order: the append
  // order, or the file row (__ns_row) when batches may arrive out of order.
  const char* input_order = layout_.restore_order ? "__ns_row, i" : "i";
  NS_ASSIGN_OR_RETURN(
      DuckResult r,
      conn->Query(fmt::format(
          "SELECT i, first_i, key_json FROM (SELECT i, first_value(i) OVER (PARTITION BY {} ORDER "
          "BY {}) AS first_i, to_json({})::VARCHAR AS key_json FROM (SELECT *, row_number() OVER "
          "() - 1 AS i FROM {})) WHERE i <> first_i ORDER BY i",
          keys, input_order, KeyExpr(), out_scan_.Sql())));
  constexpr int64_t kRowMask = (int64_t{1} << 40) - 1;
  for (idx_t i = 0; i < r.row_count(); ++i) {
    const int64_t first = origin_[static_cast<size_t>(r.Int(1, i))];
    repeats_.push_back(RejectedRow{
        r.Int(0, i),
        fmt::format("key {} repeats an earlier row of the same shard (input row {}): upsert "
                    "writes the first row of a key in a shard, the later ones are dead letters",
                    r.Text(2, i), first & kRowMask)});
  }
  repeats_found_ = true;
  if (repeats_.empty()) return Status::Ok();
  size_t next = 0;
  for (int64_t i = 0; i < out_.rows(); ++i) {
    if (next < repeats_.size() && repeats_[next].index == i) {
      ++next;
    } else {
      kept_.push_back(i);
    }
  }
  return Status::Ok();
}

}  // namespace nightshift::io
