#include "spec/postprocess_section.h"

#include <fmt/format.h>

#include <limits>

#include "spec/job_schema.h"

namespace nightshift::spec {
namespace {

// Optional number `key` of `map` in (lo, hi] (or [lo, hi] when lo_inclusive);
// `*out` keeps its default when absent.
Status ReadNumber(const NodeReader& r, const YAML::Node& map, const std::string& path,
                  std::string_view key, double lo, bool lo_inclusive, double hi, double* out) {
  std::optional<YAML::Node> node = NodeReader::Find(map, key);
  if (!node) return Status::Ok();
  const std::string where = JoinKey(path, key);
  const std::string range =
      fmt::format("a number {} {} and <= {}", lo_inclusive ? ">=" : ">", lo, hi);
  double v = 0;
  try {
    v = node->as<double>();
  } catch (const std::exception&) {
    return r.Fail(*node, where,
                  fmt::format("expected {}, got {}", range, NodeReader::Describe(*node)));
  }
  if (!(lo_inclusive ? v >= lo : v > lo) || !(v <= hi)) {
    return r.Fail(*node, where, fmt::format("expected {}, got {}", range, v));
  }
  *out = v;
  return Status::Ok();
}

Result<TopKSpec> ReadTopK(const NodeReader& r, const YAML::Node& map, const std::string& path) {
  TopKSpec t;
  NS_ASSIGN_OR_RETURN(t.output, r.RequiredString(map, path, "output"));
  NS_ASSIGN_OR_RETURN(YAML::Node k, r.Require(map, path, "k"));
  NS_ASSIGN_OR_RETURN(t.k, r.Int(k, JoinKey(path, "k"), 1, std::numeric_limits<int32_t>::max()));
  NS_ASSIGN_OR_RETURN(YAML::Node into, r.Require(map, path, "into"));
  NS_ASSIGN_OR_RETURN(std::vector<std::string> names, r.StringList(into, JoinKey(path, "into"), 2,
                                                                   /*allow_single=*/false));
  if (names.size() != 2) {
    return Error(r.Fail(into, JoinKey(path, "into"),
                        "expected two column names: [ids column, scores column]"));
  }
  t.ids_column = names[0];
  t.scores_column = names[1];
  NS_RETURN_IF_ERROR(r.ReadString(map, path, "labels", &t.labels));
  return t;
}

Result<CtcDecodeSpec> ReadCtcDecode(const NodeReader& r, const YAML::Node& map,
                                    const std::string& path) {
  CtcDecodeSpec c;
  c.where = path;
  NS_ASSIGN_OR_RETURN(c.output, r.RequiredString(map, path, "output"));
  NS_ASSIGN_OR_RETURN(c.alphabet, r.RequiredString(map, path, "alphabet"));
  NS_ASSIGN_OR_RETURN(c.into, r.RequiredString(map, path, "into"));
  NS_RETURN_IF_ERROR(
      r.ReadInt(map, path, "blank", 0, &c.blank));  // checked against the model later
  return c;
}

Result<TextBoxesSpec> ReadTextBoxes(const NodeReader& r, const YAML::Node& map,
                                    const std::string& path) {
  TextBoxesSpec t;
  t.where = path;
  NS_ASSIGN_OR_RETURN(t.output, r.RequiredString(map, path, "output"));
  NS_ASSIGN_OR_RETURN(t.into, r.RequiredString(map, path, "into"));
  NS_RETURN_IF_ERROR(ReadNumber(r, map, path, "threshold", 0, true, 1, &t.threshold));
  NS_RETURN_IF_ERROR(ReadNumber(r, map, path, "box_threshold", 0, true, 1, &t.box_threshold));
  NS_RETURN_IF_ERROR(ReadNumber(r, map, path, "unclip", 0, false, 100, &t.unclip));
  return t;
}

// One step: a mapping with exactly one key, read into the matching list.
Status ReadStep(const NodeReader& r, const YAML::Node& step, const std::string& path,
                const SchemaNode& step_schema, ModelSpec* model) {
  NS_RETURN_IF_ERROR(r.CheckMap(step, path, step_schema));
  if (step.size() != 1) {
    return r.Fail(step, path,
                  "a step is one mapping with one key (top_k, ctc_decode or text_boxes)");
  }
  const std::string key = step.begin()->first.as<std::string>();
  const std::string at = JoinKey(path, key);
  NS_ASSIGN_OR_RETURN(YAML::Node map, r.Require(step, path, key));
  NS_RETURN_IF_ERROR(r.CheckMap(map, at, *FindChild(step_schema, key)));
  if (key == "top_k") {
    NS_ASSIGN_OR_RETURN(TopKSpec t, ReadTopK(r, map, at));
    model->top_k.push_back(std::move(t));
  } else if (key == "ctc_decode") {
    NS_ASSIGN_OR_RETURN(CtcDecodeSpec c, ReadCtcDecode(r, map, at));
    model->ctc_decode.push_back(std::move(c));
  } else {
    NS_ASSIGN_OR_RETURN(TextBoxesSpec t, ReadTextBoxes(r, map, at));
    model->text_boxes.push_back(std::move(t));
  }
  return Status::Ok();
}

}  // namespace

Status ReadPostprocess(const NodeReader& r, const YAML::Node& root, ModelSpec* model) {
  std::optional<YAML::Node> steps = NodeReader::Find(root, "postprocess");
  if (!steps) return Status::Ok();
  if (!steps->IsSequence()) {
    return r.Fail(*steps, "postprocess",
                  fmt::format("expected a list of steps (- top_k: {{...}}), got {}",
                              NodeReader::Describe(*steps)));
  }
  const SchemaNode& step_schema = *FindChild(JobSchema(), "postprocess");
  for (size_t i = 0; i < steps->size(); ++i) {
    NS_RETURN_IF_ERROR(ReadStep(r, (*steps)[i], JoinIndex("postprocess", i), step_schema, model));
  }
  return Status::Ok();
}

}  // namespace nightshift::spec
