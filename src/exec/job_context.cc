#include "exec/job_context.h"

#include <fmt/format.h>

#include <algorithm>

#include "exec/ahead.h"
#include "exec/crop_binding.h"
#include "exec/image_binding.h"
#include "exec/output_folders.h"
#include "exec/pdf_binding.h"
#include "nightshift/digest.h"
#include "nightshift/env.h"
#include "plan/planner.h"

namespace nightshift::exec {

std::string DescribeInput(const JobSpec& job, const Source& source, int32_t file_index) {
  if (!job.input.query.empty()) return "input.query";
  return fmt::format("input file '{}'", source.files()[static_cast<size_t>(file_index)].path);
}

Status AcceptMostlyNumericText(const JobSpec& job, Source* source, int32_t file_index,
                               std::vector<InputColumn>* columns) {
  for (const auto& in : job.model.inputs) {
    for (const auto& name : in.columns) {
      for (auto& c : *columns) {
        if (c.name != name || c.numeric || c.numeric_list) continue;
        if (c.sql_type != "VARCHAR" && c.sql_type != "JSON") continue;
        NS_ASSIGN_OR_RETURN(double frac, source->ParsableFraction(file_index, name, in.dtype));
        if (frac >= 0.5) c.numeric = true;
      }
    }
  }
  return Status::Ok();
}

Result<std::string> ModelSha256(const JobSpec& job, JobContext& ctx) {
  if (ctx.model_file.sha256.empty()) {
    auto sha = Sha256File(ctx.env, job.model.path);
    if (!sha.has_value()) {
      return Error(Code::kModelError,
                   fmt::format("model.path '{}': {}", job.model.path, sha.error().message()));
    }
    ctx.model_file.sha256 = std::move(*sha);
  }
  return ctx.model_file.sha256;
}

// Reads each top_k step's labels file; fewer labels than k, or than the
// scored output's values where the model says how many, is an error before
// any row is read.
Status LoadTopKLabels(const JobSpec& job, Env* env, Binding* binding) {
  for (size_t i = 0; i < job.model.top_k.size(); ++i) {
    const TopKSpec& t = job.model.top_k[i];
    if (t.labels.empty()) continue;
    TopKStep& step = binding->top_k[i];
    NS_ASSIGN_OR_RETURN(Labels labels, ReadLabels(env, t.labels, step.where));
    if (static_cast<int64_t>(labels.size()) < step.k) {
      return Status(Code::kInvalidJob, fmt::format("{}.labels '{}' has {} ids, fewer than k = {}",
                                                   step.where, t.labels, labels.size(), step.k));
    }
    if (step.width >= 0 && static_cast<int64_t>(labels.size()) < step.width) {
      return Status(Code::kInvalidJob,
                    fmt::format("{}.labels '{}' has {} ids, fewer than the {} values per row of "
                                "output '{}': each value's index needs a label",
                                step.where, t.labels, labels.size(), step.width, t.output));
    }
    step.labels = std::move(labels.ids);
    step.text_labels = labels.text;
    for (auto& c : binding->sink.outputs) {  // text ids: the ids column writes their text
      if (c.name == t.ids_column) c.labels = labels.text;
    }
  }
  return Status::Ok();
}

namespace {

// Stats the model file (once per run: ctx.model_file) and checks
// model.sha256 when the job pins one.
Status StatModel(const JobSpec& job, Env* env, JobContext& ctx) {
  auto info = env->Stat(job.model.path);
  if (!info.has_value() && info.error().code() == Code::kNotFound) {
    return Status(Code::kNotFound, fmt::format("model.path '{}' does not exist", job.model.path));
  }
  if (!info.has_value()) {
    return Status(Code::kModelError,
                  fmt::format("model.path '{}': {}", job.model.path, info.error().message()));
  }
  ctx.model_file.info = *info;
  if (job.model.sha256.has_value()) {
    NS_ASSIGN_OR_RETURN(std::string sha, ModelSha256(job, ctx));
    if (sha != *job.model.sha256) {
      return Status(Code::kModelError,
                    fmt::format("model '{}' has sha256 {} but model.sha256 pins {}", job.model.path,
                                sha, *job.model.sha256));
    }
  }
  return Status::Ok();
}

// What the backend loads the model with.
ModelConfig ModelConfigFor(const JobSpec& job, const std::vector<InputColumn>& columns, Env* env) {
  ModelConfig mc;
  mc.path = job.model.path;
  mc.device = job.model.device;
  mc.threads = job.model.threads;
  mc.output_names = ModelOutputNames(job);
  for (const auto& i : job.model.inputs) mc.input_names.push_back(i.name);
  mc.precision = job.model.precision;
  mc.env = env;
  // What the job says about each input, for backends whose model files do not
  // declare their inputs (TorchScript): dtype, and [batch, n] when every
  // column is a scalar.
  for (const auto& in : job.model.inputs) {
    TensorSpec hint;
    hint.name = in.name;
    hint.dtype = in.dtype;
    bool scalars = in.mask_of.empty();
    for (const auto& name : in.columns) {
      auto it = std::find_if(columns.begin(), columns.end(),
                             [&](const InputColumn& c) { return c.name == name; });
      scalars = scalars && it != columns.end() && !it->numeric_list;
    }
    if (scalars) hint.shape = {-1, static_cast<int64_t>(in.columns.size())};
    mc.input_hints.push_back(std::move(hint));
  }
  return mc;
}

}  // namespace

Result<JobContext> PrepareJob(const JobSpec& job, Env* env) {
  JobContext ctx;
  ctx.env = env;
  // The model's runtime starts (tens of milliseconds for ONNX Runtime, more to
  // load a TorchScript or XGBoost module) while the input is opened and
  // described; its errors are reported after the input's, as before. The
  // future joins the thread on every return.
  RegisterBuiltinBackends();
  auto backend = Ahead([name = job.model.backend] { return CreateBackend(name); });
  NS_ASSIGN_OR_RETURN(ctx.source, OpenSource(job.input, 1, env));
  NS_RETURN_IF_ERROR(CheckOutputOutsideInput(
      job, plan::DeriveRunId(job, plan::Fingerprint(job, ctx.source->files())), env));
  auto cols = ctx.source->Describe(0);
  if (!cols.has_value()) {
    Status s = cols.error();
    // DuckDB's reasons for a file it cannot parse are I/O errors to it, but
    // bad input to the user.
    return Error(s.code() == Code::kInternal ? s : Status(Code::kInvalidData, s.message()));
  }
  ctx.columns = std::move(*cols);
  NS_RETURN_IF_ERROR(AcceptMostlyNumericText(job, ctx.source.get(), 0, &ctx.columns));
  NS_RETURN_IF_ERROR(StatModel(job, env, ctx));
  NS_ASSIGN_OR_RETURN(ctx.backend, backend.get());
  NS_ASSIGN_OR_RETURN(ctx.model, ctx.backend->LoadModel(ModelConfigFor(job, ctx.columns, env)));
  NS_ASSIGN_OR_RETURN(ctx.binding,
                      Bind(job, ctx.columns, DescribeInput(job, *ctx.source, 0), *ctx.model));
  NS_RETURN_IF_ERROR(LoadTopKLabels(job, env, &ctx.binding));
  AttachImageFillers(job, ctx.columns, env, &ctx.binding.read);
  AttachPdfFillers(job, ctx.columns, env, &ctx.binding.read);
  AttachCropFillers(job, ctx.columns, env, &ctx.binding.read);
  NS_RETURN_IF_ERROR(LoadAlphabets(job, env, &ctx.binding.ocr));
  return ctx;
}

namespace {

// The type of carried (key or kept) column `name` in `columns`, or "" when
// the file lacks it (the binder reports that).
std::string CarriedType(const std::vector<InputColumn>& columns, const std::string& name) {
  for (const auto& c : columns) {
    if (c.name == name) return c.sql_type;
  }
  return "";
}

// Folds file `file`'s carried column types into `common` (each column's
// supertype so far and the file that last widened it): SchemaMismatch naming
// both files and both types where a column's types have no common type.
Status FoldCarriedTypes(const JobSpec& job, JobContext& ctx, int32_t file,
                        const std::vector<InputColumn>& columns,
                        std::vector<std::pair<std::string, int32_t>>* common) {
  const auto& carried = ctx.binding.read.carried;
  for (size_t i = 0; i < carried.size(); ++i) {
    std::string type = CarriedType(columns, carried[i]);
    auto& [so_far, from] = (*common)[i];
    if (type.empty() || type == so_far) continue;
    if (so_far.empty()) {
      common->at(i) = {type, file};
      continue;
    }
    auto t = ctx.source->CommonType(so_far, type);
    if (!t.has_value()) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("column '{}' is {} in {} but {} in {}: the types have no common "
                                "type to write them as one column",
                                carried[i], so_far, DescribeInput(job, *ctx.source, from), type,
                                DescribeInput(job, *ctx.source, file)));
    }
    if (*t != so_far) common->at(i) = {*t, file};
  }
  return Status::Ok();
}

}  // namespace

