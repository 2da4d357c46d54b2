#include "exec/ocr_steps.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "exec/ctc_decode.h"
#include "exec/step_input.h"
#include "exec/top_k.h"

namespace nightshift::exec {
namespace {

Result<const TensorSpec*> FindOutput(const Model& model, const std::string& name,
                                     const std::string& where) {
  for (const auto& s : model.outputs()) {
    if (s.name == name) return &s;
  }
  std::vector<std::string> names;
  for (const auto& s : model.outputs()) names.push_back(s.name);
  return Error(Code::kSchemaMismatch,
               fmt::format("{}.output names '{}' but the model has no such output (outputs: {})",
                           where, name, fmt::join(names, ", ")));
}

size_t TensorIndex(const JobSpec& job, const std::string& output) {
  const std::vector<std::string> tensors = ModelOutputNames(job);
  return static_cast<size_t>(std::find(tensors.begin(), tensors.end(), output) - tensors.begin());
}

// A probability map is [rows, 1, h, w] (PaddleOCR's detectors) or [rows, h, w].
bool IsMapShape(const std::vector<int64_t>& s) {
  return s.size() == 3 || (s.size() == 4 && (s[1] == 1 || s[1] < 0));
}

Status BindCtc(const JobSpec& job, const Model& model, size_t out, OcrSteps* steps,
               SinkLayout* sink, std::vector<OutputName>* names) {
  for (size_t i = 0; i < job.model.ctc_decode.size(); ++i, out += 3) {
    const CtcDecodeSpec& c = job.model.ctc_decode[i];
    CtcStep step;
    step.where = c.where;
    NS_ASSIGN_OR_RETURN(const TensorSpec* spec, FindOutput(model, c.output, step.where));
    if (spec->dtype != DType::kFloat32 || spec->shape.size() != 3) {
      return Status(
          Code::kSchemaMismatch,
          fmt::format("{}.output '{}' is {} {}; ctc_decode needs a float32 [batch, "
                      "time, classes] output",
                      step.where, c.output, DTypeName(spec->dtype), ShapeText(spec->shape)));
    }
    step.source = TensorIndex(job, c.output);
    step.out = out;
    step.blank = c.blank;
    step.classes = spec->shape[2];
    const auto o = static_cast<int32_t>(out);
    sink->outputs.push_back({c.into, DType::kUInt8, false, o, 0, o + 1, true});
    sink->outputs.push_back({c.into + "_score", DType::kFloat32, false, o + 2, 0});
    names->push_back({c.into, step.where + ".into"});
    names->push_back({c.into + "_score", step.where + ".into"});
    steps->ctc.push_back(std::move(step));
  }
  return Status::Ok();
}

Status BindBoxes(const JobSpec& job, const Model& model, size_t out, OcrSteps* steps,
                 SinkLayout* sink, std::vector<OutputName>* names) {
  for (size_t i = 0; i < job.model.text_boxes.size(); ++i, out += 4) {
    const TextBoxesSpec& t = job.model.text_boxes[i];
    TextBoxesStep step;
    step.where = t.where;
    NS_ASSIGN_OR_RETURN(const TensorSpec* spec, FindOutput(model, t.output, step.where));
    if (spec->dtype != DType::kFloat32 || !IsMapShape(spec->shape)) {
      return Status(
          Code::kSchemaMismatch,
          fmt::format("{}.output '{}' is {} {}; text_boxes needs a float32 probability "
                      "map [batch, 1, height, width] or [batch, height, width]",
                      step.where, t.output, DTypeName(spec->dtype), ShapeText(spec->shape)));
    }
    step.source = TensorIndex(job, t.output);
    step.out = out;
    step.params = {static_cast<float>(t.threshold), static_cast<float>(t.box_threshold),
                   static_cast<float>(t.unclip)};
    const auto o = static_cast<int32_t>(out);
    sink->outputs.push_back({t.into, DType::kFloat32, true, o, 0, o + 1, false});
    sink->outputs.push_back({t.into + "_score", DType::kFloat32, true, o + 2, 0, o + 3, false});
    names->push_back({t.into, step.where + ".into"});
    names->push_back({t.into + "_score", step.where + ".into"});
    steps->boxes.push_back(std::move(step));
  }
  return Status::Ok();
}

// Puts `t` at index `i` of `outputs`; a recycled batch may hold the last
// use's tensors there: assign, not append.
void SetOutput(std::vector<Tensor>* outputs, size_t i, Tensor t) {
  if (outputs->size() < i + 1) outputs->resize(i + 1);
  (*outputs)[i] = std::move(t);
}

Status ApplyCtc(const CtcStep& step, RowBatch* batch) {
  const Tensor& probs = batch->outputs[step.source];
  const auto& shape = probs.shape();
  if (probs.dtype() != DType::kFloat32 || shape.size() != 3) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("{} needs a float32 [batch, time, classes] output; the model "
                              "returned {}",
                              step.where, probs.DebugString()));
  }
  NS_ASSIGN_OR_RETURN(std::vector<std::string> symbols,
                      ClassSymbols(step.alphabet, step.blank, shape[2], step.where));
  const int64_t rows = batch->num_rows;
  std::vector<Decoded> decoded;
  size_t longest = 0;
  for (int64_t r = 0; r < rows; ++r) {
    decoded.push_back(CtcDecodeRow(probs.data_as<float>() + r * shape[1] * shape[2], shape[1],
                                   shape[2], symbols, step.blank));
    longest = std::max(longest, decoded.back().text.size());
  }
  Tensor text = Tensor::Allocate(DType::kUInt8, {rows, static_cast<int64_t>(longest)});
  Tensor lengths = Tensor::Allocate(DType::kInt64, {rows});
  Tensor score = Tensor::Allocate(DType::kFloat32, {rows, 1});
  for (int64_t r = 0; r < rows; ++r) {
    const Decoded& d = decoded[static_cast<size_t>(r)];
    if (!d.text.empty())
      std::memcpy(text.data_as<uint8_t>() + r * static_cast<int64_t>(longest), d.text.data(),
                  d.text.size());
    lengths.data_as<int64_t>()[r] = static_cast<int64_t>(d.text.size());
    score.data_as<float>()[r] = d.score;
  }
  SetOutput(&batch->outputs, step.out, std::move(text));
  SetOutput(&batch->outputs, step.out + 1, std::move(lengths));
  SetOutput(&batch->outputs, step.out + 2, std::move(score));
  return Status::Ok();
}

