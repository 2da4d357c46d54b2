// The DuckDB-backed Source: Parquet, CSV and JSONL files (one file, a glob or
// a folder) or a DuckDB SQL query, read chunk at a time through the C API.
//
// Cost of reading a shard: Parquet shards are read with a file_row_number
// range filter, which DuckDB answers from row-group statistics, so shard k
// costs its own rows only. CSV, JSONL and queries cannot seek: one streaming
// scan per file serves all of that file's pending shards in order, so a full
// run reads each row once, and a resumed run re-reads (and discards) the rows
// before the first pending shard of each file. Their rows are counted for the
// plan by TextRowCounter (a byte scan) where it can vouch for the count, by
// DuckDB otherwise.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <optional>

#include "io/column_packer.h"
#include "io/duck.h"
#include "io/duckdb_carried.h"
#include "io/input_listing.h"
#include "io/multi_file.h"
#include "io/query_files.h"
#include "io/text_row_counter.h"
#include "nightshift/source.h"

namespace nightshift::io {
namespace {

std::string SqlTypeFor(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "FLOAT";
    case DType::kFloat64: return "DOUBLE";
    case DType::kInt64: return "BIGINT";
    case DType::kInt32: return "INTEGER";
    case DType::kInt8: return "TINYINT";
    case DType::kUInt8: return "UTINYINT";
    case DType::kBool: return "BOOLEAN";
    default: return "";
  }
}

// The SQL type a feature column is read as. Scalars of a narrow dtype are
// read wide (float32 as DOUBLE, int32/int8/uint8 as BIGINT) and narrowed by
// ColumnPacker, which can then name a value out of the dtype's range (a dead
// letter) and tell it from an explicit inf; a cast to the narrow type would
// give NULL (Parquet DOUBLE, any integer) or inf (CSV text) for the same value.
std::string ReadType(DType dtype, bool is_list) {
  if (is_list) return SqlTypeFor(dtype) + "[]";
  switch (dtype) {
    case DType::kFloat32: return "DOUBLE";
    case DType::kInt32:
    case DType::kInt8:
    case DType::kUInt8: return "BIGINT";
    default: return SqlTypeFor(dtype);
  }
}

bool IsNumericType(const std::string& t) {
  static const char* kNumeric[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",  "HUGEINT",
                                   "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
                                   "FLOAT",    "DOUBLE",    "BOOLEAN"};
  for (const char* n : kNumeric) {
    if (t == n) return true;
  }
  return t.rfind("DECIMAL", 0) == 0;
}

}  // namespace

class DuckSource final : public Source {
 public:
  DuckSource(InputSpec spec, std::vector<InputFile> files, std::vector<InputFile> read_files,
             std::shared_ptr<DuckDatabase> db, std::unique_ptr<DuckConnection> conn)
      : spec_(std::move(spec)),
        files_(std::move(files)),
        read_files_(std::move(read_files)),
        db_(std::move(db)),
        conn_(std::move(conn)) {}

  const std::vector<InputFile>& files() const override { return files_; }
  const std::vector<InputFile>& read_files() const override {
    return spec_.query.empty() ? files_ : read_files_;
  }

  bool seekable() const override {
    return spec_.query.empty() && !files_.empty() && files_[0].format == InputFormat::kParquet;
  }

  Result<std::vector<InputColumn>> Describe(int32_t file_index) override {
    NS_ASSIGN_OR_RETURN(
        DuckResult r,
        conn_->Query("DESCRIBE SELECT * FROM " + Relation(file_index, false), Where(file_index)));
    std::vector<InputColumn> cols;
    for (idx_t row = 0; row < r.row_count(); ++row) {
      InputColumn c;
      c.name = r.Text(0, row);
      c.sql_type = r.Text(1, row);
      c.numeric = IsNumericType(c.sql_type);
      auto bracket = c.sql_type.rfind('[');
      if (bracket != std::string::npos && c.sql_type.back() == ']') {
        c.numeric_list = IsNumericType(c.sql_type.substr(0, bracket));
      }
      cols.push_back(std::move(c));
    }
    // When DuckDB cannot work out a CSV's dialect (ragged rows, an unclosed
    // quote) it reads each line as one text column named after the header.
    if (spec_.query.empty() && files_[file_index].format == InputFormat::kCsv && cols.size() == 1 &&
        cols[0].sql_type == "VARCHAR" && cols[0].name.find(',') != std::string::npos) {
      return Error(
          Code::kInvalidData,
          fmt::format("cannot parse CSV file '{}': its rows do not split into the header's columns "
                      "(ragged rows or an unterminated quote?)",
                      files_[file_index].path));
    }
    return cols;
  }

