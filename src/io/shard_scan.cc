#include "io/shard_scan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "io/sql_types.h"

namespace nightshift::io {

ShardScanner::ShardScanner(DuckConnection* conn, const std::atomic<bool>* interrupted,
                           const ReadLayout& layout,
                           const std::function<std::unique_ptr<RowBatch>()>& next_batch,
                           const std::function<bool(std::unique_ptr<RowBatch>)>& emit)
    : conn_(conn),
      interrupted_(interrupted),
      layout_(layout),
      next_batch_(next_batch),
      emit_(emit) {
  // The select list's columns: each input's, consecutive, then the carried.
  // A filled input has two: its raw column and the folder beside it.
  std::vector<idx_t> first_column;
  idx_t col = 0;
  for (const auto& in : layout.inputs) {
    first_column.push_back(col);
    col += in.filler ? 2 : in.columns.size();
  }
  for (size_t i = 0; i < layout.carried.size(); ++i) carried_columns_.push_back(col++);
  if (!CastErrorSql(layout).empty()) cast_error_column_ = static_cast<int64_t>(col);
  if (layout.expander) expand_column_ = first_column[layout.expand_input];
  for (size_t i = 0; i < layout.inputs.size(); ++i) {
    if (layout.inputs[i].filler) continue;
    for (size_t c = 0; c < layout.inputs[i].columns.size(); ++c) {
      if (layout.inputs[i].columns[c] == layout.sort_by_length) sort_column_ = first_column[i] + c;
    }
  }
  packer_ = std::make_unique<ColumnPacker>(layout.inputs, std::move(first_column));
}

namespace {

// Whether carried column `i` also feeds a model input (whose own packing
// reports a value that does not convert).
bool IsFeature(const ReadLayout& layout, size_t i) {
  return std::any_of(layout.inputs.begin(), layout.inputs.end(), [&](const InputPacking& in) {
    return std::find(in.columns.begin(), in.columns.end(), layout.carried[i]) != in.columns.end();
  });
}

// Whether carried column `i` is read with TRY_CAST: a feature (its value is
// checked when packed), or any column of a source that reads them as text.
bool TryCast(const ReadLayout& layout, size_t i) {
  return layout.carried_as_text || IsFeature(layout, i);
}

}  // namespace

std::string ShardScanner::CastErrorSql(const ReadLayout& layout) {
  if (!layout.carried_as_text) return "";
  std::vector<std::string> checks;
  for (size_t i = 0; i < layout.carried.size() && i < layout.carried_types.size(); ++i) {
    if (IsFeature(layout, i)) continue;
    const std::string c = QuoteIdent(layout.carried[i]);
    const std::string& t = layout.carried_types[i];
    checks.push_back(
        fmt::format("CASE WHEN {0} IS NOT NULL AND TRY_CAST({0} AS {1}) IS NULL THEN {2} || "
                    "left(CAST({0} AS VARCHAR), 80) || {3} END",
                    c, t, QuoteString(fmt::format("column '{}': '", layout.carried[i])),
                    QuoteString(fmt::format("' does not convert to {}", t))));
  }
  if (checks.empty()) return "";
  return fmt::format("concat_ws('; ', {})", fmt::join(checks, ", "));
}

std::string ShardScanner::SelectList(const ReadLayout& layout, const std::string& base_dir,
                                     const std::unordered_set<std::string>& float_columns) {
  std::string s;
  for (const auto& in : layout.inputs) {
    if (in.filler) {
      const std::string raw = in.filler->select_sql();
      s += (s.empty() ? "" : ", ") + (raw.empty() ? QuoteIdent(in.filler->column()) : raw) + ", " +
           QuoteString(base_dir);
      continue;
    }
    for (size_t c = 0; c < in.columns.size(); ++c) {
      if (!s.empty()) s += ", ";
      // A float32 feature is read as DOUBLE so that a value FLOAT cannot hold
      // is a dead letter rather than inf; a FLOAT column holds none.
      const bool as_float = in.dtype == DType::kFloat32 && !in.column_is_list[c] &&
                            float_columns.contains(in.columns[c]);
      const std::string t = as_float ? "FLOAT" : ReadType(in.dtype, in.column_is_list[c]);
      s += "TRY_CAST(" + QuoteIdent(in.columns[c]) + " AS " + t + ")";
    }
  }
  for (size_t i = 0; i < layout.carried.size(); ++i) {
    if (!s.empty()) s += ", ";
    const std::string c = QuoteIdent(layout.carried[i]);
    if (i >= layout.carried_types.size()) {
      s += c;
      continue;
    }
    // Every file's column as the common type, so that the sink's output
    // chunks (built with that type) take each file's values. A column that
    // is also a model input may be read as text (CSV) and hold values that
    // do not convert: those rows are dead letters, so TRY_CAST (as for every
    // column of a source read as text; CastErrorSql says which failed).
    s += fmt::format("{}({} AS {})", TryCast(layout, i) ? "TRY_CAST" : "CAST", c,
                     layout.carried_types[i]);
  }
  const std::string errors = CastErrorSql(layout);
  if (!errors.empty()) s += ", " + errors;
  return s;
}

Status ShardScanner::Scan(const std::string& sql, const InputFile& file, const std::string& where,
                          std::span<const ShardTask> shards, int64_t first_row, bool check_end,
                          std::string fallback) {
  Stream stream;
  stream.fallback = std::move(fallback);
  stream.where = where;
  NS_RETURN_IF_ERROR(Open(sql, &stream));
  shards_ = shards;
  si_ = 0;
  row_ = first_row;
  batch_.reset();
  staged_.clear();
  bool at_end = false;  // every shard is done: any further row is an error
  for (;;) {
    NS_ASSIGN_OR_RETURN(std::shared_ptr<DuckChunk> chunk, NextChunk(&stream, first_row));
    if (stopped_) return Status::Ok();
    if (!chunk) break;
    const int64_t n = static_cast<int64_t>(chunk->size());
    int64_t off = std::min(n, stream.discard);
    stream.discard -= off;
    if (at_end && off < n) return MoreRows(file, row_);
    if (!TakeRows(chunk, n, &off)) {
      stopped_ = true;
      return Status::Ok();
    }
    if (si_ == shards_.size()) {
      if (!check_end) return Status::Ok();  // later rows belong to no pending shard
      if (off < n) return MoreRows(file, row_);
      at_end = true;
    }
  }
  return si_ < shards_.size() ? EndedEarly(file) : Status::Ok();
}

// Opens the stream's query; when it fails at once, its fallback from the start.
Status ShardScanner::Open(const std::string& sql, Stream* stream) {
  auto opened = conn_->Stream(sql, stream->where);
  if (opened.has_value()) {
    stream->result.emplace(std::move(*opened));
    return Status::Ok();
  }
  if (stream->fallback.empty() || interrupted_->load()) return opened.error();
  NS_ASSIGN_OR_RETURN(DuckResult again, conn_->Stream(stream->fallback, stream->where));
  stream->result.emplace(std::move(again));
  stream->fallback.clear();
  return Status::Ok();
}

// The next chunk, or null at the end of the stream (and on an interrupt,
// which sets stopped_). A stream failing mid-way goes on with its fallback,
// which first yields the rows already read (counted in `discard`).
Result<std::shared_ptr<DuckChunk>> ShardScanner::NextChunk(Stream* stream, int64_t first_row) {
  for (;;) {
    if (interrupted_->load()) {
      stopped_ = true;
      return nullptr;
    }
    auto next = stream->result->Next();
    if (next.has_value()) {
      return *next ? std::make_shared<DuckChunk>(std::move(*next)) : nullptr;
    }
    if (interrupted_->load()) {
      stopped_ = true;
      return nullptr;
    }
    if (stream->fallback.empty()) {
      return Error(next.error().WithContext(fmt::format("reading {}", stream->where)));
    }
    stream->result.reset();
    NS_ASSIGN_OR_RETURN(DuckResult again, conn_->Stream(stream->fallback, stream->where));
    stream->result.emplace(std::move(again));
    stream->fallback.clear();
    stream->discard = row_ - first_row;
  }
}

// Cuts rows [*off, n) of `chunk` into the shards' batches, advancing *off
// and row_; false when the consumer stopped taking batches.
bool ShardScanner::TakeRows(const std::shared_ptr<DuckChunk>& chunk, int64_t n, int64_t* off) {
  while (*off < n && si_ < shards_.size()) {
    const ShardTask& s = shards_[si_];
    if (row_ < s.row_begin) {  // skip rows before this shard
      int64_t skip = std::min(n - *off, s.row_begin - row_);
      *off += skip;
      row_ += skip;
      continue;
    }
    int64_t take = std::min(n - *off, s.row_end - row_);
    if (!s.rows.empty()) {
      int64_t skip = UnselectedRun(s, take);
      if (skip > 0) {
        *off += skip;
        row_ += skip;
        // No selected row left before the shard's end: close it.
        if (row_ == s.row_end && !CloseShard(s)) return false;
        continue;
      }
      take = SelectedRun(s, take);
    }
    take = layout_.expander ? AddExpanded(s, chunk, *off, take) : Add(s, chunk, *off, take);
    if (stopped_) return false;
    *off += take;
    row_ += take;
    if (row_ == s.row_end) {
      if (!CloseShard(s)) return false;
    } else if (batch_ && batch_->num_rows == layout_.batch_rows && !Flush(false)) {
      return false;
    }
  }
  return true;
}

// How many rows from row_ (at most `take`) a shard with a row list skips.
int64_t ShardScanner::UnselectedRun(const ShardTask& s, int64_t take) const {
  auto it = std::lower_bound(s.rows.begin(), s.rows.end(), row_);
  if (it != s.rows.end() && *it == row_) return 0;
  return it == s.rows.end() ? take : std::min(take, *it - row_);
}

// How many consecutive selected rows (at most `take`) start at row_.
int64_t ShardScanner::SelectedRun(const ShardTask& s, int64_t take) const {
  auto it = std::lower_bound(s.rows.begin(), s.rows.end(), row_);
  int64_t run = 1;
  while (run < take && it + run != s.rows.end() && *(it + run) == row_ + run) ++run;
  return run;
}

// Adds up to `take` rows from chunk row `off` to the open batch (or stages
// them when bucketing); returns how many it took (a batch takes no more than
// it has room for).
int64_t ShardScanner::Add(const ShardTask& s, const std::shared_ptr<DuckChunk>& chunk, int64_t off,
                          int64_t take) {
  if (!layout_.sort_by_length.empty()) {
    for (int64_t k = 0; k < take; ++k) {
      auto r = static_cast<idx_t>(off + k);
      staged_.push_back(
          {chunk, r, row_ + k, ColumnPacker::ListLength(chunk->get(), sort_column_, r)});
    }
    return take;
  }
  if (!batch_) StartBatch(s, row_);
  take = std::min(take, layout_.batch_rows - batch_->num_rows);
  carried_->Add(chunk, static_cast<idx_t>(off), static_cast<idx_t>(take));
  if (!s.rows.empty()) {
    for (int64_t k = 0; k < take; ++k) batch_->row_numbers.push_back(row_ + k);
  }
  batch_->num_rows += take;
  return take;
}

// Adds `take` input rows from chunk row `off`, each as the rows the layout's
// expander counts for it (one row with its reason when it cannot be
// expanded; none for a count of 0: a page without boxes), emitting full
// batches on the way: an input row of many pages spans batches, so no more than one batch of its
// rows is ever held. Returns `take`, or sets stopped_ when the consumer stopped taking batches.
int64_t ShardScanner::AddExpanded(const ShardTask& s, const std::shared_ptr<DuckChunk>& chunk,
                                  int64_t off, int64_t take) {
  for (int64_t k = 0; k < take; ++k) {
    const auto r = static_cast<idx_t>(off + k);
    const Result<int64_t> count = CountItems(chunk, r);
    const int64_t n = count.has_value() ? *count : 1;
    const int64_t first = layout_.expander->first_item();
    for (int64_t item = first; item < first + n; ++item) {
      if (batch_ && batch_->num_rows == layout_.batch_rows && !Flush(false)) {
        stopped_ = true;
        return k;
      }
      if (!batch_) StartBatch(s, row_ + k);
      carried_->AddRow(chunk, r);
      batch_->row_numbers.push_back(row_ + k);
      batch_->items.push_back(count.has_value() ? item : 0);
      if (!count.has_value()) batch_->SetRowError(batch_->num_rows, count.error().message());
      batch_->num_rows++;
    }
  }
  return take;
}

// The expander's count for chunk row `r`, from the raw column and the folder
// beside it (ShardScanner::SelectList).
Result<int64_t> ShardScanner::CountItems(const std::shared_ptr<DuckChunk>& chunk, idx_t r) const {
  duckdb_vector vec = chunk->column(expand_column_);
  uint64_t* validity = duckdb_vector_get_validity(vec);
  if (validity != nullptr && !duckdb_validity_row_is_valid(validity, r)) {
    return Error(Status(Code::kInvalidData, "null value in the column the rows are made from"));
  }
  auto* values = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vec));
  auto* dir =
      static_cast<duckdb_string_t*>(duckdb_vector_get_data(chunk->column(expand_column_ + 1)));
  return layout_.expander->Count(
      std::string_view(duckdb_string_t_data(&values[r]), duckdb_string_t_length(values[r])),
      std::string_view(duckdb_string_t_data(dir), duckdb_string_t_length(*dir)));
}

