// ParseJobFile / ParseJobText: YAML text -> overrides -> validated JobSpec.
//
// The tree is validated against the schema (job_schema.h) by the section
// readers (job_sections.cc); relative paths are resolved against the job
// file's folder last. yaml-cpp throws: every call into it from this module is
// below the try in ParseJobText, so no exception leaves the module.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/pg_location.h"
#include "spec/database_output.h"
#include "spec/document_loader.h"
#include "spec/env_vars.h"
#include "spec/job_sections.h"
#include "spec/key_sites.h"
#include "spec/node_reader.h"
#include "spec/overrides.h"
#include "spec/postprocess_section.h"
#include "spec/preprocess_section.h"
#include "spec/schedule_section.h"

namespace nightshift {
namespace {

namespace fs = std::filesystem;

// Job files are small; anything larger is a mistake (a data file passed as the job).
constexpr size_t kMaxJobFileBytes = 4 << 20;

bool IsUrl(std::string_view path) {
  return path.find("://") != std::string_view::npos;
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).lexically_normal().string();
}

// A deep copy of `node` with ${VAR} substituted in scalars and mapping keys
// sorted: the canonical form behind JobSpec::text. `depth` guards against
// alias cycles (`&a [*a]`) although validation already rejects them.
Result<YAML::Node> Canonical(const YAML::Node& node, int depth) {
  if (depth > 32) return Error(Code::kInvalidJob, "the job file nests too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      NS_ASSIGN_OR_RETURN(std::string value, spec::SubstituteEnvVars(node.Scalar()));
      return YAML::Node(value);
    }
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const YAML::Node& item : node) {
        NS_ASSIGN_OR_RETURN(YAML::Node copy, Canonical(item, depth + 1));
        out.push_back(copy);
      }
      return out;
    }
    case YAML::NodeType::Map: {
      // Sort indices, not the nodes: yaml-cpp's Node::operator= writes
      // through to the tree, so std::sort on Nodes would scramble it.
      std::vector<std::string> keys;
      std::vector<YAML::Node> values;
      for (const auto& entry : node) {
        keys.push_back(entry.first.Scalar());
        values.push_back(entry.second);
      }
      std::vector<size_t> order(keys.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return keys[a] < keys[b]; });
      YAML::Node out(YAML::NodeType::Map);
      for (size_t i : order) {
        NS_ASSIGN_OR_RETURN(YAML::Node copy, Canonical(values[i], depth + 1));
        out[keys[i]] = copy;
      }
      return out;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: break;
  }
  return YAML::Node(YAML::NodeType::Null);
}

// Every section of the validated tree into `job`.
Status ReadSections(const spec::NodeReader& r, const YAML::Node& root, JobSpec* job) {
  NS_RETURN_IF_ERROR(spec::ReadName(r, root, &job->name));
  NS_RETURN_IF_ERROR(spec::ReadInput(r, root, &job->input));
  NS_RETURN_IF_ERROR(spec::ReadModel(r, root, &job->model));
  NS_RETURN_IF_ERROR(spec::ReadBatch(r, root, &job->batch));
  NS_RETURN_IF_ERROR(spec::ReadOutput(r, root, &job->output));
  NS_RETURN_IF_ERROR(spec::ReadErrors(r, root, &job->errors));
  NS_RETURN_IF_ERROR(spec::ReadRun(r, root, job->output.format, &job->run));
  NS_RETURN_IF_ERROR(spec::ReadSchedule(r, root, &job->schedule));
  NS_RETURN_IF_ERROR(spec::ReadTrigger(r, root, &job->trigger));
  NS_RETURN_IF_ERROR(spec::ReadPreprocess(r, root, &job->input.tokenize, &job->input.images,
                                          &job->input.crops, &job->input.pdf_pages));
  return spec::ReadPostprocess(r, root, &job->model);
}

// Sets job_file and job_dir, and resolves every relative path of the job
// against job_dir (wherever nightshift is started from).
Status ResolvePaths(const std::string& file, JobSpec* job) {
  std::error_code ec;
  fs::path absolute = fs::absolute(file, ec);
  if (ec) {
    return Status(Code::kInvalidJob,
                  fmt::format("{}: cannot make the path absolute: {}", file, ec.message()));
  }
  absolute = absolute.lexically_normal();
  job->job_file = absolute.string();
  job->job_dir = absolute.parent_path().string();
  const std::string& dir = job->job_dir;

  if (!IsUrl(job->input.path)) job->input.path = Resolve(dir, job->input.path);
  // A postgres query runs on the server: no local paths in it.
  if (!job->input.query.empty() && job->input.format != InputFormat::kPostgres)
    job->input.query_dir = dir;
  job->model.path = Resolve(dir, job->model.path);
  for (auto& t : job->input.tokenize) t.tokenizer = Resolve(dir, t.tokenizer);
  for (auto& t : job->model.top_k) {
    if (!t.labels.empty()) t.labels = Resolve(dir, t.labels);
  }
  for (auto& c : job->model.ctc_decode) c.alphabet = Resolve(dir, c.alphabet);
  if (job->trigger) job->trigger->watch = Resolve(dir, job->trigger->watch);
  if (IsDatabase(job->output.format)) {
    NS_RETURN_IF_ERROR(spec::ResolveDatabaseOutput(dir, &job->output, &job->errors));
  } else {
    job->output.path = Resolve(dir, job->output.path);
  }
  if (!job->errors.dead_letter.starts_with("{output}")) {
    job->errors.dead_letter = Resolve(dir, job->errors.dead_letter);
  }
  if (job->run.ledger.empty()) job->run.ledger = ".nightshift/ledger.db";
  if (!IsPostgresLocation(job->run.ledger)) {
    job->run.ledger = Resolve(dir, job->run.ledger);
  }
  return Status::Ok();
}