  Result<double> ParsableFraction(int32_t file_index, const std::string& column,
                                  DType dtype) override {
    std::string col = QuoteIdent(column);
    NS_ASSIGN_OR_RETURN(
        DuckResult r, conn_->Query(fmt::format("SELECT count({0}), count(TRY_CAST({0} AS {1})) "
                                               "FROM (SELECT {0} FROM {2} LIMIT 1000)",
                                               col, SqlTypeFor(dtype), Relation(file_index, false)),
                                   Where(file_index)));
    int64_t present = r.Int(0, 0);
    // No value at all (a CSV with only its header, a column empty so far):
    // nothing says it is not numeric, and any bad value later is a dead letter.
    return present == 0 ? 1.0 : static_cast<double>(r.Int(1, 0)) / static_cast<double>(present);
  }

  Result<int64_t> CountRows(int32_t file_index) override {
    std::string sql;
    if (spec_.query.empty() && files_[file_index].format != InputFormat::kParquet) {
      NS_ASSIGN_OR_RETURN(std::optional<TextDialect> dialect, PlainTextDialect(file_index));
      if (dialect.has_value()) {
        NS_ASSIGN_OR_RETURN(std::optional<int64_t> rows,
                            CountTextRows(files_[file_index].path, *dialect));
        if (rows.has_value()) return *rows;
      }
    }
    if (spec_.query.empty() && files_[file_index].format == InputFormat::kParquet) {
      sql = "SELECT num_rows FROM parquet_file_metadata(" + QuoteString(files_[file_index].path) +
            ")";
    } else {
      sql = "SELECT count(*) FROM " + Relation(file_index, false);
    }
    NS_ASSIGN_OR_RETURN(DuckResult r, conn_->Query(sql, Where(file_index)));
    return r.Int(0, 0);
  }

  Result<std::vector<int64_t>> RowGroups(int32_t file_index) override {
    if (!spec_.query.empty() || files_[file_index].format != InputFormat::kParquet) {
      NS_ASSIGN_OR_RETURN(int64_t rows, CountRows(file_index));
      return std::vector<int64_t>{rows};
    }
    NS_ASSIGN_OR_RETURN(
        DuckResult r,
        conn_->Query("SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(" +
                         QuoteString(files_[file_index].path) + ") ORDER BY row_group_id",
                     Where(file_index)));
    std::vector<int64_t> groups;
    for (idx_t i = 0; i < r.row_count(); ++i) groups.push_back(r.Int(1, i));
    return groups;
  }

  Result<std::vector<std::string>> CarriedTypes(const ReadLayout& layout) override {
    if (layout.carried.empty()) return std::vector<std::string>{};
    std::string sql = "DESCRIBE SELECT ";
    for (size_t i = 0; i < layout.carried.size(); ++i) {
      sql += (i ? ", " : "") + QuoteIdent(layout.carried[i]);
    }
    // One query over every file: DuckDB reads each file's schema and gives
    // each column the supertype of its types in all of them.
    const bool all_files = spec_.query.empty() && files_.size() > 1;
    sql += " FROM " + (all_files ? AllFilesRelation(files_) : Relation(0, false));
    NS_ASSIGN_OR_RETURN(DuckResult r,
                        conn_->Query(sql, all_files ? std::string("the input files") : Where(0)));
    std::vector<std::string> types;
    for (idx_t row = 0; row < r.row_count(); ++row) types.push_back(r.Text(1, row));
    return types;
  }

  Result<std::string> CommonType(const std::string& a, const std::string& b) override {
    return CommonSqlType(conn_.get(), a, b);
  }

