// Source: reads a job's input as batches of typed columns (DuckDB's table
// function phases: bind → plan → read).
//
//   bind  Open() lists the input (files or a query); Describe() gives a
//         file's columns; CountRows() its rows.
//   read  Read() streams the rows of a list of shards, in order, as RowBatches
//         of at most `batch_rows` rows with the model inputs already packed.
//
// A Source is used by one thread at a time, except Interrupt().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/row_batch.h"
#include "nightshift/status.h"

namespace nightshift {

struct InputColumn {
  std::string name;
  std::string sql_type;       // DuckDB's type name ("DOUBLE", "VARCHAR", "FLOAT[]")
  bool numeric = false;       // integer, float, double or decimal
  bool numeric_list = false;  // a LIST or ARRAY of numerics
};

struct InputFile {
  int32_t index = 0;
  std::string path;  // empty for a query input
  InputFormat format = InputFormat::kParquet;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t device = 0;  // with `inode`: which file was listed (see FileInfo)
  int64_t inode = 0;
};

// One whole file of a packed shard.
struct FilePart {
  int32_t file_index = 0;
  int64_t rows = 0;  // the file's row count, as planned
  // When not empty: read only these rows of the file (sorted), as `nightshift
  // retry` does for dead-lettered rows.
  std::vector<int64_t> rows_selected = {};
};

struct ShardTask {
  int64_t shard_id = 0;
  int64_t shard_index = 0;  // position in the run's work list
  int32_t file_index = 0;
  int64_t row_begin = 0;
  int64_t row_end = 0;
  int64_t epoch = 0;
  // When not empty: read only these file rows (sorted, within the range), as
  // `nightshift retry` does for dead-lettered rows.
  std::vector<int64_t> rows = {};
  int32_t retry_seq = 0;  // > 0: the output is retry part `retry_seq` of the shard
  // The shard ends at the last row the plan counted in its file: a streaming
  // read then checks that no row follows (the file's rows were counted right).
  bool file_end = false;
  // When not empty, the shard is these whole files, in order (small files
  // packed into one shard), and file_index, row_begin, row_end and rows are
  // not used.
  std::vector<FilePart> packed = {};
  // Within Source::Read, which reads a packed shard file by file: false for
  // every file but the last (the shard goes on in the next file).
  bool shard_ends = true;
  // An input read by key ranges (input.format postgres): the rows whose key
  // is > key_after and <= key_upto, JSON values ("" = unbounded), as
  // ShardRecord has them; row_begin/row_end are then the plan's estimate.
  std::string key_after = {};
  std::string key_upto = {};
  // When not empty (an input read by key ranges): read only the rows of the
  // range with these keys (JSON values, as dead letters name them), as
  // `nightshift retry` does for dead-lettered rows.
  std::vector<std::string> keys = {};
};

// One shard of an input read by key ranges, as planned: rows whose key is >
// `after` and <= `upto` (JSON values, "" = unbounded); `rows` were in it then.
struct KeyRange {
  std::string after;
  std::string upto;
  int64_t rows = 0;
};

// A preprocess step that makes one row of a model input from one raw
// column value (an image step: a path or the encoded bytes). Thread-safe.
class RowFiller {
 public:
  struct Row {
    std::string_view value;     // the column's text (a path) or bytes (BLOB)
    std::string_view base_dir;  // relative paths resolve against it
    float* out = nullptr;       // the row's elements in the input tensor
    std::string error;          // set by Fill: the row's dead-letter reason
    ImageFrame frame;           // set by Fill when the step resizes an image
    int64_t item = 0;           // RowBatch::items' entry (a page number), 0 when none
    // Set by Fill when the step was asked to keep its image (pdf_pages' page
    // named in output.keep): the image the step made, as PNG.
    std::string kept_image = {};
  };
  virtual ~RowFiller() = default;
  // The input column read (its raw value, not cast).
  virtual const std::string& column() const = 0;
  // The step's name in the job (`preprocess: - image:`), for messages.
  virtual std::string_view step() const { return "image"; }
  // True when the column holds encoded bytes (BLOB), not paths.
  virtual bool bytes() const = 0;
  // Fills every row, on the step's worker threads; a row that cannot be
  // filled gets zeros and `error`.
  virtual void Fill(std::span<Row> rows) const = 0;
  // The SQL expression read as the raw value, when it is more than the
  // column (a crop step reads its box and image as one value); "": column().
  virtual std::string select_sql() const { return ""; }
  // For an input whose row_shape has a -1: that dimension for this batch
  // (a crop step: its widest crop), from the rows before Fill.
  virtual int64_t PaddedLength(std::span<const Row> /*rows*/) const { return 1; }
};

// A preprocess step that makes several rows of one input row (pdf_pages: one
// per page of the PDF the row names; crop: one per box of the row's list).
// The reader repeats the input row's carried columns for each and numbers
// them from first_item() in RowBatch::items; the step's RowFiller then makes
// each from the raw value and its number. Thread-safe.
class RowExpander {
 public:
  virtual ~RowExpander() = default;
  // How many rows (>= 0) the input row whose raw column value is `value`
  // makes, or the input row's dead-letter reason.
  virtual Result<int64_t> Count(std::string_view value, std::string_view base_dir) const = 0;
  // The first row's number: pdf_pages' page 1, crop's box_index 0.
  virtual int64_t first_item() const { return 1; }
};

// How one model input is packed from columns.
struct InputPacking {
  std::vector<std::string> columns;
  DType dtype = DType::kFloat32;
  bool allow_nan = true;
  // Elements per row contributed by each column (1 for a scalar column, the
  // list length for a list column); the tensor is [rows] + row_shape.
  std::vector<int64_t> column_widths;  // -1: a variable-length list, padded per batch
  std::vector<bool> column_is_list;
  std::vector<int64_t> row_shape;  // a -1 entry: the padded length of the batch
  double pad_value = 0;
  bool is_mask = false;  // 1 per list element of columns[0], 0 for padding
  // The dead-letter reason for a null in the (list) column, when it says more
  // than "null value" (a token column: its text was null or not UTF-8).
  std::string null_reason;
  // When set, the input is made by this step from its column (read raw,
  // with the file's folder beside it) instead of from `columns`, which then
  // names the step's `into`; the input is float32 of row_shape (a -1 entry:
  // the filler's PaddedLength for the batch).
  std::shared_ptr<const RowFiller> filler;
};

struct ReadLayout {
  std::vector<InputPacking> inputs;
  std::vector<std::string> carried;  // keep columns, then key columns not kept
  // When set (one per carried column): the type every file's carried column
  // is cast to when read, their common supertype across the input's files
  // (see Source::CarriedTypes), so that files whose types drift (BIGINT in
  // one, VARCHAR in another) still fill one output schema.
  std::vector<std::string> carried_types;
  // Set by a source whose carried columns arrive as text to be cast to
  // carried_types (PostgreSQL's, beyond its numbers and bytes): a value that
  // does not convert (numeric 'NaN' into a DECIMAL, a BC date, a 2-D array)
  // makes its row a dead letter naming the column and value, instead of
  // failing the read.
  bool carried_as_text = false;
  int64_t batch_rows = 1024;
  // Bucketing: sort each shard's rows by the length of this list column
  // before cutting batches (output order is restored by the sink), and cap a
  // batch at `max_tokens` padded elements of that column (0: no cap).
  std::string sort_by_length;
  int64_t max_tokens = 0;
  // When set, each input row becomes the rows `expander` counts, read from
  // the raw column of inputs[expand_input] (a filled input).
  std::shared_ptr<const RowExpander> expander;
  size_t expand_input = 0;
};

class Source {
 public:
  virtual ~Source() = default;

