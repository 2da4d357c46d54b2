// Sink: writes a shard's predictions (DuckDB's sink phases: per-shard local
// state → append → finalize).
//
// Finish() makes the shard's output visible atomically and idempotently: the
// data file is written under a temporary name, fsync'd and renamed to its
// final, deterministic name (part-<shard>.<ext>); a repeat after a crash
// replaces it with identical content. Only a writer whose claim still holds
// replaces a file already there (Env::PublishFileFenced): a worker paused past
// its lease never overwrites the file of the worker that took the shard over.
// A database sink (io/db_sink.h) instead
// commits the shard's rows and a row of its commit table in one database
// transaction; a repeat finds that row and writes nothing. The engine
// commits the shard in the ledger after Finish() returns; only the
// PostgreSQL sink whose ledger is its own database runs the ledger's commit
// inside its transaction instead (io/postgres/pg_sink.h), which makes the
// engine's commit a repeat.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/row_batch.h"
#include "nightshift/status.h"

namespace nightshift {

struct OutputColumn {
  std::string name;
  DType dtype = DType::kFloat32;
  bool is_list = false;
  int32_t output_index = 0;  // which model output tensor
  int64_t element = 0;       // which element of its last axis (scalar columns)
  // Lists whose length varies by row: the int64 [rows] tensor holding each
  // row's length (the rest of its row is padding); -1: every row is whole.
  int32_t length_index = -1;
  bool is_text = false;  // uint8 UTF-8 bytes (with length_index), written as one string
  // A top_k ids column with text labels: the tensor holds int64 indices and
  // the column is VARCHAR[] of (*labels)[index].
  std::shared_ptr<const std::vector<std::string>> labels = nullptr;
  // Written from RowBatch::items (int32), not from a tensor: pdf_pages'
  // page_number.
  bool item_number = false;
  // Written from RowBatch::kept_images (BLOB, a PNG), not from a tensor:
  // pdf_pages' rendered page named in output.keep.
  bool kept_image = false;
};

class Env;

struct SinkLayout {
  Env* env = nullptr;  // file operations (fsync, rename); nullptr: Env::Default()
  std::string output_dir;
  std::string dead_letter_dir;
  OutputFormat format = OutputFormat::kParquet;
  std::vector<std::string> carried;        // as in ReadLayout
  std::vector<std::string> carried_types;  // SQL types
  size_t keep_count = 0;                   // the first keep_count carried columns are written
  std::vector<std::string> key;            // key columns (a subset of carried)
  std::vector<OutputColumn> outputs;
  // Batches may arrive out of row order (bucketing): sort each part by file
  // row number before writing it.
  bool restore_order = false;
  // Input file paths by file index, named in dead letters ("" for a query).
  std::vector<std::string> input_paths;
  // Database output (format postgres | sqlite | duckdb): where and how, and
  // the run whose shards the sink records beside the table.
  std::string url;
  std::string table;
  OutputMode mode = OutputMode::kUpsert;
  std::string run_id;
  // Other processes (workers of a shared ledger) write this output at the same
  // time: opening leaves temp files alone (they may be a live worker's); the
  // worker completing the run removes leftovers (WriteSuccess).
  bool shared = false;
  // A retry: the attempts a failed row had before it (its dead letter's), added
  // to this run's in the dead-letter file and in ShardOutput::failures.
  std::function<int32_t(const ItemFailure&)> prior_attempts = nullptr;
};

// A shard (or retry part) whose rows a database sink already made visible,
// with the record that it is done, in one transaction.
struct HeldShard {
  int64_t shard_id = 0;
  int32_t retry_seq = 0;
  int64_t rows = 0;
};

struct ShardOutput {
  std::string output_file;       // relative to output_dir
  std::string dead_letter_file;  // relative to dead_letter_dir; empty when none failed
  int64_t rows_written = 0;
  std::vector<ItemFailure> failures;
};

// Asked before a file already at a shard's final name is replaced: OK while
// the shard's claim is still this writer's; the error (kConflict: the claim
// was lost) stops the publication and is returned by Finish().
using ClaimCheck = std::function<Status()>;

class ShardWriter {
 public:
  // Abandons the shard if Finish() was not called: removes temp files.
  virtual ~ShardWriter() = default;
  // Appends the rows of `batch` that have no row error (in order), and records
  // the failed ones for the dead-letter file.
  virtual Status Append(const RowBatch& batch) = 0;
  // Publishes the data file (and the dead-letter file, if any rows failed).
  // After a failure it may be called again (e.g. after a transient I/O
  // error): it rewrites and republishes from the rows already appended.
  virtual Result<ShardOutput> Finish(const ClaimCheck& still_ours) = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Starts writing shard `shard_id` (part-<shard>.<ext>), or with
  // `retry_seq` > 0 its retry part (part-<shard>-r<seq>.<ext>). REQUIRES: at
  // most one open writer per shard.
  virtual Result<std::unique_ptr<ShardWriter>> BeginShard(int64_t shard_id, int64_t epoch,
                                                          int32_t retry_seq = 0) = 0;
  // The run completed: a file sink writes the _SUCCESS manifest last,
  // atomically; a database sink writes no file, and in mode swap replaces the
  // table with the run's staging table in one transaction (idempotent: a
  // repeat after a crash finds the swap recorded and does nothing).
  virtual Status WriteSuccess(const std::string& manifest_json) = 0;
  // The shards of this run whose rows are already visible. A database sink
  // commits a shard's rows together with a row of its commit table, so after
  // a crash between that commit and the ledger's the engine records these as
  // committed instead of writing them again. File sinks: none (a published
  // part that the ledger lacks is rewritten identically).
  virtual Result<std::vector<HeldShard>> HeldShards() { return std::vector<HeldShard>{}; }
};

// Opens a file sink: creates output_dir (IoError naming it when that is not
// possible or not writable) and removes leftover temporary files of earlier
// attempts.
Result<std::unique_ptr<Sink>> OpenFileSink(const SinkLayout& layout, int duckdb_threads);

// "part-000042.parquet", or "part-000042-r1.parquet" for retry part 1.
std::string PartFileName(int64_t shard_id, OutputFormat format, int32_t retry_seq = 0);

}  // namespace nightshift
