#include "plan/planner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "nightshift/digest.h"

namespace nightshift::plan {

std::vector<std::pair<std::string, std::string>> JobDefinition(const JobSpec& job) {
  auto joined = [](const std::vector<std::string>& v) {
    return fmt::format("{}", fmt::join(v, ","));
  };
  std::string inputs, outputs;
  for (const auto& in : job.model.inputs) {
    inputs += fmt::format("{}{}:{}({})", inputs.empty() ? "" : " ", in.name, DTypeName(in.dtype),
                          joined(in.columns));
  }
  for (const auto& out : job.model.outputs) {
    outputs += fmt::format("{}{}:{}({})", outputs.empty() ? "" : " ", out.name, out.column,
                           joined(out.columns));
  }
  // Sorted by key, as the ledger returns them.
  return {
      {"input.format", std::string(InputFormatName(job.input.format))},
      {"input.key", joined(job.input.key)},
      {"input.path", job.input.path},
      {"input.query", job.input.query},
      {"model.backend", job.model.backend},
      {"model.inputs", inputs},
      {"model.outputs", outputs},
      {"model.path", job.model.path},
      {"name", job.name},
      {"output.format", std::string(OutputFormatName(job.output.format))},
      {"output.keep", joined(job.output.keep)},
      {"output.path", job.output.path},
      {"run.shard_rows", std::to_string(job.run.shard_rows)},
  };
}

std::string Fingerprint(const JobSpec& job, const std::vector<InputFile>& files) {
  Sha256 h;
  auto add = [&h](std::string_view tag, std::string_view value) {
    h.Update(tag);
    h.Update("=");
    h.Update(std::to_string(value.size()));
    h.Update(":");
    h.Update(value);
    h.Update(";");
  };
  for (const auto& [key, value] : JobDefinition(job)) add(key, value);
  for (const auto& f : files) {
    add("file", f.path);
    add("size", std::to_string(f.size));
    add("mtime", std::to_string(f.mtime_ns));
  }
  return h.HexDigest();
}

std::string DeriveRunId(const JobSpec& job, const std::string& fingerprint) {
  return job.name + "-" + fingerprint.substr(0, 12);
}

std::vector<std::pair<int64_t, int64_t>> CutFile(const std::vector<int64_t>& row_groups,
                                                 int64_t shard_rows) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t begin = 0;  // start of the shard being built
  int64_t pos = 0;    // start of the current row group
  for (int64_t g : row_groups) {
    if (g <= 0) continue;
    if (g >= shard_rows) {
      if (pos > begin) out.emplace_back(begin, pos);
      for (int64_t r = pos; r < pos + g; r += shard_rows)
        out.emplace_back(r, std::min(r + shard_rows, pos + g));
      pos += g;
      begin = pos;
      continue;
    }
    // Close the current shard before a group that would make it too large.
    if (pos > begin && (pos - begin) + g > shard_rows + shard_rows / 2) {
      out.emplace_back(begin, pos);
      begin = pos;
    }
    pos += g;
    if (pos - begin >= shard_rows) {
      out.emplace_back(begin, pos);
      begin = pos;
    }
  }
  if (pos > begin) out.emplace_back(begin, pos);
  return out;
}

Result<Plan> MakePlan(const JobSpec& job, Source* source) {
  Plan plan;
  int64_t next_id = 0;
  for (const auto& f : source->files()) {
    NS_ASSIGN_OR_RETURN(std::vector<int64_t> groups, source->RowGroups(f.index));
    int64_t rows = 0;
    for (int64_t g : groups) rows += g;
    InputFileRecord rec;
    rec.index = f.index;
    rec.path = f.path;
    rec.size = f.size;
    rec.mtime_ns = f.mtime_ns;
    rec.rows = rows;
    plan.files.push_back(rec);
    plan.total_rows += rows;
    for (auto [b, e] : CutFile(groups, job.run.shard_rows)) {
      ShardRecord s;
      s.shard_id = next_id++;
      s.file_index = f.index;
      s.row_begin = b;
      s.row_end = e;
      plan.shards.push_back(s);
    }
  }
  return plan;
}

}  // namespace nightshift::plan