// JobSpec::text: the canonical form of the tree (Canonical), emitted.
Result<std::string> CanonicalText(const YAML::Node& root, const std::string& file) {
  NS_ASSIGN_OR_RETURN(YAML::Node canonical, Canonical(root, 0));
  YAML::Emitter emitter;
  emitter << canonical;
  if (!emitter.good()) {
    return Error(Code::kInternal,
                 fmt::format("{}: cannot emit the job: {}", file, emitter.GetLastError()));
  }
  return std::string(emitter.c_str()) + "\n";
}

Result<JobSpec> Parse(const std::string& text, const std::string& file,
                      const std::vector<Override>& overrides) {
  NS_ASSIGN_OR_RETURN(YAML::Node root, spec::LoadJobDocument(text, file));
  NS_ASSIGN_OR_RETURN(std::vector<spec::OverrideSite> sites,
                      spec::ApplyOverrides(root, overrides, file));
  const spec::NodeReader r(file, sites);
  NS_RETURN_IF_ERROR(r.CheckMap(root, "", spec::JobSchema()));

  JobSpec job;
  NS_RETURN_IF_ERROR(ReadSections(r, root, &job));
  // Only now: the tree passed the schema, so it is finite (no alias cycles).
  job.key_sites = spec::KeySites(root, file, sites);
  NS_RETURN_IF_ERROR(ResolvePaths(file, &job));
  NS_ASSIGN_OR_RETURN(job.text, CanonicalText(root, file));
  return job;
}

}  // namespace

std::string_view InputFormatName(InputFormat f) {
  switch (f) {
    case InputFormat::kAuto: return "auto";
    case InputFormat::kParquet: return "parquet";
    case InputFormat::kCsv: return "csv";
    case InputFormat::kJsonl: return "jsonl";
    case InputFormat::kPostgres: return "postgres";
  }
  return "auto";
}

std::string_view OutputFormatName(OutputFormat f) {
  switch (f) {
    case OutputFormat::kParquet: return "parquet";
    case OutputFormat::kCsv: return "csv";
    case OutputFormat::kJsonl: return "jsonl";
    case OutputFormat::kPostgres: return "postgres";
    case OutputFormat::kSqlite: return "sqlite";
    case OutputFormat::kDuckdb: return "duckdb";
  }
  return "parquet";
}

std::string_view OutputModeName(OutputMode m) {
  switch (m) {
    case OutputMode::kInsert: return "insert";
    case OutputMode::kUpsert: return "upsert";
    case OutputMode::kSwap: return "swap";
  }
  return "upsert";
}

Result<JobSpec> ParseJobText(const std::string& text, const std::string& path,
                             const std::vector<Override>& overrides) {
  try {
    return Parse(text, path, overrides);
  } catch (const YAML::Exception& e) {
    // Backstop: the readers check node kinds before use, so this means a bug
    // here, but the user still gets a located message rather than a crash.
    if (e.mark.is_null()) return Error(Code::kInvalidJob, fmt::format("{}: {}", path, e.msg));
    return Error(Code::kInvalidJob,
                 fmt::format("{}:{}:{}: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg));
  } catch (const std::exception& e) {
    return Error(Code::kInvalidJob, fmt::format("{}: {}", path, e.what()));
  }
}

Result<JobSpec> ParseJobFile(const std::string& path, const std::vector<Override>& overrides) {
  Result<std::string> text = Env::Default()->ReadFile(path);
  if (!text) {
    if (text.error().code() == Code::kNotFound) {
      return Error(Code::kNotFound, fmt::format("job file '{}' not found", path));
    }
    return Error(Code::kInvalidJob,
                 fmt::format("cannot read job file '{}': {}", path, text.error().message()));
  }
  if (text->size() > kMaxJobFileBytes) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}: {} bytes is too large for a job file (at most {})", path,
                             text->size(), kMaxJobFileBytes));
  }
  return ParseJobText(*text, path, overrides);
}

std::string ExpandOutputPath(const std::string& pattern, const JobSpec& job,
                             const std::string& run_id, const std::string& date) {
  const std::pair<std::string_view, std::string_view> substitutions[] = {
      {"{run_id}", run_id}, {"{name}", job.name}, {"{date}", date}};
  std::string out;
  out.reserve(pattern.size() + run_id.size());
  size_t i = 0;
  while (i < pattern.size()) {
    bool replaced = false;
    if (pattern[i] == '{') {
      for (const auto& [placeholder, value] : substitutions) {
        if (std::string_view(pattern).substr(i, placeholder.size()) == placeholder) {
          out += value;
          i += placeholder.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += pattern[i++];
  }
  return out;
}

}  // namespace nightshift
