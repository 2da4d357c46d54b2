#include "exec/binder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "exec/crop_binding.h"
#include "exec/image_binding.h"
#include "exec/output_names.h"
#include "exec/pdf_binding.h"
#include "exec/step_input.h"
#include "io/shard_rows.h"
#include "io/sql_types.h"
#include "io/token_columns.h"

namespace nightshift::exec {
namespace {

std::string Names(const std::vector<TensorSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

Status MissingColumn(const std::vector<InputColumn>& cols, const std::string& name,
                     const std::string& role, const std::string& where) {
  std::vector<std::string> names;
  for (const auto& c : cols) names.push_back(c.name);
  return Status(Code::kSchemaMismatch, fmt::format("{} column '{}' is not in {} (columns: {})",
                                                   role, name, where, fmt::join(names, ", ")));
}

// The fixed length of an ARRAY type like "FLOAT[8]", or -1 for a LIST ("FLOAT[]").
int64_t ArrayLength(const std::string& sql_type) {
  auto open = sql_type.rfind('[');
  if (open == std::string::npos || sql_type.back() != ']' || open + 2 > sql_type.size() - 1)
    return -1;
  try {
    return std::stoll(sql_type.substr(open + 1, sql_type.size() - open - 2));
  } catch (...) {
    return -1;
  }
}

// True when `v` converts to `dtype` exactly enough to pad with (no UB).
bool PadFits(double v, DType dtype) {
  auto within = [v](double lo, double hi) {
    return std::isfinite(v) && v >= lo && v <= hi && v == std::trunc(v);
  };
  switch (dtype) {
    case DType::kFloat32: return std::isnan(v) || std::isinf(v) || std::fabs(v) <= 3.4e38;
    case DType::kFloat64: return true;
    case DType::kInt64: return within(-9.2e18, 9.2e18);
    case DType::kInt32: return within(-2147483648.0, 2147483647.0);
    case DType::kInt8: return within(-128, 127);
    case DType::kUInt8: return within(0, 255);
    case DType::kBool: return v == 0 || v == 1;
    default: return std::isfinite(v);
  }
}

// The dtype a model input is fed as: the job's, which must be the model's
// (a mask takes the model's), and one nightshift can produce.
Status CheckInputDType(const ModelInputSpec& in, const TensorSpec& spec) {
  if (in.dtype != spec.dtype && in.mask_of.empty()) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("model.inputs '{}' has dtype {} but the model's input '{}' is {}",
                              in.name, DTypeName(in.dtype), spec.name, DTypeName(spec.dtype)));
  }
  if (in.dtype == DType::kFloat16 || in.dtype == DType::kBFloat16) {
    return Status(
        Code::kSchemaMismatch,
        fmt::format("model input '{}' is {}; nightshift feeds float32, float64, int64, int32, "
                    "int8, uint8 or bool inputs",
                    spec.name, DTypeName(in.dtype)));
  }
  return Status::Ok();
}

// Values per row the input's columns give: `known` from scalars and fixed
// ARRAYs, plus `unknown_lists` LIST columns whose length the type does not say.
struct ColumnWidths {
  int64_t known = 0;
  int unknown_lists = 0;
};

// Finds each column of the input, checks it is numeric and records whether it
// is a list and its width (-1 when unknown).
Result<ColumnWidths> PackColumns(const ModelInputSpec& in, const std::vector<InputColumn>& cols,
                                 const std::string& where, InputPacking* out) {
  ColumnWidths widths;
  for (const auto& name : in.columns) {
    const InputColumn* c = FindColumn(cols, name);
    if (c == nullptr)
      return Error(MissingColumn(cols, name, fmt::format("model input '{}'", in.name), where));
    if (!c->numeric && !c->numeric_list) {
      return Error(Code::kSchemaMismatch,
                   fmt::format("column '{}' in {} has type {}; model input '{}' needs {} values",
                               name, where, c->sql_type, in.name, DTypeName(in.dtype)));
    }
    out->column_is_list.push_back(c->numeric_list);
    int64_t w = c->numeric_list ? ArrayLength(c->sql_type) : 1;
    out->column_widths.push_back(w);
    if (w < 0) {
      ++widths.unknown_lists;
    } else {
      widths.known += w;
    }
  }
  return widths;
}

// The model's non-batch dimensions, whether all are fixed, and their product.
struct RowDims {
  std::vector<int64_t> dims;
  bool fixed = true;
  int64_t width = 1;
};

Result<RowDims> ModelRowDims(const TensorSpec& spec) {
  if (!spec.shape.empty() && spec.shape[0] > 1) {
    return Error(
        Code::kSchemaMismatch,
        fmt::format(
            "model input '{}' has a fixed batch dimension of {} ({}): nightshift needs a dynamic "
            "batch dimension (export the model with a dynamic axis 0)",
            spec.name, spec.shape[0], ShapeText(spec.shape)));
  }
  RowDims r;
  r.dims.assign(spec.shape.begin() + (spec.shape.empty() ? 0 : 1), spec.shape.end());
  r.fixed = std::all_of(r.dims.begin(), r.dims.end(), [](int64_t d) { return d >= 0; });
  for (int64_t d : r.dims) r.width *= d;
  return r;
}

// One LIST column of unknown length beside fixed columns of a fixed-shape
// input takes what the others leave; anything else cannot be told.
Status FillUnknownWidth(const ModelInputSpec& in, const TensorSpec& spec, const RowDims& model,
                        ColumnWidths* widths, InputPacking* out) {
  if (widths->unknown_lists == 0) return Status::Ok();
  if (widths->unknown_lists > 1 || !model.fixed || model.width <= widths->known) {
    return Status(
        Code::kSchemaMismatch,
        fmt::format("cannot tell the length of the list column(s) of model input '{}': give "
                    "the model a static input shape (it has {}) or use fixed-size ARRAY columns",
                    in.name, ShapeText(spec.shape)));
  }
  for (auto& w : out->column_widths) {
    if (w < 0) w = model.width - widths->known;
  }
  widths->known = model.width;
  return Status::Ok();
}

// The shape of one row of the input, checked against what its columns give.
Status SetRowShape(const ModelInputSpec& in, const TensorSpec& spec, const RowDims& model,
                   int64_t known, InputPacking* out) {
  if (model.fixed) {
    if (model.width != known) {
      return Status(
          Code::kSchemaMismatch,
          fmt::format(
              "model input '{}' has shape {} ({} values per row) but its columns [{}] give {}",
              spec.name, ShapeText(spec.shape), model.width, fmt::join(in.columns, ", "), known));
    }
    out->row_shape = model.dims;
  } else if (model.dims.size() == 1) {
    out->row_shape = {known};
  } else {
    return Status(
        Code::kSchemaMismatch,
        fmt::format("model input '{}' has shape {}: nightshift can feed [batch] or [batch, n] "
                    "inputs, or inputs whose other dimensions are all fixed",
                    spec.name, ShapeText(spec.shape)));
  }
  if (spec.shape.size() == 1 && known != 1) {
    return Status(
        Code::kSchemaMismatch,
        fmt::format("model input '{}' has shape {} (one value per row) but its columns give {}",
                    spec.name, ShapeText(spec.shape), known));
  }
  return Status::Ok();
}

Status BindInput(const ModelInputSpec& in, const TensorSpec& spec,
                 const std::vector<InputColumn>& cols, const std::string& where,
                 InputPacking* out) {
  NS_RETURN_IF_ERROR(CheckInputDType(in, spec));
  const bool is_mask = !in.mask_of.empty();
  out->columns = in.columns;
  out->dtype = is_mask ? spec.dtype : in.dtype;
  out->allow_nan = in.allow_nan;
  out->pad_value = in.pad_value;
  if (!PadFits(in.pad_value, out->dtype)) {
    return Status(Code::kInvalidJob,
                  fmt::format("model.inputs '{}' has pad_value {} which is not a {} value", in.name,
                              in.pad_value, DTypeName(out->dtype)));
  }
  out->is_mask = is_mask;
  NS_ASSIGN_OR_RETURN(ColumnWidths widths, PackColumns(in, cols, where, out));
  NS_ASSIGN_OR_RETURN(RowDims model, ModelRowDims(spec));
  if (is_mask && out->column_is_list.size() == 1 && !out->column_is_list[0]) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("model.inputs '{}' is the mask of '{}', which is not a list column",
                              in.name, in.mask_of));
  }
  if (widths.unknown_lists == 1 && in.columns.size() == 1 && !model.fixed &&
      model.dims.size() == 1) {
    // One variable-length list column into a [batch, seq] input: padded per
    // batch to its longest row with pad_value (and masked by a mask_of input).
    out->column_widths = {-1};
    out->row_shape = {-1};
    return Status::Ok();
  }
  NS_RETURN_IF_ERROR(FillUnknownWidth(in, spec, model, &widths, out));
  return SetRowShape(in, spec, model, widths.known, out);
}

