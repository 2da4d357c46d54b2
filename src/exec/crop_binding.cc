#include "exec/crop_binding.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "exec/step_input.h"
#include "image/crop_filler.h"
#include "io/duck.h"
#include "io/sql_types.h"

namespace nightshift::exec {
namespace {

// DOUBLE[] (8 numbers per box), DOUBLE[][] or DOUBLE[][][] (4 [x, y] points
// per box), FLOAT[4][2][] and the like.
bool NumericListOfAnyDepth(const std::string& sql_type) {
  const size_t bracket = sql_type.find('[');
  return bracket != std::string::npos && sql_type.back() == ']' &&
         io::IsNumericType(sql_type.substr(0, bracket));
}

Status CheckColumns(const CropSpec& step, const std::vector<InputColumn>& cols,
                    const std::string& where) {
  const InputColumn* image = FindColumn(cols, step.image);
  if (image == nullptr || (image->sql_type != "VARCHAR" && image->sql_type != "BLOB")) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("crop step image column '{}' {}: it must hold page paths (text) "
                              "or encoded images (BLOB)",
                              step.image,
                              image == nullptr ? "is not in " + where
                                               : "in " + where + " is " + image->sql_type));
  }
  const InputColumn* boxes = FindColumn(cols, step.boxes);
  if (boxes == nullptr || !NumericListOfAnyDepth(boxes->sql_type)) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("crop step boxes column '{}' {}: it must hold a list of boxes, 8 "
                              "numbers (4 corners x, y) each, as text_boxes writes them",
                              step.boxes,
                              boxes == nullptr ? "is not in " + where
                                               : "in " + where + " is " + boxes->sql_type));
  }
  return Status::Ok();
}

// The row's raw value: "<boxes as text>|<path or bytes>" (the boxes as
// DuckDB writes the list, however nested: SplitBoxes reads both). Neither
// part is ever null (null boxes or a missing page is the filler's dead
// letter, with its reason).
std::string SelectSql(const CropSpec& step, bool blob) {
  const std::string box =
      fmt::format("coalesce(CAST({} AS VARCHAR), '')", io::QuoteIdent(step.boxes));
  if (blob)
    return fmt::format("encode({} || '|') || coalesce({}, ''::BLOB)", box,
                       io::QuoteIdent(step.image));
  return fmt::format("{} || '|' || coalesce(CAST({} AS VARCHAR), '')", box,
                     io::QuoteIdent(step.image));
}

}  // namespace

bool MadeByCrop(const JobSpec& job, const std::string& column) {
  return !job.input.crops.empty() && column == kBoxIndexColumn;
}

Status BindCropFanOut(const JobSpec& job, Binding* b) {
  if (job.input.crops.empty()) return Status::Ok();
  if (!job.input.pdf_pages.empty()) {
    return Status(Code::kSchemaMismatch,
                  "preprocess: crop and pdf_pages cannot be in one job (each makes several rows "
                  "of one input row): render the pages in one job, crop them in the next");
  }
  if (!job.batch.sort_by_length.empty()) {
    return Status(Code::kSchemaMismatch,
                  "batch.sort_by_length cannot be used with preprocess: crop");
  }
  // output.keep's count included it, but it is not carried (BindCarried).
  const auto& keep = job.output.keep;
  if (std::find(keep.begin(), keep.end(), kBoxIndexColumn) != keep.end()) --b->sink.keep_count;
  OutputColumn box{kBoxIndexColumn, DType::kInt32};
  box.item_number = true;
  b->sink.outputs.insert(b->sink.outputs.begin(), std::move(box));
  return Status::Ok();
}

Status BindCropInput(const CropSpec& step, const ModelInputSpec& in, const TensorSpec& spec,
                     const std::vector<InputColumn>& cols, const std::string& where,
                     InputPacking* out) {
  NS_RETURN_IF_ERROR(CheckSoleColumn(in, step.into, "crop"));
  NS_RETURN_IF_ERROR(CheckColumns(step, cols, where));
  const auto& s = spec.shape;
  const bool fits = in.dtype == DType::kFloat32 && spec.dtype == DType::kFloat32 && s.size() == 4 &&
                    (s[1] < 0 || s[1] == 3) && (s[2] < 0 || s[2] == step.height);
  if (!fits) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("model input '{}' is {} {} but crop step '{}' makes float32 rows of "
                              "[3, {}, width] (BGR, height {})",
                              spec.name, DTypeName(spec.dtype), ShapeText(s), step.into,
                              step.height, step.height));
  }
  // A fixed width is kept; a dynamic one is the batch's widest crop.
  const int64_t width = s[3] > 0 ? s[3] : -1;
  out->columns = {step.into};
  out->dtype = DType::kFloat32;
  out->column_is_list = {false};
  out->column_widths = {width > 0 ? 3 * step.height * width : -1};
  out->row_shape = {3, step.height, width};
  return Status::Ok();
}

void AttachCropFillers(const JobSpec& job, const std::vector<InputColumn>& cols, Env* env,
                       ReadLayout* layout) {
  for (size_t i = 0; i < layout->inputs.size(); ++i) {
    InputPacking& in = layout->inputs[i];
    if (in.columns.size() != 1) continue;
    for (const auto& step : job.input.crops) {
      if (step.into != in.columns[0]) continue;
      const InputColumn* c = FindColumn(cols, step.image);
      const bool blob = c != nullptr && c->sql_type == "BLOB";
      const int64_t width = in.row_shape.size() == 3 ? std::max<int64_t>(in.row_shape[2], 0) : 0;
      auto filler = std::make_shared<image::CropFiller>(step, SelectSql(step, blob), blob,
                                                        job.input.allow_outside, width,
                                                        /*threads=*/0, env);
      in.filler = filler;
      layout->expander = filler;
      layout->expand_input = i;
    }
  }
}

}  // namespace nightshift::exec