// The shard's rows are all read: its last batch goes out (marked last when
// the shard ends here; a packed shard goes on in the next file), and the
// scan moves to the next shard. The one place batch numbers restart.
bool ShardScanner::CloseShard(const ShardTask& s) {
  bool ok = true;
  if (!layout_.sort_by_length.empty()) {
    ok = FlushBucketed(s);
    staged_.clear();
  } else if (s.shard_ends) {
    // With the open batch, or with an empty last batch when the previous one
    // was already emitted full.
    if (!batch_) StartBatch(s, row_);
    ok = Flush(true);
  } else if (batch_) {
    ok = Flush(false);
  }
  ++si_;
  if (s.shard_ends) seq_ = 0;
  return ok;
}

bool ShardScanner::EmitEmptyShard(const ShardTask& s) {
  StartBatch(s, 0);
  seq_ = 0;
  if (!Flush(true)) stopped_ = true;
  return !stopped_;
}

void ShardScanner::StartBatch(const ShardTask& s, int64_t first) {
  batch_ = next_batch_();
  batch_->shard_id = s.shard_id;
  batch_->shard_index = s.shard_index;
  batch_->seq = seq_++;
  batch_->last_in_shard = false;
  batch_->first_row = first;
  batch_->file_index = s.file_index;
  batch_->num_rows = 0;
  batch_->row_errors.clear();
  batch_->row_attempts.clear();
  batch_->row_numbers.clear();
  batch_->items.clear();
  batch_->outputs.clear();
  carried_ = std::make_unique<DuckCarriedRows>(carried_columns_);
}