  Status Read(const ReadLayout& layout, std::span<const ShardTask> shards,
              const std::function<std::unique_ptr<RowBatch>()>& next_batch,
              const std::function<bool(std::unique_ptr<RowBatch>)>& emit) override {
    interrupted_.store(false);
    std::string select = SelectList(layout);
    std::vector<idx_t> first_column;
    idx_t col = 0;
    for (const auto& in : layout.inputs) {
      first_column.push_back(col);
      col += in.columns.size();
    }
    std::vector<idx_t> carried_columns;
    for (size_t i = 0; i < layout.carried.size(); ++i) carried_columns.push_back(col++);
    ColumnPacker packer(layout.inputs, first_column);
    idx_t sort_column = 0;
    for (size_t i = 0; i < layout.inputs.size(); ++i) {
      for (size_t c = 0; c < layout.inputs[i].columns.size(); ++c) {
        if (layout.inputs[i].columns[c] == layout.sort_by_length) sort_column = first_column[i] + c;
      }
    }
    Reader reader{this, &layout, &packer, carried_columns, sort_column, next_batch, emit};
    const std::vector<ShardTask> pieces = FilePieces(shards);
    shards = pieces;

    size_t i = 0;
    while (i < shards.size()) {
      size_t j = i;
      while (j < shards.size() && shards[j].file_index == shards[i].file_index) ++j;
      std::span<const ShardTask> group = shards.subspan(i, j - i);
      if (seekable()) {
        for (const ShardTask& s : group) {
          std::string sql =
              fmt::format("SELECT {} FROM {} WHERE file_row_number >= {} AND file_row_number < {}",
                          select, Relation(s.file_index, true), s.row_begin, s.row_end);
          NS_RETURN_IF_ERROR(reader.Scan(sql, std::span<const ShardTask>(&s, 1), s.row_begin));
          if (reader.stopped) return Status::Ok();
        }
      } else {
        // A CSV's float feature columns are first read as typed columns
        // (DuckDB parses them in place); a value that does not parse stops
        // that scan, and the file is read again as text with TRY_CAST from the
        // row where it stopped (see Relation()).
        const int32_t f = group[0].file_index;
        std::string text = fmt::format("SELECT {} FROM {}", select,
                                       Relation(f, false, &layout, TextColumns::kAllText));
        std::string typed = fmt::format("SELECT {} FROM {}", select,
                                        Relation(f, false, &layout, TextColumns::kFloatsTyped));
        NS_RETURN_IF_ERROR(typed == text ? reader.Scan(text, group, 0)
                                         : reader.Scan(typed, group, 0, text));
        if (reader.stopped) return Status::Ok();
      }
      i = j;
    }
    return Status::Ok();
  }

  void Interrupt() override {
    interrupted_.store(true);
    conn_->Interrupt();
  }

 private:
  // Streams one query whose first row is file row `first_row` and cuts its
  // rows into batches of `shards` (rows outside every shard, or not selected
  // by a shard's row list, are skipped). Inputs are packed when a batch is
  // complete, from the chunks it references. With bucketing, a shard's rows
  // are staged, sorted by list length and cut by rows and padded tokens.
  struct Reader {
    DuckSource* source;
    const ReadLayout* layout;
    const ColumnPacker* packer;
    std::vector<idx_t> carried_columns;
    idx_t sort_column = 0;  // select-list index of batch.sort_by_length's column
    const std::function<std::unique_ptr<RowBatch>()>& next_batch;
    const std::function<bool(std::unique_ptr<RowBatch>)>& emit;
    bool stopped = false;

    // A staged row for bucketing.
    struct Staged {
      std::shared_ptr<DuckChunk> chunk;
      idx_t row;
      int64_t file_row;
      int64_t length;
    };

    std::unique_ptr<RowBatch> batch = nullptr;
    std::unique_ptr<DuckCarriedRows> carried = nullptr;
    int64_t seq = 0;

