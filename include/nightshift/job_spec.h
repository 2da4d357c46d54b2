// JobSpec: the typed form of a job file (docs/job-file.md).
//
// A job file is parsed and validated once, by ParseJobFile(); the engine only
// ever sees this struct, never YAML. All relative paths are already resolved
// against the job file's folder and every ${VAR} is substituted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nightshift/status.h"
#include "nightshift/tensor.h"

namespace nightshift {

enum class InputFormat { kAuto, kParquet, kCsv, kJsonl, kPostgres };
enum class OutputFormat { kParquet, kCsv, kJsonl, kPostgres, kSqlite, kDuckdb };
// How database output writes a run's rows (job-spec.md, "Databases in and out").
enum class OutputMode { kInsert, kUpsert, kSwap };

std::string_view InputFormatName(InputFormat f);
std::string_view OutputFormatName(OutputFormat f);
std::string_view OutputModeName(OutputMode m);
// A table in a database rather than a folder of files.
inline bool IsDatabase(OutputFormat f) {
  return f == OutputFormat::kPostgres || f == OutputFormat::kSqlite || f == OutputFormat::kDuckdb;
}

// `preprocess: - tokenize: {...}` (job-spec.md, "Text, recommendations and
// documents"): the text column `column` becomes the list columns
// `<into>.input_ids`, `<into>.attention_mask` and `<into>.token_type_ids`.
struct TokenizeSpec {
  std::string column;
  std::string tokenizer;   // absolute path of a Hugging Face tokenizer.json
  int64_t max_length = 0;  // 0: the tokenizer.json's own truncation, if any
  std::string into;
};

// `preprocess: - image: {...}` (job-spec.md, "Text, recommendations and
// documents"): the path or BLOB column `column` becomes the float32 image
// tensor `into`, fed to a model input that names it.
struct ImageSpec {
  std::string column;
  std::string into;
  int64_t height = 0, width = 0;    // `size: [height, width]`
  std::string resize = "stretch";   // stretch | shorter_side | letterbox
  std::vector<double> mean, std;    // one per output channel (default 0 and 1)
  std::string layout = "nchw";      // nchw | nhwc
  std::string color = "rgb";        // rgb | bgr | gray
  int64_t max_pixels = 50'000'000;  // larger images are dead letters (decompression bombs)
  // JPEG: decode at 1/2, 1/4 or 1/8 scale (DCT domain) while the image stays
  // at least this many times the resized size; 0: always full size (exact).
  int64_t reducing_gap = 2;
};

// `preprocess: - pdf_pages: {...}`: each PDF (a path or BLOB in `column`)
// becomes one row per page, the page rendered at `dpi` into the image-valued
// column `into` (which an image step reads) and its number in `page_number`.
struct PdfPagesSpec {
  std::string column;
  std::string into;
  int64_t dpi = 150;
};

// `preprocess: - crop: {...}`: each row's box (4 corner points, 8 numbers,
// in column `boxes`) cut out of its image (a path or BLOB in column `image`),
// deskewed and scaled to `height` (src/image/crop.h).
struct CropSpec {
  std::string image;
  std::string boxes;
  std::string into;
  int64_t height = 48;
};

struct InputSpec {
  std::string path;   // absolute path, glob or directory; empty when `query` is set
  std::string query;  // a DuckDB SQL query (PostgreSQL's for kPostgres); empty when `path` is set
  std::string url;    // kPostgres: libpq URL or key=value string (may hold a password)
  // A trigger run's input (src/sched/trigger.h): exactly these files
  // (absolute), handed over by the scheduler; `path` and `query` are empty.
  std::vector<std::string> files;
  // The folder relative paths inside `query` resolve against: the job file's.
  std::string query_dir;
  InputFormat format = InputFormat::kAuto;
  std::vector<std::string> key;  // key column(s); at least one
  // The job's `preprocess:` tokenize steps: the Source makes their columns
  // as it reads, so they are input columns like any other to the engine.
  std::vector<TokenizeSpec> tokenize;
  // The job's `preprocess:` image steps (src/image): decoded per row as the
  // batch is packed, on worker threads.
  std::vector<ImageSpec> images;
  // The job's `preprocess:` pdf_pages steps (src/pdf; at most one).
  std::vector<PdfPagesSpec> pdf_pages;
  // The job's `preprocess:` crop steps (src/image/crop_filler.h).
  std::vector<CropSpec> crops;
  // `input.allow_outside`: a relative path in a column may leave the input
  // file's folder (through `..` or a symlink).
  bool allow_outside = false;
};

struct ModelInputSpec {
  std::string name;                  // the model's input name
  std::vector<std::string> columns;  // packed along the last axis, in this order
  DType dtype = DType::kFloat32;
  bool allow_nan = true;  // false: NaN/Inf in a row makes it a poison item
  double pad_value = 0;   // fills variable-length list columns up to the batch's longest
  std::string mask_of;    // this input is the 1/0 mask of that list column (columns = {it})
};

struct ModelOutputSpec {
  std::string name;                  // the model's output name
  std::vector<std::string> columns;  // one output column per element of the last axis
  std::string column;                // instead of `columns`: the last axis as one list column
};

// `postprocess: - top_k: {...}`: the k largest values of a model output's
// last axis, descending (ties: the lower index first), written as two list
// columns: their ids (indices, or `labels` lines) and their values.
struct TopKSpec {
  std::string output;  // the model's output name (need not be in model.outputs)
  int64_t k = 0;
  std::string ids_column;     // into[0]
  std::string scores_column;  // into[1]
  std::string labels;         // absolute path of a file of one integer id per line; "" = indices
};

// `postprocess: - ctc_decode: {...}`: greedy CTC decoding of a recogniser's
// [batch, time, classes] output into a text column and `<into>_score`.
struct CtcDecodeSpec {
  std::string output;
  std::string alphabet;  // absolute path: one symbol per line
  std::string into;
  int64_t blank = 0;
  std::string where;  // "postprocess[1].ctc_decode", for messages
};

// `postprocess: - text_boxes: {...}`: DB-style detection map into a list of
// boxes per row (`<into>`, 8 numbers per box) and their scores (`<into>_score`).
struct TextBoxesSpec {
  std::string output;
  double threshold = 0.3;
  double box_threshold = 0.6;
  double unclip = 1.5;
  std::string into;
  std::string where;  // "postprocess[0].text_boxes", for messages
};

struct ModelSpec {
  std::string backend = "onnx";  // onnx | torchscript | xgboost
  std::string path;              // absolute
  std::optional<std::string> sha256;
  std::string device = "cpu";      // cpu | cuda | cuda:N
  int threads = 0;                 // intra-op threads; 0 = choose
  int instances = 1;               // model instances run in parallel
  std::string precision = "fp32";  // fp32 | fp16 | bf16 (GPU autocast, where the backend has it)
  bool allow_change = false;       // resume a run although the model file changed
  std::vector<ModelInputSpec> inputs;
  std::vector<ModelOutputSpec> outputs;
  std::vector<TopKSpec> top_k;  // the job's `postprocess:` steps
  std::vector<CtcDecodeSpec> ctc_decode;
  std::vector<TextBoxesSpec> text_boxes;
};

struct BatchSpec {
  int64_t size = 1024;  // rows per batch; 0 means "auto"
  bool auto_size() const { return size == 0; }
  int64_t max_memory = int64_t{1} << 30;  // bytes
  // Column whose length orders rows inside a shard before batching (bucketing
  // similar lengths together); empty keeps input order.
  std::string sort_by_length;
  // Token budget per batch (rows x padded length); 0 means no token limit.
  int64_t max_tokens = 0;
};

struct OutputSpec {
  std::string path;  // absolute; may still hold {run_id}, {name}, {date}; empty for a database
  OutputFormat format = OutputFormat::kParquet;
  // Database output: a libpq URL (or key=value string) for postgres, an
  // absolute file path for sqlite and duckdb; the table, "schema.table" or
  // "table"; and how rows are written.
  std::string url;
  std::string table;
  OutputMode mode = OutputMode::kUpsert;
  std::vector<std::string> keep;
  // Empty a folder that holds another run's output before the first commit
  // (never a resumed run's own). Not part of the run fingerprint.
  bool overwrite = false;
};

struct ErrorsSpec {
  int max_retries = 2;
  // max_failed_items: a count, or a fraction of input rows when `fraction` is set.
  // A count of -1 never stops.
  int64_t max_failed_count = 0;
  std::optional<double> max_failed_fraction;  // 0.005 for "0.5%"
  std::string dead_letter = "{output}/_failed";
  double batch_timeout_s = 0;  // 0: no timeout
};

struct RunSpec {
  int64_t shard_rows = 131072;
  std::string ledger;  // absolute SQLite path, or a postgresql:// URL
  double drain_timeout_s = 20;
  // How long a worker's claim on a shard holds without renewal (renewed
  // every third of it); a shard whose lease lapsed is claimed again.
  double lease_s = 60;
  // Resume a run id although its input files changed since it was planned:
  // its uncommitted shards are planned again on the new input. Not part of
  // the run's fingerprint.
  bool allow_input_change = false;
  // Writer threads of a file output, each encoding and publishing its own
  // shards (shard_index % writers); 0: chosen from the machine's cores
  // (exec::ChooseWriters). A database output has one.
  int writers = 0;
  // Reader threads of a Parquet input (without tokenize or image/PDF steps,
  // with the SQLite ledger), each reading its own shards (shard_index %
  // readers); 0: chosen from the cores (exec::ChooseReaders). Others have one.
  int readers = 0;
};

// `schedule:` (job-spec.md, "Schedules and triggers"). The cron expression and
// the zone were checked when the job was parsed (src/sched/schedule.h).
struct ScheduleSpec {
  enum class Overlap { kSkip, kQueue };
  std::string cron;                  // 5 fields or an @shortcut
  std::string timezone = "UTC";      // IANA name
  bool catchup = false;              // run intervals missed while no scheduler ran
  int max_catchup = 7;               // at most the newest this many of them
  Overlap overlap = Overlap::kSkip;  // when the previous run is still going
};

// `trigger:`: run when files arrive. A job with a trigger has no input.path.
struct TriggerSpec {
  std::string watch;     // absolute glob (relative ones resolved against the job's folder)
  double settle_s = 30;  // a file is taken once unchanged (size, mtime) for this long
};

struct JobSpec {
  std::string name;
  std::string job_file;  // absolute path of the YAML file
  std::string job_dir;   // its folder
  // Canonical YAML of the job after overrides and ${VAR} substitution (keys
  // sorted, comments and formatting dropped): deterministic, for fingerprints.
  std::string text;
  InputSpec input;
  ModelSpec model;
  BatchSpec batch;
  OutputSpec output;
  ErrorsSpec errors;
  RunSpec run;
  std::optional<ScheduleSpec> schedule;
  std::optional<TriggerSpec> trigger;
  // Where each key was written: "input.path" -> "job.yaml:3:3" (or
  // "job.yaml: --set input.path"), for errors found after parsing (see
  // JobKeySite in spec/key_sites.h). Not part of `text`.
  std::map<std::string, std::string> key_sites;
};

// One `--set KEY=VALUE` override: KEY is a dotted path ("batch.size",
// "model.inputs.0.dtype"); VALUE is parsed as YAML.
struct Override {
  std::string key;
  std::string value;
};

// The site ("job.yaml:3:3") of the job key an error message is about, or ""
// when it names none: a message that starts with a key path ("input.path
// '...' does not exist", "model.path: ..."), or one about a model input or
// output by name ("model input 'features' ...": that model.inputs entry).
// The nearest written ancestor stands in for a key the file does not hold.
std::string JobKeySite(const JobSpec& job, std::string_view message);

// Parses "KEY=VALUE". Returns InvalidJob when there is no '='.
Result<Override> ParseOverride(std::string_view text);

// Reads, parses and validates the job file at `path`, applying `overrides`.
// Returns InvalidJob with a message naming the file, line and key on any
// problem: unknown keys (with the closest valid key suggested), wrong types,
// missing required keys, bad values, unset ${VAR}. NotFound when the file is
// missing.
Result<JobSpec> ParseJobFile(const std::string& path, const std::vector<Override>& overrides);

// The same from text already in memory (`path` is used for messages and to
// resolve relative paths against its folder).
Result<JobSpec> ParseJobText(const std::string& text, const std::string& path,
                             const std::vector<Override>& overrides);

// Replaces {run_id}, {name} and {date} (YYYY-MM-DD, UTC) in `pattern`.
std::string ExpandOutputPath(const std::string& pattern, const JobSpec& job,
                             const std::string& run_id, const std::string& date);

// Parses "1GiB", "512MB", "1024" into bytes. InvalidJob on anything else.
Result<int64_t> ParseByteSize(std::string_view text);

// Parses "30s", "500ms", "2m", "1h" or a plain number of seconds.
Result<double> ParseDuration(std::string_view text);

}  // namespace nightshift