// The rows whose carried values did not convert (CastErrorSql's column)
// become dead letters with the reason.
void ShardScanner::MarkCastErrors() {
  if (cast_error_column_ < 0) return;
  int64_t n = 0;
  for (const auto& slice : carried_->slices()) {
    duckdb_vector vec = slice.chunk->column(static_cast<idx_t>(cast_error_column_));
    auto* values = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vec));
    uint64_t* validity = duckdb_vector_get_validity(vec);
    for (idx_t i = 0; i < slice.count; ++i, ++n) {
      if (validity != nullptr && !duckdb_validity_row_is_valid(validity, slice.row(i))) continue;
      duckdb_string_t& v = values[slice.row(i)];
      const uint32_t length = duckdb_string_t_length(v);
      if (length > 0 && !batch_->RowFailed(n))
        batch_->SetRowError(n, std::string(duckdb_string_t_data(&v), length));
    }
  }
}

bool ShardScanner::Flush(bool last) {
  batch_->last_in_shard = last;
  MarkCastErrors();
  packer_->Pack(carried_->slices(), batch_.get());
  batch_->carried = std::move(carried_);
  return emit_(std::move(batch_));
}

// Cuts a shard's staged rows, shortest first, into batches of at most
// batch_rows rows and, with max_tokens, at most max_tokens padded tokens.
// With max_tokens, a batch also ends where the next row is more than
// kMaxSpread times longer than its base row (its first, shortest one), once
// it holds an eighth of the token budget: filling a large budget with a wide
// range of lengths would pad most rows far beyond their length. A row taken
// past the spread while the batch is still small becomes the new base (the
// rows before it are padded to it anyway).
bool ShardScanner::FlushBucketed(const ShardTask& s) {
  constexpr double kMaxSpread = 1.25;
  std::vector<Staged>& staged = staged_;
  std::stable_sort(staged.begin(), staged.end(),
                   [](const Staged& a, const Staged& b) { return a.length < b.length; });
  size_t i = 0;
  while (i < staged.size()) {
    StartBatch(s, staged[i].file_row);
    int64_t longest = 0;
    double base = static_cast<double>(std::max<int64_t>(1, staged[i].length));
    while (i < staged.size() && batch_->num_rows < layout_.batch_rows) {
      int64_t l = std::max<int64_t>(1, std::max(longest, staged[i].length));
      if (layout_.max_tokens > 0 && batch_->num_rows > 0 &&
          (batch_->num_rows + 1) * l > layout_.max_tokens)
        break;
      if (layout_.max_tokens > 0 && static_cast<double>(l) > kMaxSpread * base) {
        if (8 * batch_->num_rows * longest >= layout_.max_tokens) break;
        base = static_cast<double>(l);
      }
      longest = l;
      carried_->AddRow(staged[i].chunk, staged[i].row);
      batch_->row_numbers.push_back(staged[i].file_row);
      batch_->num_rows++;
      ++i;
    }
    if (!Flush(i == staged.size() && s.shard_ends)) return false;
  }
  return true;
}

Status ShardScanner::EndedEarly(const InputFile& file) const {
  return Status(Code::kIoError,
                fmt::format("{} ended at row {} but shard {} expects rows up to {}: the input "
                            "changed since the run was planned",
                            file.path.empty() ? std::string("the query") : file.path, row_,
                            shards_[si_].shard_id, shards_[si_].row_end));
}

Status ShardScanner::MoreRows(const InputFile& file, int64_t planned) {
  return Status(Code::kIoError,
                fmt::format("{} has more rows than the {} counted when the run was planned: "
                            "the input changed since",
                            file.path.empty() ? std::string("the query") : file.path, planned));
}

}  // namespace nightshift::io