    void StartBatch(const ShardTask& s, int64_t first) {
      batch = next_batch();
      batch->shard_id = s.shard_id;
      batch->shard_index = s.shard_index;
      batch->seq = seq++;
      batch->last_in_shard = false;
      batch->first_row = first;
      batch->file_index = s.file_index;
      batch->num_rows = 0;
      batch->row_errors.clear();
      batch->row_attempts.clear();
      batch->row_numbers.clear();
      batch->outputs.clear();
      carried = std::make_unique<DuckCarriedRows>(carried_columns);
    }

    bool Flush(bool last) {
      batch->last_in_shard = last;
      packer->Pack(carried->slices(), batch.get());
      batch->carried = std::move(carried);
      return emit(std::move(batch));
    }

    // Cuts a shard's staged rows, shortest first, into batches of at most
    // batch_rows rows and, with max_tokens, at most max_tokens padded tokens.
    // With max_tokens, a batch also ends where the next row is more than
    // kMaxSpread times longer than its base row (its first, shortest one),
    // once it holds an eighth of the token budget: filling a large budget with
    // a wide range of lengths would pad most rows far beyond their length.
    // A row taken past the spread while the batch is still small becomes the
    // new base (the rows before it are padded to it anyway).
    bool FlushBucketed(const ShardTask& s, std::vector<Staged>& staged) {
      constexpr double kMaxSpread = 1.25;
      std::stable_sort(staged.begin(), staged.end(),
                       [](const Staged& a, const Staged& b) { return a.length < b.length; });
      size_t i = 0;
      while (i < staged.size()) {
        StartBatch(s, staged[i].file_row);
        int64_t longest = 0;
        double base = static_cast<double>(std::max<int64_t>(1, staged[i].length));
        while (i < staged.size() && batch->num_rows < layout->batch_rows) {
          int64_t l = std::max<int64_t>(1, std::max(longest, staged[i].length));
          if (layout->max_tokens > 0 && batch->num_rows > 0 &&
              (batch->num_rows + 1) * l > layout->max_tokens)
            break;
          if (layout->max_tokens > 0 && static_cast<double>(l) > kMaxSpread * base) {
            if (8 * batch->num_rows * longest >= layout->max_tokens) break;
            base = static_cast<double>(l);
          }
          longest = l;
          carried->AddRow(staged[i].chunk, staged[i].row);
          batch->row_numbers.push_back(staged[i].file_row);
          batch->num_rows++;
          ++i;
        }
        if (!Flush(i == staged.size() && s.shard_ends)) return false;
      }
      return true;
    }

