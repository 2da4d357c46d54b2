#include "spec/database_output.h"

#include <fmt/format.h>

#include <filesystem>

namespace nightshift::spec {
namespace {

std::optional<OutputFormat> DatabaseFormat(const std::string& name) {
  if (name == "postgres") return OutputFormat::kPostgres;
  if (name == "sqlite") return OutputFormat::kSqlite;
  if (name == "duckdb") return OutputFormat::kDuckdb;
  return std::nullopt;
}

// "name" or "schema.name", each part a plain identifier: the name is quoted
// into SQL, but a dot inside a name would make "schema.table" ambiguous.
bool ValidTableName(const std::string& table) {
  if (table.empty() || table.front() == '.' || table.back() == '.') return false;
  int dots = 0;
  for (char c : table) {
    if (c == '.') {
      ++dots;
    } else if (c == '"' || c == '\0') {
      return false;
    }
  }
  return dots <= 1 && table.find("..") == std::string::npos;
}

}  // namespace

Result<bool> ReadDatabaseOutput(const NodeReader& r, const YAML::Node& map, OutputSpec* output) {
  std::optional<YAML::Node> format = NodeReader::Find(map, "format");
  std::optional<OutputFormat> db;
  if (format && format->IsScalar()) db = DatabaseFormat(format->Scalar());
  if (!db) {
    for (std::string_view key : {"url", "table", "mode"}) {
      if (std::optional<YAML::Node> n = NodeReader::Find(map, key)) {
        return Error(r.Fail(*n, JoinKey("output", key),
                            "only database output (format: postgres, sqlite or duckdb) has it"));
      }
    }
    return false;
  }
  output->format = *db;
  if (std::optional<YAML::Node> path = NodeReader::Find(map, "path")) {
    return Error(r.Fail(*path, "output.path",
                        "database output writes to output.url and output.table, not a folder"));
  }
  NS_ASSIGN_OR_RETURN(YAML::Node url, r.Require(map, "output", "url"));
  NS_ASSIGN_OR_RETURN(output->url, r.String(url, "output.url"));
  if (output->url.empty()) return Error(r.Fail(url, "output.url", "must not be empty"));
  NS_ASSIGN_OR_RETURN(YAML::Node table, r.Require(map, "output", "table"));
  NS_ASSIGN_OR_RETURN(output->table, r.String(table, "output.table"));
  if (!ValidTableName(output->table)) {
    return Error(r.Fail(table, "output.table",
                        fmt::format("'{}' is not a table name (expected 'table' or 'schema.table')",
                                    output->table)));
  }
  if (std::optional<YAML::Node> mode = NodeReader::Find(map, "mode")) {
    static constexpr std::string_view kModes[] = {"insert", "upsert", "swap"};
    NS_ASSIGN_OR_RETURN(std::string m, r.Choice(*mode, "output.mode", kModes));
    output->mode = m == "insert" ? OutputMode::kInsert
                   : m == "swap" ? OutputMode::kSwap
                                 : OutputMode::kUpsert;
  }
  return true;
}

Status ResolveDatabaseOutput(const std::string& job_dir, OutputSpec* output, ErrorsSpec* errors) {
  namespace fs = std::filesystem;
  if (output->format != OutputFormat::kPostgres && !fs::path(output->url).is_absolute()) {
    output->url = (fs::path(job_dir) / output->url).lexically_normal().string();
  }
  if (output->overwrite) {
    return Status(
        Code::kInvalidJob,
        "output.overwrite is for output folders; to replace a table use output.mode: swap");
  }
  if (errors->dead_letter == ErrorsSpec{}.dead_letter) {
    errors->dead_letter = (fs::path(job_dir) / "failed" / "{run_id}").string();
  } else if (errors->dead_letter.find("{output}") != std::string::npos) {
    return Status(
        Code::kInvalidJob,
        "errors.dead_letter: {output} has no meaning for database output (write a folder, "
        "e.g. failed/{run_id}, relative to the job file)");
  }
  return Status::Ok();
}

}  // namespace nightshift::spec