Status CheckAllFiles(const JobSpec& job, JobContext& ctx) {
  std::vector<std::pair<std::string, int32_t>> common(ctx.binding.read.carried.size());
  NS_RETURN_IF_ERROR(FoldCarriedTypes(job, ctx, 0, ctx.columns, &common));
  for (size_t f = 1; f < ctx.source->files().size(); ++f) {
    const auto file = static_cast<int32_t>(f);
    auto cols = ctx.source->Describe(file);
    if (!cols.has_value()) return Status(Code::kInvalidData, cols.error().message());
    NS_RETURN_IF_ERROR(AcceptMostlyNumericText(job, ctx.source.get(), file, &*cols));
    auto b = Bind(job, *cols, DescribeInput(job, *ctx.source, file), *ctx.model);
    if (!b.has_value()) {
      return Status(b.error().code(),
                    b.error().message() + " (the first file has it: schema drift between files)");
    }
    NS_RETURN_IF_ERROR(FoldCarriedTypes(job, ctx, file, *cols, &common));
  }
  // The same types DuckDB's union_by_name gives (Source::CarriedTypes), known
  // here without reading every file's schema again.
  ctx.carried_types.clear();
  for (const auto& [type, file] : common) ctx.carried_types.push_back(type);
  return Status::Ok();
}

}  // namespace nightshift::exec