    // With `fallback`: when `sql` fails (before or while streaming), the scan
    // goes on with `fallback`, an equivalent query with the same column
    // types, skipping the rows already read.
    Status Scan(const std::string& sql, std::span<const ShardTask> shards, int64_t first_row,
                std::string fallback = {}) {
      const InputFile& file = source->files_[shards[0].file_index];
      std::string where = source->Where(shards[0].file_index);
      std::optional<DuckResult> result;
      {
        auto opened = source->conn_->Stream(sql, where);
        if (opened.has_value()) {
          result.emplace(std::move(*opened));
        } else if (fallback.empty() || source->interrupted_.load()) {
          return opened.error();
        }
      }
      if (!result.has_value()) {  // the first query failed at once: its fallback from the start
        NS_ASSIGN_OR_RETURN(DuckResult again, source->conn_->Stream(fallback, where));
        result.emplace(std::move(again));
        fallback.clear();
      }
      // After the last shard of a file, a streaming read checks that the file
      // ends there: rows beyond it would otherwise be silently left out.
      const bool check_end = !source->seekable() && shards.back().file_end;
      bool at_end = false;  // every shard is done: any further row is an error
      int64_t discard = 0;  // rows of a fallback stream already read from the first
      const bool bucketing = !layout->sort_by_length.empty();
      int64_t row = first_row;  // file row number of the next row the query yields
      size_t si = 0;            // current shard
      // seq is not reset here: it is 0 unless a packed shard goes on from
      // the previous file (it is reset whenever a shard ends).
      batch.reset();
      std::vector<Staged> staged;
      for (;;) {
        if (source->interrupted_.load()) {
          stopped = true;
          return Status::Ok();
        }
        auto next = result->Next();
        if (!next.has_value()) {
          if (source->interrupted_.load()) {
            stopped = true;
            return Status::Ok();
          }
          if (!fallback.empty()) {
            result.reset();
            NS_ASSIGN_OR_RETURN(DuckResult again, source->conn_->Stream(fallback, where));
            result.emplace(std::move(again));
            fallback.clear();
            discard = row - first_row;
            continue;
          }
          return next.error().WithContext(fmt::format("reading {}", where));
        }
        if (!*next) break;
        auto chunk = std::make_shared<DuckChunk>(std::move(*next));
        const int64_t n = static_cast<int64_t>(chunk->size());
        int64_t off = std::min(n, discard);
        discard -= off;
        if (at_end && off < n) return MoreRows(file, row);
        while (off < n && si < shards.size()) {
          const ShardTask& s = shards[si];
          if (row < s.row_begin) {  // skip rows before this shard
            int64_t skip = std::min(n - off, s.row_begin - row);
            off += skip;
            row += skip;
            continue;
          }
          int64_t take = std::min(n - off, s.row_end - row);
          if (!s.rows.empty()) {
            // Only selected rows: skip to the next selected one, or take the
            // run of consecutive selected rows starting here.
            auto it = std::lower_bound(s.rows.begin(), s.rows.end(), row);
            if (it == s.rows.end() || *it > row) {
              int64_t skip = it == s.rows.end() ? take : std::min(take, *it - row);
              off += skip;
              row += skip;
              if (row == s.row_end) {  // no selected row left before the shard's end
                bool ok = true;
                if (bucketing) {
                  ok = FlushBucketed(s, staged);
                  staged.clear();
                } else if (s.shard_ends) {
                  // Close the shard: with the open batch, or with an empty last
                  // batch when the previous one was already emitted full.
                  if (!batch) StartBatch(s, row);
                  ok = Flush(true);
                } else if (batch) {  // a packed shard goes on in the next file
                  ok = Flush(false);
                }
                if (!ok) {
                  stopped = true;
                  return Status::Ok();
                }
                ++si;
                if (s.shard_ends) seq = 0;
              }
              continue;
            }
            int64_t run = 1;
            while (run < take && it + run != s.rows.end() && *(it + run) == row + run) ++run;
            take = run;
          }
          if (bucketing) {
            for (int64_t k = 0; k < take; ++k) {
              auto r = static_cast<idx_t>(off + k);
              staged.push_back(
                  {chunk, r, row + k, ColumnPacker::ListLength(chunk->get(), sort_column, r)});
            }
          } else {
            if (!batch) StartBatch(s, row);  // seq is reset whenever a shard ends
            take = std::min(take, layout->batch_rows - batch->num_rows);
            carried->Add(chunk, static_cast<idx_t>(off), static_cast<idx_t>(take));
            if (!s.rows.empty()) {
              for (int64_t k = 0; k < take; ++k) batch->row_numbers.push_back(row + k);
            }
            batch->num_rows += take;
          }
          off += take;
          row += take;
          bool shard_done = row == s.row_end;
          if (bucketing) {
            if (shard_done) {
              if (!FlushBucketed(s, staged)) {
                stopped = true;
                return Status::Ok();
              }
              staged.clear();
              ++si;
              if (s.shard_ends) seq = 0;
            }
          } else if (shard_done || batch->num_rows == layout->batch_rows) {
            if (!Flush(shard_done && s.shard_ends)) {
              stopped = true;
              return Status::Ok();
            }
            if (shard_done) {
              ++si;
              if (s.shard_ends) seq = 0;
            }
          }
        }
        if (si == shards.size()) {
          if (!check_end) return Status::Ok();  // later rows belong to no pending shard
          if (off < n) return MoreRows(file, row);
          at_end = true;
        }
      }
      if (si < shards.size()) {
        return Status(
            Code::kIoError,
            fmt::format("{} ended at row {} but shard {} expects rows up to {}: the input "
                        "changed since the run was planned",
                        file.path.empty() ? std::string("the query") : file.path, row,
                        shards[si].shard_id, shards[si].row_end));
      }
      return Status::Ok();
    }

