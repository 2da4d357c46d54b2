#include "spec/job_sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/pg_location.h"
#include "spec/database_input.h"
#include "spec/database_output.h"
#include "spec/job_schema.h"

namespace nightshift::spec {
namespace {

const SchemaNode& Section(std::string_view name) {
  return *FindChild(JobSchema(), name);
}

// The mapping of an optional section (`batch:`); nullopt when absent or null.
Result<std::optional<YAML::Node>> OptionalSection(const NodeReader& r, const YAML::Node& root,
                                                  std::string_view name) {
  std::optional<YAML::Node> node = NodeReader::Find(root, name);
  if (!node) return std::optional<YAML::Node>();
  NS_RETURN_IF_ERROR(r.CheckMap(*node, std::string(name), Section(name)));
  return node;
}

Result<YAML::Node> RequiredSection(const NodeReader& r, const YAML::Node& root,
                                   std::string_view name) {
  NS_ASSIGN_OR_RETURN(YAML::Node node, r.Require(root, "", name));
  NS_RETURN_IF_ERROR(r.CheckMap(node, std::string(name), Section(name)));
  return node;
}

Status ReadDuration(const NodeReader& r, const YAML::Node& map, const std::string& path,
                    std::string_view key, double* out) {
  std::optional<YAML::Node> node = NodeReader::Find(map, key);
  if (!node) return Status::Ok();
  const std::string key_path = JoinKey(path, key);
  if (!node->IsScalar()) {
    return r.Fail(*node, key_path,
                  fmt::format("expected a duration like 30s, got {}", NodeReader::Describe(*node)));
  }
  NS_ASSIGN_OR_RETURN(std::string text, r.String(*node, key_path));
  Result<double> seconds = ParseDuration(text);
  if (!seconds) return r.Fail(*node, key_path, seconds.error().message());
  *out = *seconds;
  return Status::Ok();
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

Status ReadModelInputs(const NodeReader& r, const YAML::Node& model, ModelSpec* spec) {
  const SchemaNode& schema = *FindChild(Section("model"), "inputs");
  NS_ASSIGN_OR_RETURN(YAML::Node inputs, r.Require(model, "model", "inputs"));
  if (!inputs.IsSequence() || inputs.size() == 0) {
    return r.Fail(
        inputs, "model.inputs",
        fmt::format("expected a list of at least one input (name, columns, dtype), "
                    "got {}",
                    inputs.IsSequence() ? "an empty list" : NodeReader::Describe(inputs)));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const YAML::Node item = inputs[i];
    const std::string path = JoinIndex("model.inputs", i);
    NS_RETURN_IF_ERROR(r.CheckMap(item, path, schema));
    ModelInputSpec input;
    NS_ASSIGN_OR_RETURN(input.name, r.RequiredString(item, path, "name"));
    for (const ModelInputSpec& other : spec->inputs) {
      if (other.name == input.name) {
        return r.Fail(*NodeReader::Find(item, "name"), JoinKey(path, "name"),
                      fmt::format("model input '{}' is listed twice", input.name));
      }
    }
    if (std::optional<YAML::Node> mask_of = NodeReader::Find(item, "mask_of")) {
      // An attention mask: 1 for each element of a list column, 0 for padding.
      NS_ASSIGN_OR_RETURN(input.mask_of, r.String(*mask_of, JoinKey(path, "mask_of")));
      if (NodeReader::Find(item, "columns")) {
        return r.Fail(*mask_of, JoinKey(path, "mask_of"),
                      "give either columns or mask_of, not both");
      }
      input.columns = {input.mask_of};
      input.dtype = DType::kInt64;
    } else {
      NS_ASSIGN_OR_RETURN(YAML::Node columns, r.Require(item, path, "columns"));
      NS_ASSIGN_OR_RETURN(input.columns, r.StringList(columns, JoinKey(path, "columns"), 1, false));
    }
    if (std::optional<YAML::Node> dtype = NodeReader::Find(item, "dtype")) {
      const std::string dtype_path = JoinKey(path, "dtype");
      NS_ASSIGN_OR_RETURN(std::string text, r.String(*dtype, dtype_path));
      Result<DType> parsed = ParseDType(text);
      if (!parsed) return r.Fail(*dtype, dtype_path, parsed.error().message());
      input.dtype = *parsed;
    }
    NS_RETURN_IF_ERROR(r.ReadBool(item, path, "allow_nan", &input.allow_nan));
    if (std::optional<YAML::Node> pad = NodeReader::Find(item, "pad_value")) {
      try {
        input.pad_value = pad->as<double>();
      } catch (const std::exception&) {
        return r.Fail(*pad, JoinKey(path, "pad_value"), "expected a number");
      }
    }
    spec->inputs.push_back(std::move(input));
  }
  return Status::Ok();
}

// `optional`: postprocess steps write columns, so the model's own outputs may
// be left out (or `[]`).
Status ReadModelOutputs(const NodeReader& r, const YAML::Node& model, bool optional,
                        ModelSpec* spec) {
  const SchemaNode& schema = *FindChild(Section("model"), "outputs");
  std::optional<YAML::Node> given = NodeReader::Find(model, "outputs");
  if (optional && (!given || (given->IsSequence() && given->size() == 0))) return Status::Ok();
  NS_ASSIGN_OR_RETURN(YAML::Node outputs, r.Require(model, "model", "outputs"));
  if (!outputs.IsSequence() || outputs.size() == 0) {
    return r.Fail(
        outputs, "model.outputs",
        fmt::format("expected a list of at least one output (name, columns or column), "
                    "got {}",
                    outputs.IsSequence() ? "an empty list" : NodeReader::Describe(outputs)));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const YAML::Node item = outputs[i];
    const std::string path = JoinIndex("model.outputs", i);
    NS_RETURN_IF_ERROR(r.CheckMap(item, path, schema));
    ModelOutputSpec output;
    NS_ASSIGN_OR_RETURN(output.name, r.RequiredString(item, path, "name"));
    std::optional<YAML::Node> columns = NodeReader::Find(item, "columns");
    std::optional<YAML::Node> column = NodeReader::Find(item, "column");
    if (columns && column) {
      return r.Fail(*column, JoinKey(path, "column"),
                    fmt::format("set either '{0}.columns' or '{0}.column', not both", path));
    }
    if (!columns && !column) {
      return r.Missing(item, path, "columns", "column");
    }
    if (columns) {
      NS_ASSIGN_OR_RETURN(output.columns,
                          r.StringList(*columns, JoinKey(path, "columns"), 1, false));
    } else {
      NS_ASSIGN_OR_RETURN(output.column, r.NonEmptyString(*column, JoinKey(path, "column")));
    }
    spec->outputs.push_back(std::move(output));
  }
  return Status::Ok();
}

}  // namespace

Status ReadName(const NodeReader& r, const YAML::Node& root, std::string* name) {
  NS_ASSIGN_OR_RETURN(YAML::Node node, r.Require(root, "", "name"));
  NS_ASSIGN_OR_RETURN(*name, r.NonEmptyString(node, "name"));
  for (char c : *name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return r.Fail(node, "name",
                    fmt::format("'{}' may only hold letters, digits, '_', '.' and '-'", *name));
    }
  }
  return Status::Ok();
}

Status ReadInput(const NodeReader& r, const YAML::Node& root, InputSpec* input) {
  NS_ASSIGN_OR_RETURN(YAML::Node map, RequiredSection(r, root, "input"));
  NS_ASSIGN_OR_RETURN(bool database, ReadDatabaseInput(r, root, map, input));
  if (database) return Status::Ok();
  std::optional<YAML::Node> path = NodeReader::Find(map, "path");
  std::optional<YAML::Node> query = NodeReader::Find(map, "query");
  if (path && query) {
    return r.Fail(*query, "input.query", "set either 'input.path' or 'input.query', not both");
  }
  // A trigger job's input is the files trigger.watch finds (schedule_section.cc).
  const bool triggered = NodeReader::Find(root, "trigger").has_value();
  if (triggered && (path || query)) {
    return r.Fail(path ? *path : *query, path ? "input.path" : "input.query",
                  "a job with a trigger takes its input from trigger.watch: remove this key");
  }
  if (!path && !query && !triggered) {
    return r.Missing(map, "input", "path", "query");
  }
  if (path) {
    NS_ASSIGN_OR_RETURN(input->path, r.NonEmptyString(*path, "input.path"));
  } else if (query) {
    NS_ASSIGN_OR_RETURN(input->query, r.NonEmptyString(*query, "input.query"));
  }
  if (std::optional<YAML::Node> format = NodeReader::Find(map, "format")) {
    static constexpr std::string_view kChoices[] = {"auto", "parquet", "csv", "jsonl", "postgres"};
    NS_ASSIGN_OR_RETURN(std::string name, r.Choice(*format, "input.format", kChoices));
    if (name == "parquet")
      input->format = InputFormat::kParquet;
    else if (name == "csv")
      input->format = InputFormat::kCsv;
    else if (name == "jsonl")
      input->format = InputFormat::kJsonl;
    else
      input->format = InputFormat::kAuto;
  }
  NS_ASSIGN_OR_RETURN(YAML::Node key, r.Require(map, "input", "key"));
  NS_ASSIGN_OR_RETURN(input->key, r.StringList(key, "input.key", 1, true));
  return r.ReadBool(map, "input", "allow_outside", &input->allow_outside);
}

Status ReadModel(const NodeReader& r, const YAML::Node& root, ModelSpec* model) {
  NS_ASSIGN_OR_RETURN(YAML::Node map, RequiredSection(r, root, "model"));
  if (std::optional<YAML::Node> backend = NodeReader::Find(map, "backend")) {
    static constexpr std::string_view kChoices[] = {"onnx", "torchscript", "xgboost"};
    NS_ASSIGN_OR_RETURN(model->backend, r.Choice(*backend, "model.backend", kChoices));
  }
  NS_ASSIGN_OR_RETURN(model->path, r.RequiredString(map, "model", "path"));
  if (std::optional<YAML::Node> sha = NodeReader::Find(map, "sha256")) {
    NS_ASSIGN_OR_RETURN(std::string digest, r.String(*sha, "model.sha256"));
    if (digest.size() != 64 || !IsHex(digest)) {
      return r.Fail(*sha, "model.sha256",
                    fmt::format("expected 64 hexadecimal digits, got '{}'", digest));
    }
    std::transform(digest.begin(), digest.end(), digest.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    model->sha256 = std::move(digest);
  }
  if (std::optional<YAML::Node> device = NodeReader::Find(map, "device")) {
    NS_ASSIGN_OR_RETURN(std::string name, r.String(*device, "model.device"));
    const bool ok = name == "cpu" || name == "cuda" ||
                    (name.starts_with("cuda:") && IsDigits(std::string_view(name).substr(5)) &&
                     name.size() <= 9);
    if (!ok) {
      return r.Fail(*device, "model.device",
                    fmt::format("expected cpu, cuda or cuda:N, got '{}'", name));
    }
    model->device = std::move(name);
  }
  NS_RETURN_IF_ERROR(r.ReadInt(map, "model", "threads", 0, &model->threads));
  NS_RETURN_IF_ERROR(r.ReadInt(map, "model", "instances", 1, &model->instances));
  NS_RETURN_IF_ERROR(r.ReadBool(map, "model", "allow_change", &model->allow_change));
  if (std::optional<YAML::Node> precision = NodeReader::Find(map, "precision")) {
    NS_ASSIGN_OR_RETURN(std::string name, r.String(*precision, "model.precision"));
    if (name != "fp32" && name != "fp16" && name != "bf16") {
      return r.Fail(*precision, "model.precision",
                    fmt::format("expected fp32, fp16 or bf16, got '{}'", name));
    }
    model->precision = std::move(name);
  }
  NS_RETURN_IF_ERROR(ReadModelInputs(r, map, model));
  std::optional<YAML::Node> post = NodeReader::Find(root, "postprocess");
  const bool has_post = post && post->IsSequence() && post->size() > 0;
  NS_RETURN_IF_ERROR(ReadModelOutputs(r, map, has_post, model));
  return Status::Ok();
}

Status ReadBatch(const NodeReader& r, const YAML::Node& root, BatchSpec* batch) {
  NS_ASSIGN_OR_RETURN(std::optional<YAML::Node> map, OptionalSection(r, root, "batch"));
  if (!map) return Status::Ok();
  if (std::optional<YAML::Node> size = NodeReader::Find(*map, "size")) {
    std::string text;
    if (size->IsScalar()) {
      NS_ASSIGN_OR_RETURN(text, r.String(*size, "batch.size"));
    }
    if (text == "auto") {
      batch->size = 0;
    } else {
      NS_ASSIGN_OR_RETURN(batch->size,
                          r.Int(*size, "batch.size", 1, std::numeric_limits<int64_t>::max(),
                                "a positive integer or 'auto'"));
    }
  }
  if (std::optional<YAML::Node> memory = NodeReader::Find(*map, "max_memory")) {
    if (!memory->IsScalar()) {
      return r.Fail(
          *memory, "batch.max_memory",
          fmt::format("expected a byte size like 1GiB, got {}", NodeReader::Describe(*memory)));
    }
    NS_ASSIGN_OR_RETURN(std::string text, r.String(*memory, "batch.max_memory"));
    Result<int64_t> bytes = ParseByteSize(text);
    if (!bytes) return r.Fail(*memory, "batch.max_memory", bytes.error().message());
    if (*bytes <= 0) return r.Fail(*memory, "batch.max_memory", "must be more than 0 bytes");
    batch->max_memory = *bytes;
  }
  NS_RETURN_IF_ERROR(r.ReadString(*map, "batch", "sort_by_length", &batch->sort_by_length));
  NS_RETURN_IF_ERROR(r.ReadInt(*map, "batch", "max_tokens", 0, &batch->max_tokens));
  return Status::Ok();
}

namespace {

// output.path (its placeholders checked) and a file format.
Status ReadOutputFolder(const NodeReader& r, const YAML::Node& map, OutputSpec* output) {
  NS_ASSIGN_OR_RETURN(output->path, r.RequiredString(map, "output", "path"));
  // Catch "{runid}" now rather than create a directory literally named so.
  for (size_t open = output->path.find('{'); open != std::string::npos;
       open = output->path.find('{', open + 1)) {
    const size_t close = output->path.find('}', open);
    const std::string placeholder = close == std::string::npos
                                        ? output->path.substr(open)
                                        : output->path.substr(open, close - open + 1);
    if (placeholder != "{run_id}" && placeholder != "{name}" && placeholder != "{date}") {
      return r.Fail(*NodeReader::Find(map, "path"), "output.path",
                    fmt::format("unknown placeholder '{}' (valid: {{run_id}}, {{name}}, {{date}})",
                                placeholder));
    }
  }
  if (std::optional<YAML::Node> format = NodeReader::Find(map, "format")) {
    static constexpr std::string_view kChoices[] = {"parquet",  "csv",    "jsonl",
                                                    "postgres", "sqlite", "duckdb"};
    NS_ASSIGN_OR_RETURN(std::string name, r.Choice(*format, "output.format", kChoices));
    if (name == "csv")
      output->format = OutputFormat::kCsv;
    else if (name == "jsonl")
      output->format = OutputFormat::kJsonl;
    else
      output->format = OutputFormat::kParquet;
  }
  return Status::Ok();
}

}  // namespace

Status ReadOutput(const NodeReader& r, const YAML::Node& root, OutputSpec* output) {
  NS_ASSIGN_OR_RETURN(YAML::Node map, RequiredSection(r, root, "output"));
  NS_ASSIGN_OR_RETURN(bool database, ReadDatabaseOutput(r, map, output));
  if (!database) NS_RETURN_IF_ERROR(ReadOutputFolder(r, map, output));
  if (std::optional<YAML::Node> keep = NodeReader::Find(map, "keep")) {
    NS_ASSIGN_OR_RETURN(output->keep, r.StringList(*keep, "output.keep", 0, true));
  }
  NS_RETURN_IF_ERROR(r.ReadBool(map, "output", "overwrite", &output->overwrite));
  return Status::Ok();
}

Status ReadErrors(const NodeReader& r, const YAML::Node& root, ErrorsSpec* errors) {
  NS_ASSIGN_OR_RETURN(std::optional<YAML::Node> map, OptionalSection(r, root, "errors"));
  if (!map) return Status::Ok();
  NS_RETURN_IF_ERROR(r.ReadInt(*map, "errors", "max_retries", 0, &errors->max_retries));
  if (std::optional<YAML::Node> limit = NodeReader::Find(*map, "max_failed_items")) {
    const std::string path = "errors.max_failed_items";
    constexpr std::string_view kExpected = "a count >= -1 or a percentage like '0.5%'";
    if (limit->IsScalar() && !limit->Scalar().empty() && limit->Scalar().back() == '%') {
      NS_ASSIGN_OR_RETURN(std::string text, r.String(*limit, path));
      std::string_view number = std::string_view(text).substr(0, text.size() - 1);
      while (!number.empty() && number.back() == ' ') number.remove_suffix(1);
      double percent = -1;
      auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
      if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() ||
          !(percent >= 0 && percent <= 100)) {
        return r.Fail(*limit, path,
                      fmt::format("expected a percentage between 0% and 100%, got '{}'", text));
      }
      errors->max_failed_fraction = percent / 100.0;
      errors->max_failed_count = 0;
    } else {
      NS_ASSIGN_OR_RETURN(errors->max_failed_count,
                          r.Int(*limit, path, -1, std::numeric_limits<int64_t>::max(), kExpected));
      errors->max_failed_fraction.reset();
    }
  }
  if (std::optional<YAML::Node> dead = NodeReader::Find(*map, "dead_letter")) {
    NS_ASSIGN_OR_RETURN(errors->dead_letter, r.NonEmptyString(*dead, "errors.dead_letter"));
  }
  NS_RETURN_IF_ERROR(ReadDuration(r, *map, "errors", "batch_timeout", &errors->batch_timeout_s));
  return Status::Ok();
}

namespace {

// run.readers and run.writers: 0 (choose) to 64; a database output is
// written by one.
Status ReadThreads(const NodeReader& r, const YAML::Node& map, OutputFormat output, RunSpec* run) {
  constexpr int kMaxThreads = 64;
  constexpr std::string_view kExpected = "a count from 0 (choose) to 64";
  if (std::optional<YAML::Node> readers = NodeReader::Find(map, "readers")) {
    NS_ASSIGN_OR_RETURN(int64_t n, r.Int(*readers, "run.readers", 0, kMaxThreads, kExpected));
    run->readers = static_cast<int>(n);
  }
  if (std::optional<YAML::Node> writers = NodeReader::Find(map, "writers")) {
    NS_ASSIGN_OR_RETURN(int64_t n, r.Int(*writers, "run.writers", 0, kMaxThreads, kExpected));
    // A database takes one shard's transaction at a time from a run.
    if (n > 1 && IsDatabase(output)) {
      return r.Fail(*writers, "run.writers",
                    fmt::format("{} writers need a file output; output.format {} is written by one",
                                n, OutputFormatName(output)));
    }
    run->writers = static_cast<int>(n);
  }
  return Status::Ok();
}

}  // namespace

Status ReadRun(const NodeReader& r, const YAML::Node& root, OutputFormat output, RunSpec* run) {
  NS_ASSIGN_OR_RETURN(std::optional<YAML::Node> map, OptionalSection(r, root, "run"));
  if (!map) return Status::Ok();
  NS_RETURN_IF_ERROR(r.ReadInt(*map, "run", "shard_rows", 1, &run->shard_rows));
  if (std::optional<YAML::Node> ledger = NodeReader::Find(*map, "ledger")) {
    NS_ASSIGN_OR_RETURN(run->ledger, r.NonEmptyString(*ledger, "run.ledger"));
    // A URL of another scheme (`postgresql+psycopg2://`, `mysql://`) would
    // otherwise be a SQLite file in folders named after it: each machine
    // its own ledger, each scoring the whole input.
    if (run->ledger.find("://") != std::string::npos && !IsPostgresLocation(run->ledger)) {
      return r.Fail(*ledger, "run.ledger",
                    fmt::format("a '{}://' URL is not a ledger: give a PostgreSQL URL "
                                "(postgresql:// or postgres://) or a SQLite file path",
                                run->ledger.substr(0, run->ledger.find("://"))));
    }
  }
  NS_RETURN_IF_ERROR(ReadDuration(r, *map, "run", "drain_timeout", &run->drain_timeout_s));
  NS_RETURN_IF_ERROR(ReadDuration(r, *map, "run", "lease", &run->lease_s));
  // Renewed every third of it: under a second, a heartbeat would be a busy loop.
  if (run->lease_s < 1) {
    return r.Fail(*NodeReader::Find(*map, "lease"), "run.lease",
                  fmt::format("must be at least 1s, got {}s", run->lease_s));
  }
  NS_RETURN_IF_ERROR(r.ReadBool(*map, "run", "allow_input_change", &run->allow_input_change));
  return ReadThreads(r, *map, output, run);
}

}  // namespace nightshift::spec
