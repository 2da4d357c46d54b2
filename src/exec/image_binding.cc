#include "exec/image_binding.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "exec/step_input.h"
#include "image/image_filler.h"

namespace nightshift::exec {
namespace {

// The step's row: [C, H, W] or [H, W, C].
std::vector<int64_t> RowShape(const ImageSpec& step) {
  const int64_t c = step.color == "gray" ? 1 : 3;
  if (step.layout == "nhwc") return {step.height, step.width, c};
  return {c, step.height, step.width};
}

}  // namespace

Status BindImageInput(const ImageSpec& step, const ModelInputSpec& in, const TensorSpec& spec,
                      const std::vector<InputColumn>& cols, const std::string& where,
                      InputPacking* out, std::string_view column_of) {
  NS_RETURN_IF_ERROR(CheckSoleColumn(in, step.into, "image"));
  const InputColumn* c = FindColumn(cols, step.column);
  if (c == nullptr) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("{} column '{}' is not in {}", column_of, step.column, where));
  }
  if (c->sql_type != "VARCHAR" && c->sql_type != "BLOB") {
    return Status(Code::kSchemaMismatch,
                  fmt::format("{} column '{}' in {} is {}: it must hold paths (text) or encoded "
                              "{} (BLOB)",
                              column_of, step.column, where, c->sql_type,
                              column_of == "image step" ? "images" : "files"));
  }
  if (in.dtype != DType::kFloat32 || spec.dtype != DType::kFloat32) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("model input '{}' is {}: an image step makes float32 pixels",
                              spec.name, DTypeName(spec.dtype)));
  }
  const std::vector<int64_t> row = RowShape(step);
  bool fits = spec.shape.size() == row.size() + 1;
  for (size_t d = 0; fits && d < row.size(); ++d) {
    fits = spec.shape[d + 1] < 0 || spec.shape[d + 1] == row[d];
  }
  if (!fits) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("model input '{}' has shape {} but image step '{}' makes rows of {} "
                              "(size [{}, {}], layout {}, color {})",
                              spec.name, ShapeText(spec.shape), step.into, ShapeText(row),
                              step.height, step.width, step.layout, step.color));
  }
  out->columns = {step.into};
  out->dtype = DType::kFloat32;
  out->column_is_list = {false};
  out->column_widths = {row[0] * row[1] * row[2]};
  out->row_shape = row;
  return Status::Ok();
}

void AttachImageFillers(const JobSpec& job, const std::vector<InputColumn>& cols, Env* env,
                        ReadLayout* layout) {
  for (auto& in : layout->inputs) {
    if (in.columns.size() != 1) continue;
    for (const auto& step : job.input.images) {
      if (step.into != in.columns[0]) continue;
      const InputColumn* c = FindColumn(cols, step.column);
      const bool blob = c != nullptr && c->sql_type == "BLOB";
      in.filler = std::make_shared<image::ImageFiller>(step, blob, job.input.allow_outside,
                                                       /*threads=*/0, env);
    }
  }
}

}  // namespace nightshift::exec