// Carried columns: output.keep first, then input.key columns not kept.
Status BindCarried(const JobSpec& job, const std::vector<InputColumn>& cols,
                   const std::string& where, Binding* b) {
  for (const auto& k : job.output.keep) {
    // Written from the batch (BindPdfPages, BindCropFanOut).
    if (MadeByPdfPages(job, k) || MadeByCrop(job, k)) continue;
    if (FindColumn(cols, k) == nullptr) return MissingColumn(cols, k, "output.keep", where);
    b->read.carried.push_back(k);
  }
  for (const auto& k : job.input.key) {
    if (FindColumn(cols, k) == nullptr) return MissingColumn(cols, k, "input.key", where);
    if (std::find(b->read.carried.begin(), b->read.carried.end(), k) == b->read.carried.end()) {
      b->read.carried.push_back(k);
    }
  }
  return Status::Ok();
}

// Inputs: every model input fed exactly once, in the model's order.
Status BindInputs(const JobSpec& job, const std::vector<InputColumn>& cols,
                  const std::string& where, const Model& model, Binding* b) {
  for (const auto& in : job.model.inputs) {
    auto it = std::find_if(model.inputs().begin(), model.inputs().end(),
                           [&](const TensorSpec& s) { return s.name == in.name; });
    if (it == model.inputs().end()) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("model.inputs names '{}' but the model has no such input "
                                "(inputs: {})",
                                in.name, Names(model.inputs())));
    }
  }
  for (const auto& spec : model.inputs()) {
    auto it = std::find_if(job.model.inputs.begin(), job.model.inputs.end(),
                           [&](const ModelInputSpec& m) { return m.name == spec.name; });
    if (it == job.model.inputs.end()) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("the model's input '{}' ({} {}) is not fed: add it to model.inputs",
                                spec.name, DTypeName(spec.dtype), ShapeText(spec.shape)));
    }
    InputPacking p;
    if (const ImageSpec* image = StepFeeding(job.input.images, *it)) {
      const ImageSpec read = ImageStepAsRead(job, *image);
      NS_RETURN_IF_ERROR(
          BindImageInput(read, *it, spec, cols, where, &p,
                         read.column == image->column ? "image step" : "pdf_pages step"));
      b->read.inputs.push_back(std::move(p));
      continue;
    }
    if (const CropSpec* crop = StepFeeding(job.input.crops, *it)) {
      NS_RETURN_IF_ERROR(BindCropInput(*crop, *it, spec, cols, where, &p));
      b->read.inputs.push_back(std::move(p));
      continue;
    }
    NS_RETURN_IF_ERROR(BindInput(*it, spec, cols, where, &p));
    if (p.columns.size() == 1)
      p.null_reason = io::TokenColumnNullReason(job.input.tokenize, p.columns[0]);
    b->read.inputs.push_back(std::move(p));
  }
  return Status::Ok();
}