    static Status MoreRows(const InputFile& file, int64_t planned) {
      return Status(Code::kIoError,
                    fmt::format("{} has more rows than the {} counted when the run was planned: "
                                "the input changed since",
                                file.path.empty() ? std::string("the query") : file.path, planned));
    }
  };

  // The dialect of an uncompressed CSV or JSONL file when TextRowCounter can
  // count it (the CSV's as DuckDB's sniffer sees it), or nullopt.
  Result<std::optional<TextDialect>> PlainTextDialect(int32_t file_index) {
    const InputFile& f = files_[file_index];
    std::string lower = f.path;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    for (std::string_view ext : {".gz", ".zst", ".bz2", ".xz", ".lz4", ".zip"}) {
      if (lower.ends_with(ext)) return std::nullopt;
    }
    if (f.format == InputFormat::kJsonl) return TextDialect{0, 0, false};
    if (f.format != InputFormat::kCsv) return std::nullopt;
    NS_ASSIGN_OR_RETURN(DuckResult r, conn_->Query("SELECT Delimiter, Quote, Escape, Comment, "
                                                   "SkipRows FROM sniff_csv(" +
                                                       QuoteString(f.path) + ", header = true)",
                                                   Where(file_index)));
    if (r.row_count() != 1) return std::nullopt;
    // sniff_csv spells an option that is not set "(empty)".
    auto unset = [](const std::string& v) { return v.empty() || v == "(empty)"; };
    const std::string delim = r.Text(0, 0), quote = r.Text(1, 0), escape = r.Text(2, 0);
    if (delim.size() != 1 || delim[0] == '\n' || delim[0] == '\r' || delim[0] == '"') {
      return std::nullopt;
    }
    if (!unset(quote) && quote != "\"") return std::nullopt;
    if (!unset(escape) && escape != quote) return std::nullopt;
    if (!unset(r.Text(3, 0)) || r.Int(4, 0) != 0) return std::nullopt;
    return TextDialect{delim[0], unset(quote) ? '\0' : '"', true};
  }

  std::string Where(int32_t file_index) const {
    if (!spec_.query.empty()) return "input.query";
    return "input file '" + files_[file_index].path + "'";
  }

  enum class TextColumns { kAllText, kFloatsTyped };

  // The table function reading file `file_index`. With `layout` and
  // kAllText, a CSV's feature columns are read as text and converted by
  // TRY_CAST in the select list: a value that does not parse then becomes a
  // null (a dead letter for that row) instead of an error that stops the
  // whole scan, even when it lies beyond the rows DuckDB's type sniffer
  // samples. kFloatsTyped reads FLOAT/DOUBLE features as those types, which
  // is cheaper but stops at a bad value: Read() then falls back to kAllText.
  std::string Relation(int32_t file_index, bool with_row_number, const ReadLayout* layout = nullptr,
                       TextColumns text = TextColumns::kAllText) const {
    if (!spec_.query.empty()) return "(" + spec_.query + ")";
    const InputFile& f = files_[file_index];
    std::string path = QuoteString(f.path);
    switch (f.format) {
      case InputFormat::kParquet:
        return with_row_number ? "read_parquet(" + path + ", file_row_number = true)"
                               : "read_parquet(" + path + ")";
      case InputFormat::kCsv: {
        const std::string types = layout == nullptr ? "" : CsvFeatureTypes(*layout, text);
        return "read_csv(" + path + ", header = true" +
               (types.empty() ? "" : ", types = {" + types + "}") + ")";
      }
      case InputFormat::kJsonl: return "read_json(" + path + ", format = 'newline_delimited')";
      case InputFormat::kAuto: break;
    }
    return "read_parquet(" + path + ")";
  }