  // The Env its own file operations go through (OpenSource's `env`).
  virtual Env* env() const = 0;
  virtual const std::vector<InputFile>& files() const = 0;
  // Every file the input reads, for the run's fingerprint and identity
  // checks: files() for a path input; for a query, the files matched by its
  // string literals taken as globs relative to InputSpec::query_dir (none
  // when the query names no file: it is then fingerprinted by its text).
  virtual const std::vector<InputFile>& read_files() const = 0;
  // True when Read() can start at any row without reading the rows before it
  // (Parquet); false when skipped rows are read and discarded (CSV, JSONL,
  // queries).
  virtual bool seekable() const = 0;
  // The columns of file `file_index` (or of the query). SchemaMismatch/IoError
  // naming the file when it cannot be read.
  virtual Result<std::vector<InputColumn>> Describe(int32_t file_index) = 0;
  virtual Result<int64_t> CountRows(int32_t file_index) = 0;
  // The fraction of non-null values among the first 1000 of a text column
  // that convert to `dtype` (1 when there are none): a column sniffed as text
  // because of a few bad values is still a feature column, whose bad values
  // become dead letters; a column of names is not.
  virtual Result<double> ParsableFraction(int32_t file_index, const std::string& column,
                                          DType dtype) = 0;
  // Row counts of the file's row groups in order (Parquet), or one entry with
  // the file's row count for formats without row groups.
  virtual Result<std::vector<int64_t>> RowGroups(int32_t file_index) = 0;
  // SQL types of the carried columns, in layout order (for the Sink and for
  // ReadLayout::carried_types): for several files, each column's common
  // supertype across all of them, as DuckDB's union_by_name reads them.
  virtual Result<std::vector<std::string>> CarriedTypes(const ReadLayout& layout) = 0;
  // The common supertype of SQL types `a` and `b` (the type DuckDB's UNION
  // gives them), or SchemaMismatch when they have none.
  virtual Result<std::string> CommonType(const std::string& a, const std::string& b) = 0;

  // Reads `shards` (sorted by file, then row_begin) and calls `emit` with each
  // batch in order; stops early when `emit` returns false or `stop()` is true.
  // `next_batch` supplies a recycled batch to fill (the caller's pool: this
  // is what bounds memory). Returns the first read error, naming the file.
  virtual Status Read(const ReadLayout& layout, std::span<const ShardTask> shards,
                      const std::function<std::unique_ptr<RowBatch>()>& next_batch,
                      const std::function<bool(std::unique_ptr<RowBatch>)>& emit) = 0;
  // Aborts a Read() in progress from another thread.
  virtual void Interrupt() = 0;
  // Another Source over the same files (this one's list, never listed again,
  // so file indices stay the plan's), for a second reader thread reading
  // other shards at the same time; nullptr when this source cannot serve one
  // (a file streamed front to back, a query, a server, tokenizers).
  virtual Result<std::unique_ptr<Source>> Fork() { return std::unique_ptr<Source>(); }

  // For an input read by key ranges (input.format postgres): shards of about
  // `shard_rows` rows each, in key order, covering every key (the first and
  // last ranges are open). Others have none.
  virtual Result<std::vector<KeyRange>> PlanKeyRanges(int64_t /*shard_rows*/) {
    return std::vector<KeyRange>{};
  }
};

// Opens the input of `spec`: lists files for a path/glob/directory (NotFound
// when nothing matches; InvalidJob for an unknown or mixed format) or
// prepares a query. `duckdb_threads` bounds DuckDB's reader threads. Every
// file operation of its own (listing, stat, row counting) goes through `env`
// (nullptr: Env::Default()); DuckDB reads the rows itself.
Result<std::unique_ptr<Source>> OpenSource(const InputSpec& spec, int duckdb_threads,
                                           Env* env = nullptr);

}  // namespace nightshift
