#include "plan/planner.h"

#include <fmt/format.h>

#include "nightshift/digest.h"

namespace nightshift::plan {

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
  add("name", job.name);
  add("input.path", job.input.path);
  add("input.query", job.input.query);
  add("input.format", InputFormatName(job.input.format));
  for (const auto& k : job.input.key) add("input.key", k);
  add("model.backend", job.model.backend);
  add("model.path", job.model.path);
  for (const auto& in : job.model.inputs) {
    add("model.input", in.name);
    add("dtype", DTypeName(in.dtype));
    for (const auto& c : in.columns) add("column", c);
  }
  for (const auto& out : job.model.outputs) {
    add("model.output", out.name);
    add("column", out.column);
    for (const auto& c : out.columns) add("columns", c);
  }
  add("output.path", job.output.path);
  add("output.format", OutputFormatName(job.output.format));
  for (const auto& k : job.output.keep) add("output.keep", k);
  add("run.shard_rows", std::to_string(job.run.shard_rows));
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
  // A shard of fewer than a quarter of shard_rows (the rest of a split row
  // group, the last groups of a file) costs a part file and a commit for
  // little work: it joins the shard before it, which ends where it begins.
  const int64_t smallest = shard_rows / 4;
  auto close = [&](int64_t b, int64_t e) {
    if (e - b < smallest && !out.empty() && out.back().second == b) {
      out.back().second = e;
    } else {
      out.emplace_back(b, e);
    }
  };
  int64_t begin = 0;  // start of the shard being built
  int64_t pos = 0;    // start of the current row group
  for (int64_t g : row_groups) {
    if (g <= 0) continue;
    if (g >= shard_rows) {
      if (pos > begin) close(begin, pos);
      for (int64_t r = pos; r < pos + g; r += shard_rows)
        close(r, std::min(r + shard_rows, pos + g));
      pos += g;
      begin = pos;
      continue;
    }
    // Close the current shard before a group that would make it too large.
    if (pos > begin && (pos - begin) + g > shard_rows + shard_rows / 2) {
      close(begin, pos);
      begin = pos;
    }
    pos += g;
    if (pos - begin >= shard_rows) {
      close(begin, pos);
      begin = pos;
    }
  }
  if (pos > begin) close(begin, pos);
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
