#include "plan/planner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "io/postgres/pg_conn.h"
#include "nightshift/digest.h"

namespace nightshift::plan {

namespace {

std::string Numbers(const std::vector<double>& v) {
  return fmt::format("{}", fmt::join(v, ","));
}

// What the `preprocess:` steps compute, one "kind(key=value,...)" per step:
// a change to any of them changes the model's input.
std::string PreprocessSteps(const InputSpec& in) {
  std::vector<std::string> steps;
  for (const TokenizeSpec& t : in.tokenize) {
    steps.push_back(fmt::format("tokenize(column={},tokenizer={},max_length={},into={})", t.column,
                                t.tokenizer, t.max_length, t.into));
  }
  for (const PdfPagesSpec& p : in.pdf_pages) {
    steps.push_back(fmt::format("pdf_pages(column={},into={},dpi={})", p.column, p.into, p.dpi));
  }
  for (const CropSpec& c : in.crops) {
    steps.push_back(fmt::format("crop(image={},boxes={},into={},height={})", c.image, c.boxes,
                                c.into, c.height));
  }
  for (const ImageSpec& i : in.images) {
    steps.push_back(fmt::format(
        "image(column={},into={},size={}x{},resize={},mean={},std={},layout={},color={},"
        "max_pixels={},reducing_gap={})",
        i.column, i.into, i.height, i.width, i.resize, Numbers(i.mean), Numbers(i.std), i.layout,
        i.color, i.max_pixels, i.reducing_gap));
  }
  return fmt::format("{}", fmt::join(steps, "; "));
}

// What the `postprocess:` steps make of the model's outputs.
std::string PostprocessSteps(const ModelSpec& model) {
  std::vector<std::string> steps;
  for (const TopKSpec& t : model.top_k) {
    steps.push_back(fmt::format("top_k(output={},k={},into={},{},labels={})", t.output, t.k,
                                t.ids_column, t.scores_column, t.labels));
  }
  for (const TextBoxesSpec& t : model.text_boxes) {
    steps.push_back(
        fmt::format("text_boxes(output={},threshold={},box_threshold={},unclip={},into={})",
                    t.output, t.threshold, t.box_threshold, t.unclip, t.into));
  }
  for (const CtcDecodeSpec& c : model.ctc_decode) {
    steps.push_back(fmt::format("ctc_decode(output={},alphabet={},into={},blank={})", c.output,
                                c.alphabet, c.into, c.blank));
  }
  return fmt::format("{}", fmt::join(steps, "; "));
}

}  // namespace

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
  std::vector<std::pair<std::string, std::string>> def = {
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
  // The keys below only where a job has them, so that other jobs keep their
  // run ids. URLs as the server and database, never the password (this is
  // recorded in the ledger).
  if (job.input.format == InputFormat::kPostgres) {
    def.emplace_back("input.url", io::pg::Describe(job.input.url));
  }
  if (IsDatabase(job.output.format)) {
    def.emplace_back("output.mode", std::string(OutputModeName(job.output.mode)));
    def.emplace_back("output.table", job.output.table);
    const bool server = job.output.format == OutputFormat::kPostgres;
    def.emplace_back("output.url", server ? io::pg::Describe(job.output.url) : job.output.url);
  }
  if (std::string steps = PreprocessSteps(job.input); !steps.empty()) {
    def.emplace_back("preprocess", std::move(steps));
  }
  if (std::string steps = PostprocessSteps(job.model); !steps.empty()) {
    def.emplace_back("postprocess", std::move(steps));
  }
  std::sort(def.begin(), def.end());
  return def;
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

namespace {

// Consecutive small files waiting to become one shard.
struct Pack {
  int32_t first = -1;  // -1: no file yet
  int32_t last = -1;
  int32_t files = 0;  // files with rows
  int64_t rows = 0;
};

void ClosePack(Pack* pack, int64_t* next_id, std::vector<ShardRecord>* shards) {
  if (pack->files == 0) {
    *pack = Pack{};
    return;
  }
  ShardRecord s;
  s.shard_id = (*next_id)++;
  s.file_index = pack->first;
  s.row_begin = 0;
  s.row_end = pack->rows;
  // One file is an ordinary shard of it; several are a packed shard.
  if (pack->files > 1) s.file_last = pack->last;
  shards->push_back(s);
  *pack = Pack{};
}

}  // namespace

namespace {

// A postgres input: one shard per key range (Source::PlanKeyRanges); row
// numbers only estimate (the rows each range held when planned).
Result<Plan> PlanKeyRanges(const JobSpec& job, Source* source) {
  Plan plan;
  NS_ASSIGN_OR_RETURN(std::vector<KeyRange> ranges, source->PlanKeyRanges(job.run.shard_rows));
  for (const KeyRange& r : ranges) {
    ShardRecord s;
    s.shard_id = static_cast<int64_t>(plan.shards.size());
    s.row_begin = plan.total_rows;
    s.row_end = plan.total_rows + r.rows;
    s.key_after = r.after;
    s.key_upto = r.upto;
    plan.shards.push_back(s);
    plan.total_rows += r.rows;
  }
  InputFileRecord rec;
  rec.rows = plan.total_rows;
  plan.files.push_back(rec);
  return plan;
}

}  // namespace

Result<Plan> MakePlan(const JobSpec& job, Source* source) {
  if (job.input.format == InputFormat::kPostgres) return PlanKeyRanges(job, source);
  Plan plan;
  int64_t next_id = 0;
  // Files smaller than a shard are packed, whole and in order, into shards of
  // up to shard_rows rows: a folder of many tiny files makes a few part files,
  // not one per input file.
  Pack pack;
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
    if (rows == 0) continue;  // nothing to read: no shard (a pack may span it)
    if (rows < job.run.shard_rows) {
      if (pack.rows + rows > job.run.shard_rows) ClosePack(&pack, &next_id, &plan.shards);
      if (pack.first < 0) pack.first = f.index;
      pack.last = f.index;
      pack.files++;
      pack.rows += rows;
      continue;
    }
    ClosePack(&pack, &next_id, &plan.shards);
    for (auto [b, e] : CutFile(groups, job.run.shard_rows)) {
      ShardRecord s;
      s.shard_id = next_id++;
      s.file_index = f.index;
      s.row_begin = b;
      s.row_end = e;
      plan.shards.push_back(s);
    }
  }
  ClosePack(&pack, &next_id, &plan.shards);
  return plan;
}

}  // namespace nightshift::plan