// Rows per batch, token budget and length-sorting.
Status BindBatching(const JobSpec& job, const Model& model, Binding* b) {
  b->read.batch_rows = job.batch.auto_size() ? 1024 : job.batch.size;
  for (const auto& spec : model.inputs()) {
    if (!spec.shape.empty() && spec.shape[0] == 1)
      b->read.batch_rows = 1;  // a model exported for one row
  }
  b->read.max_tokens = job.batch.max_tokens;
  if (job.batch.sort_by_length.empty()) return Status::Ok();
  bool found = false;
  for (const auto& in : b->read.inputs) {
    for (size_t c = 0; c < in.columns.size(); ++c) {
      if (in.columns[c] == job.batch.sort_by_length && in.column_is_list[c] && !in.is_mask)
        found = true;
    }
  }
  if (!found) {
    return Status(
        Code::kSchemaMismatch,
        fmt::format(
            "batch.sort_by_length names '{}', which is not a list column fed to a model input",
            job.batch.sort_by_length));
  }
  b->read.sort_by_length = job.batch.sort_by_length;
  b->sink.restore_order = true;
  return Status::Ok();
}

// The columns one model output is written as: one list column (`column:`) or
// one column per element of its last dimension (`columns:`).
Status BindOutput(const ModelOutputSpec& out, size_t o, const TensorSpec& spec, Binding* b,
                  std::vector<OutputName>* names) {
  if (!out.column.empty()) {
    b->sink.outputs.push_back({out.column, spec.dtype, true, static_cast<int32_t>(o), 0});
    names->push_back({out.column, fmt::format("model.outputs[{}].column", o)});
    return Status::Ok();
  }
  int64_t last = spec.shape.size() > 1 ? spec.shape.back() : 1;
  if (spec.shape.size() > 2) {
    return Status(
        Code::kSchemaMismatch,
        fmt::format("model output '{}' has shape {}: use `column:` to write it as one list column",
                    spec.name, ShapeText(spec.shape)));
  }
  if (last >= 0 && last != static_cast<int64_t>(out.columns.size())) {
    return Status(
        Code::kSchemaMismatch,
        fmt::format("model output '{}' has shape {} ({} values per row) but model.outputs lists {} "
                    "columns [{}]",
                    spec.name, ShapeText(spec.shape), last, out.columns.size(),
                    fmt::join(out.columns, ", ")));
  }
  for (size_t e = 0; e < out.columns.size(); ++e) {
    b->sink.outputs.push_back(
        {out.columns[e], spec.dtype, false, static_cast<int32_t>(o), static_cast<int64_t>(e)});
    names->push_back({out.columns[e], fmt::format("model.outputs[{}].columns", o)});
  }
  return Status::Ok();
}