Status ApplyBoxes(const TextBoxesStep& step, RowBatch* batch) {
  const Tensor& map = batch->outputs[step.source];
  const auto& shape = map.shape();
  if (map.dtype() != DType::kFloat32 || !IsMapShape(shape) ||
      (shape.size() == 4 && shape[1] != 1)) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("{} needs a float32 probability map [batch, 1, height, width]; the "
                              "model returned {}",
                              step.where, map.DebugString()));
  }
  const int64_t h = shape[shape.size() - 2], w = shape.back(), rows = batch->num_rows;
  std::vector<std::vector<TextBox>> found;
  size_t most = 0;
  for (int64_t r = 0; r < rows; ++r) {
    // Boxes in the pixels of the row's image when an image step resized it
    // (job-spec.md: boxes are in the pixels the row came with), else the map's.
    const auto& frames = batch->image_frames;
    const ImageFrame* frame =
        static_cast<size_t>(r) < frames.size() && frames[static_cast<size_t>(r)].width > 0
            ? &frames[static_cast<size_t>(r)]
            : nullptr;
    found.push_back(
        FindTextBoxes(map.data_as<float>() + r * h * w, h, w, step.params, h, w, frame));
    most = std::max(most, found.back().size());
  }
  const auto m = static_cast<int64_t>(most);
  Tensor corners = Tensor::Allocate(DType::kFloat32, {rows, 8 * m});
  Tensor corner_counts = Tensor::Allocate(DType::kInt64, {rows});
  Tensor scores = Tensor::Allocate(DType::kFloat32, {rows, m});
  Tensor score_counts = Tensor::Allocate(DType::kInt64, {rows});
  for (int64_t r = 0; r < rows; ++r) {
    const auto& boxes = found[static_cast<size_t>(r)];
    for (size_t b = 0; b < boxes.size(); ++b) {
      const auto at = r * m + static_cast<int64_t>(b);
      std::copy(boxes[b].points.begin(), boxes[b].points.end(), corners.data_as<float>() + 8 * at);
      scores.data_as<float>()[at] = boxes[b].score;
    }
    corner_counts.data_as<int64_t>()[r] = 8 * static_cast<int64_t>(boxes.size());
    score_counts.data_as<int64_t>()[r] = static_cast<int64_t>(boxes.size());
  }
  SetOutput(&batch->outputs, step.out, std::move(corners));
  SetOutput(&batch->outputs, step.out + 1, std::move(corner_counts));
  SetOutput(&batch->outputs, step.out + 2, std::move(scores));
  SetOutput(&batch->outputs, step.out + 3, std::move(score_counts));
  return Status::Ok();
}

}  // namespace

std::vector<std::string> OcrTensorNames(const JobSpec& job) {
  std::vector<std::string> names;
  for (const auto& c : job.model.ctc_decode) {
    names.insert(names.end(), {c.into, c.into + " (lengths)", c.into + "_score"});
  }
  for (const auto& t : job.model.text_boxes) {
    names.insert(names.end(),
                 {t.into, t.into + " (lengths)", t.into + "_score", t.into + "_score (lengths)"});
  }
  return names;
}

Status BindOcrSteps(const JobSpec& job, const Model& model, size_t first_out, OcrSteps* steps,
                    SinkLayout* sink, std::vector<OutputName>* names) {
  NS_RETURN_IF_ERROR(BindCtc(job, model, first_out, steps, sink, names));
  return BindBoxes(job, model, first_out + 3 * job.model.ctc_decode.size(), steps, sink, names);
}

Status LoadAlphabets(const JobSpec& job, Env* env, OcrSteps* steps) {
  for (size_t i = 0; i < steps->ctc.size(); ++i) {
    CtcStep& step = steps->ctc[i];
    NS_ASSIGN_OR_RETURN(step.alphabet,
                        ReadAlphabet(env, job.model.ctc_decode[i].alphabet, step.where));
    if (step.classes >= 0) {
      auto symbols = ClassSymbols(step.alphabet, step.blank, step.classes, step.where);
      if (!symbols) return symbols.error();
    }
  }
  return Status::Ok();
}

Status ApplyOcrSteps(const OcrSteps& steps, RowBatch* batch) {
  for (const CtcStep& step : steps.ctc) NS_RETURN_IF_ERROR(ApplyCtc(step, batch));
  for (const TextBoxesStep& step : steps.boxes) NS_RETURN_IF_ERROR(ApplyBoxes(step, batch));
  return Status::Ok();
}

}  // namespace nightshift::exec
