#include "spec/preprocess_section.h"

#include <fmt/format.h>

#include <algorithm>

#include "spec/image_section.h"
#include "spec/job_schema.h"
#include "spec/pdf_section.h"

namespace nightshift::spec {
namespace {

Result<TokenizeSpec> ReadTokenize(const NodeReader& r, const YAML::Node& map,
                                  const std::string& path, const SchemaNode& schema) {
  NS_RETURN_IF_ERROR(r.CheckMap(map, path, schema));
  TokenizeSpec t;
  NS_ASSIGN_OR_RETURN(t.column, r.RequiredString(map, path, "column"));
  NS_ASSIGN_OR_RETURN(t.tokenizer, r.RequiredString(map, path, "tokenizer"));
  NS_ASSIGN_OR_RETURN(t.into, r.RequiredString(map, path, "into"));
  NS_RETURN_IF_ERROR(
      r.ReadInt(map, path, "max_length", 1, &t.max_length));  // checked against the tokenizer later
  return t;
}

// The height is the recogniser's input height (PaddleOCR's: 48); a crop row
// is [3, height, width], so bound it like an image step's side.
constexpr int64_t kMaxCropHeight = 1024;

Result<CropSpec> ReadCrop(const NodeReader& r, const YAML::Node& map, const std::string& path,
                          const SchemaNode& schema) {
  NS_RETURN_IF_ERROR(r.CheckMap(map, path, schema));
  CropSpec c;
  NS_ASSIGN_OR_RETURN(c.image, r.RequiredString(map, path, "image"));
  NS_ASSIGN_OR_RETURN(c.boxes, r.RequiredString(map, path, "boxes"));
  NS_ASSIGN_OR_RETURN(c.into, r.RequiredString(map, path, "into"));
  if (std::optional<YAML::Node> h = NodeReader::Find(map, "height")) {
    NS_ASSIGN_OR_RETURN(c.height, r.Int(*h, JoinKey(path, "height"), 8, kMaxCropHeight));
  }
  return c;
}

// Calls `read(step key, step's mapping, its key path, its schema)` for each
// step of the list `name`, after checking each is a one-key mapping of
// `name`'s schema (`step_keys` lists the keys, for messages).
template <typename Fn>
Status ForEachStep(const NodeReader& r, const YAML::Node& root, std::string_view name,
                   std::string_view step_keys, Fn&& read) {
  std::optional<YAML::Node> steps = NodeReader::Find(root, name);
  if (!steps) return Status::Ok();
  const std::string list(name);
  if (!steps->IsSequence()) {
    return r.Fail(*steps, list,
                  fmt::format("expected a list of steps (- {}: {{...}}), got {}", step_keys,
                              NodeReader::Describe(*steps)));
  }
  const SchemaNode& step_schema = *FindChild(JobSchema(), name);
  for (size_t i = 0; i < steps->size(); ++i) {
    const YAML::Node step = (*steps)[i];
    const std::string path = JoinIndex(list, i);
    NS_RETURN_IF_ERROR(r.CheckMap(step, path, step_schema));
    if (step.size() != 1) {
      return r.Fail(step, path, fmt::format("a step is one mapping with one key ({})", step_keys));
    }
    // CheckMap vouched for the key: one of the schema's.
    const std::string key = step.begin()->first.as<std::string>();
    NS_ASSIGN_OR_RETURN(YAML::Node map, r.Require(step, path, key));
    NS_RETURN_IF_ERROR(read(key, map, JoinKey(path, key), *FindChild(step_schema, key)));
  }
  return Status::Ok();
}

}  // namespace

Status ReadPreprocess(const NodeReader& r, const YAML::Node& root,
                      std::vector<TokenizeSpec>* tokenize, std::vector<ImageSpec>* images,
                      std::vector<CropSpec>* crops, std::vector<PdfPagesSpec>* pdf_pages) {
  std::vector<std::string> intos;  // every step's, for duplicates
  NS_RETURN_IF_ERROR(ForEachStep(
      r, root, "preprocess", "tokenize, image, crop or pdf_pages",
      [&](const std::string& key, const YAML::Node& map, const std::string& path,
          const SchemaNode& schema) -> Status {
        std::string into;
        if (key == "image") {
          NS_ASSIGN_OR_RETURN(ImageSpec s, ReadImageStep(r, map, path, schema));
          into = s.into;
          images->push_back(std::move(s));
        } else if (key == "crop") {
          NS_ASSIGN_OR_RETURN(CropSpec c, ReadCrop(r, map, path, schema));
          into = c.into;
          crops->push_back(std::move(c));
        } else if (key == "pdf_pages") {
          NS_ASSIGN_OR_RETURN(PdfPagesSpec s, ReadPdfPagesStep(r, map, path, schema));
          into = s.into;
          pdf_pages->push_back(std::move(s));
        } else {
          NS_ASSIGN_OR_RETURN(TokenizeSpec t, ReadTokenize(r, map, path, schema));
          into = t.into;
          tokenize->push_back(std::move(t));
        }
        if (std::find(intos.begin(), intos.end(), into) != intos.end()) {
          return r.Fail(map["into"], JoinKey(path, "into"),
                        fmt::format("'{}' is already the `into` of an earlier step", into));
        }
        intos.push_back(into);
        return Status::Ok();
      }));
  return CheckPdfPagesSteps(*pdf_pages, *images);
}

}  // namespace nightshift::spec