  // read_csv's `types` for the feature columns: VARCHAR, or with
  // kFloatsTyped DOUBLE for a column whose every use feeds a float input (see
  // ReadType). A kept column keeps the type it has in the text read. A column
  // fed twice (to one input or two) is named once: read_csv refuses a repeated
  // name; the select list casts each use.
  static std::string CsvFeatureTypes(const ReadLayout& layout, TextColumns text) {
    std::vector<std::pair<std::string, bool>> columns;  // name, typed
    for (const auto& in : layout.inputs) {
      const bool is_float = in.dtype == DType::kFloat32 || in.dtype == DType::kFloat64;
      for (size_t c = 0; c < in.columns.size(); ++c) {
        if (in.column_is_list[c]) continue;
        const std::string& name = in.columns[c];
        const bool typed =
            text == TextColumns::kFloatsTyped && is_float &&
            std::find(layout.carried.begin(), layout.carried.end(), name) == layout.carried.end();
        auto it = std::find_if(columns.begin(), columns.end(),
                               [&](const auto& e) { return e.first == name; });
        if (it == columns.end()) {
          columns.emplace_back(name, typed);
        } else {
          it->second = it->second && typed;
        }
      }
    }
    std::string types;
    for (const auto& [name, typed] : columns) {
      types += (types.empty() ? "" : ", ") + QuoteString(name) + ": " +
               QuoteString(typed ? "DOUBLE" : "VARCHAR");
    }
    return types;
  }

  static std::string SelectList(const ReadLayout& layout) {
    std::string s;
    for (const auto& in : layout.inputs) {
      for (size_t c = 0; c < in.columns.size(); ++c) {
        if (!s.empty()) s += ", ";
        const std::string t = ReadType(in.dtype, in.column_is_list[c]);
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
      // do not convert: those rows are dead letters, so TRY_CAST.
      const bool feature = std::any_of(layout.inputs.begin(), layout.inputs.end(), [&](auto& in) {
        return std::find(in.columns.begin(), in.columns.end(), layout.carried[i]) !=
               in.columns.end();
      });
      s += fmt::format("{}({} AS {})", feature ? "TRY_CAST" : "CAST", c, layout.carried_types[i]);
    }
    return s;
  }

  InputSpec spec_;
  std::vector<InputFile> files_;
  std::vector<InputFile> read_files_;  // a query's: see io/query_files.h
  std::shared_ptr<DuckDatabase> db_;
  std::unique_ptr<DuckConnection> conn_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace nightshift::io

namespace nightshift {
using io::DuckConnection;
using io::DuckDatabase;
using io::DuckSource;
using io::ListInputFiles;

Result<std::unique_ptr<Source>> OpenSource(const InputSpec& spec, int duckdb_threads) {
  std::vector<InputFile> files;
  if (spec.query.empty()) {
    NS_ASSIGN_OR_RETURN(files, ListInputFiles(spec));
  } else {
    files.push_back(InputFile{});
  }
  NS_ASSIGN_OR_RETURN(auto db, DuckDatabase::OpenInMemory(duckdb_threads));
  NS_ASSIGN_OR_RETURN(auto conn, DuckConnection::Open(db));
  // Each shard of a Parquet file is its own query: keep the parsed footer (one
  // entry per file, dropped when the file changes) rather than parsing every
  // row group's metadata again per shard, a cost that grew with the file.
  // Only a speed-up: a DuckDB without the setting reads as before.
  (void)conn->Exec("SET parquet_metadata_cache = true");
  std::vector<InputFile> read_files;
  InputSpec resolved = spec;
  if (!spec.query.empty() && !spec.query_dir.empty()) {
    // Relative paths in the query name files beside the job file, wherever
    // nightshift is started from (io/query_files.h); file_search_path covers
    // paths the query builds at run time.
    NS_RETURN_IF_ERROR(
        conn->Exec("SET file_search_path = " + io::QuoteString(spec.query_dir), "input.query"));
    NS_ASSIGN_OR_RETURN(io::QueryInput q,
                        io::ResolveQuery(conn.get(), Env::Default(), spec.query, spec.query_dir));
    resolved.query = std::move(q.query);
    read_files = std::move(q.files);
  }
  return std::unique_ptr<Source>(new DuckSource(std::move(resolved), std::move(files),
                                                std::move(read_files), std::move(db),
                                                std::move(conn)));
}

}  // namespace nightshift