// Whether output `name` is written itself or read by a postprocess step
// that runs after top_k (ctc_decode, text_boxes): top_k must not free it.
bool OutputReadAfterTopK(const JobSpec& job, const std::string& name) {
  auto named = [&name](const auto& x) { return x.output == name; };
  return std::any_of(job.model.outputs.begin(), job.model.outputs.end(),
                     [&](const ModelOutputSpec& o) { return o.name == name; }) ||
         std::any_of(job.model.ctc_decode.begin(), job.model.ctc_decode.end(), named) ||
         std::any_of(job.model.text_boxes.begin(), job.model.text_boxes.end(), named);
}

// postprocess top_k steps: each scores a float32 [batch, n] output with
// n >= k (when the model says n), and writes two list columns.
Status BindTopK(const JobSpec& job, const Model& model, Binding* b,
                std::vector<OutputName>* names) {
  const std::vector<std::string> tensors = ModelOutputNames(job);
  for (size_t i = 0; i < job.model.top_k.size(); ++i) {
    const TopKSpec& t = job.model.top_k[i];
    const std::string where = fmt::format("postprocess[{}].top_k", i);
    auto it = std::find_if(model.outputs().begin(), model.outputs().end(),
                           [&](const TensorSpec& s) { return s.name == t.output; });
    if (it == model.outputs().end()) {
      return Status(
          Code::kSchemaMismatch,
          fmt::format("{}.output names '{}' but the model has no such output (outputs: {})", where,
                      t.output, Names(model.outputs())));
    }
    if (it->dtype != DType::kFloat32 || it->shape.size() != 2) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("{}.output '{}' is {} {}; top_k needs a float32 [batch, n] output",
                                where, t.output, DTypeName(it->dtype), ShapeText(it->shape)));
    }
    if (it->shape[1] >= 0 && it->shape[1] < t.k) {
      return Status(Code::kInvalidJob,
                    fmt::format("{}.k is {} but output '{}' has only {} values per row ({})", where,
                                t.k, t.output, it->shape[1], ShapeText(it->shape)));
    }
    TopKStep step;
    step.source =
        static_cast<size_t>(std::find(tensors.begin(), tensors.end(), t.output) - tensors.begin());
    step.out = tensors.size() + 2 * i;
    step.k = t.k;
    step.width = it->shape[1];
    step.where = where;
    step.release_source = !OutputReadAfterTopK(job, t.output);
    b->top_k.push_back(std::move(step));
    const auto out = static_cast<int32_t>(tensors.size() + 2 * i);
    b->sink.outputs.push_back({t.ids_column, DType::kInt64, true, out, 0});
    b->sink.outputs.push_back({t.scores_column, DType::kFloat32, true, out + 1, 0});
    names->push_back({t.ids_column, where + ".into"});
    names->push_back({t.scores_column, where + ".into"});
  }
  return Status::Ok();
}

