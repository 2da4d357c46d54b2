// The rows ShardRows sets aside as dead letters though they were scored
// (shard_rows.h): upsert's rule for a key that repeats within one shard, the
// same for every database sink (SetAsideRepeatedKeys), and the items of an
// input row one of whose items failed (WithholdItemsOfFailedRows).
#include <fmt/format.h>

#include <algorithm>

#include "io/db_columns.h"
#include "io/shard_rows.h"
#include "io/sql_types.h"

namespace nightshift::io {

Status ShardRows::SetAsideRepeatedKeys(DuckConnection* conn) {
  if (repeats_found_) return Status::Ok();
  // The table's key: with items (pdf_pages' pages, crop's boxes), an input
  // row's items share input.key and differ by their number.
  const std::vector<std::string> table_key = TableKey(layout_);
  std::string keys, key_json;
  for (const std::string& k : table_key) {
    keys += (keys.empty() ? "" : ", ") + QuoteIdent(k);
    key_json +=
        fmt::format("{}{}: {}", key_json.empty() ? "" : ", ", QuoteString(k), QuoteIdent(k));
  }
  const std::string key_expr = table_key.size() == 1 ? keys : "{" + key_json + "}";
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
          keys, input_order, key_expr, out_scan_.Sql())));
  constexpr int64_t kRowMask = (int64_t{1} << 40) - 1;
  std::vector<RejectedRow> repeats;
  for (idx_t i = 0; i < r.row_count(); ++i) {
    const int64_t first = origin_[static_cast<size_t>(r.Int(1, i))];
    // Its input row's other items are withheld (WithholdItemsOfFailedRows).
    if (!item_.empty()) failed_item_origins_.push_back(origin_[static_cast<size_t>(r.Int(0, i))]);
    repeats.push_back(RejectedRow{
        r.Int(0, i),
        fmt::format("key {} repeats an earlier row of the same shard (input row {}): upsert "
                    "writes the first row of a key in a shard, the later ones are dead letters",
                    r.Text(2, i), first & kRowMask)});
  }
  repeats_found_ = true;
  SetAside(std::move(repeats));
  return Status::Ok();
}

void ShardRows::WithholdItemsOfFailedRows() {
  if (withheld_found_) return;
  withheld_found_ = true;
  std::vector<int64_t>& failed = failed_item_origins_;
  std::sort(failed.begin(), failed.end());
  std::vector<RejectedRow> withheld;
  for (size_t i = 0; i < origin_.size() && !failed.empty(); ++i) {
    if (!std::binary_search(failed.begin(), failed.end(), origin_[i])) continue;
    withheld.push_back(RejectedRow{
        static_cast<int64_t>(i),
        fmt::format("item {} withheld: another item made of the same input row failed, and an "
                    "input row's items are written, dead-lettered and retried together",
                    i < item_.size() ? item_[i] : 0)});
  }
  SetAside(std::move(withheld));
}

void ShardRows::SetAside(std::vector<RejectedRow> more) {
  if (more.empty()) return;
  std::vector<RejectedRow> all;
  all.reserve(repeats_.size() + more.size());
  std::merge(std::make_move_iterator(repeats_.begin()), std::make_move_iterator(repeats_.end()),
             std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()),
             std::back_inserter(all),
             [](const RejectedRow& a, const RejectedRow& b) { return a.index < b.index; });
  // A row set aside for two reasons keeps the first.
  all.erase(
      std::unique(all.begin(), all.end(),
                  [](const RejectedRow& a, const RejectedRow& b) { return a.index == b.index; }),
      all.end());
  repeats_ = std::move(all);
  kept_.clear();
  size_t next = 0;
  for (int64_t i = 0; i < out_.rows(); ++i) {
    if (next < repeats_.size() && repeats_[next].index == i) {
      ++next;
    } else {
      kept_.push_back(i);
    }
  }
}

}  // namespace nightshift::io