// Outputs: the sink's columns, with every written name unique.
Status BindOutputs(const JobSpec& job, const Model& model, Binding* b) {
  b->sink.format = job.output.format;
  b->sink.carried = b->read.carried;
  b->sink.keep_count = job.output.keep.size();
  b->sink.key = job.input.key;
  std::vector<OutputName> names;
  for (const auto& k : job.output.keep) names.push_back({k, "output.keep"});
  for (size_t o = 0; o < job.model.outputs.size(); ++o) {
    const ModelOutputSpec& out = job.model.outputs[o];
    auto it = std::find_if(model.outputs().begin(), model.outputs().end(),
                           [&](const TensorSpec& s) { return s.name == out.name; });
    if (it == model.outputs().end()) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("model.outputs names '{}' but the model has no such output "
                                "(outputs: {})",
                                out.name, Names(model.outputs())));
    }
    NS_RETURN_IF_ERROR(BindOutput(out, o, *it, b, &names));
  }
  NS_RETURN_IF_ERROR(BindTopK(job, model, b, &names));
  NS_RETURN_IF_ERROR(BindOcrSteps(job, model,
                                  ModelOutputNames(job).size() + 2 * job.model.top_k.size(),
                                  &b->ocr, &b->sink, &names));
  return CheckOutputNames(names);
}

// Whether output.keep entry `name` is a column of bytes: made (pdf_pages'
// rendered page, an output column of the batch) or read (a BLOB input column).
bool KeptBytes(const std::string& name, const std::vector<InputColumn>& cols, const Binding& b) {
  for (const auto& o : b.sink.outputs) {
    if (o.name == name) return io::IsBytesType(io::OutputSqlType(o));
  }
  const InputColumn* c = FindColumn(cols, name);
  return c != nullptr && io::IsBytesType(c->sql_type);
}

// CSV and JSONL have no type for bytes: DuckDB would write them as escaped
// text (\x89PNG...), which nothing reads back as the bytes. Every kept
// column of bytes is refused for them, before any row is read.
Status CheckKeptBytes(const JobSpec& job, const std::vector<InputColumn>& cols, const Binding& b) {
  const OutputFormat f = job.output.format;
  if (f != OutputFormat::kCsv && f != OutputFormat::kJsonl) return Status::Ok();
  for (const auto& k : job.output.keep) {
    if (!KeptBytes(k, cols, b)) continue;
    return Status(Code::kSchemaMismatch,
                  fmt::format("output.keep entry '{}' is a column of bytes (BLOB), and a {} "
                              "output cannot hold bytes (it would write them as escaped text): "
                              "write Parquet or a database (output.format parquet, sqlite, "
                              "duckdb or postgres), or drop '{}' from output.keep",
                              k, OutputFormatName(f), k));
  }
  return Status::Ok();
}

}  // namespace

Result<Binding> Bind(const JobSpec& job, const std::vector<InputColumn>& cols,
                     const std::string& where, const Model& model) {
  Binding b;
  NS_RETURN_IF_ERROR(BindCarried(job, cols, where, &b));
  NS_RETURN_IF_ERROR(BindInputs(job, cols, where, model, &b));
  NS_RETURN_IF_ERROR(BindBatching(job, model, &b));
  NS_RETURN_IF_ERROR(BindOutputs(job, model, &b));
  NS_RETURN_IF_ERROR(BindPdfPages(job, &b));
  NS_RETURN_IF_ERROR(BindCropFanOut(job, &b));
  NS_RETURN_IF_ERROR(CheckKeptBytes(job, cols, b));
  return b;
}

}  // namespace nightshift::exec
