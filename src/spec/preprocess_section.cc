#include "spec/preprocess_section.h"

#include <fmt/format.h>

#include "spec/job_schema.h"

namespace nightshift::spec {
namespace {

Result<std::string> RequiredText(const NodeReader& r, const YAML::Node& map,
                                 const std::string& path, std::string_view key) {
  NS_ASSIGN_OR_RETURN(YAML::Node node, r.Require(map, path, key));
  NS_ASSIGN_OR_RETURN(std::string value, r.String(node, JoinKey(path, key)));
  if (value.empty()) return Error(r.Fail(node, JoinKey(path, key), "must not be empty"));
  return value;
}

Result<TokenizeSpec> ReadTokenize(const NodeReader& r, const YAML::Node& map,
                                  const std::string& path, const SchemaNode& schema) {
  NS_RETURN_IF_ERROR(r.CheckMap(map, path, schema));
  TokenizeSpec t;
  NS_ASSIGN_OR_RETURN(t.column, RequiredText(r, map, path, "column"));
  NS_ASSIGN_OR_RETURN(t.tokenizer, RequiredText(r, map, path, "tokenizer"));
  NS_ASSIGN_OR_RETURN(t.into, RequiredText(r, map, path, "into"));
  NS_RETURN_IF_ERROR(
      r.ReadInt(map, path, "max_length", 1, &t.max_length));  // checked against the tokenizer later
  return t;
}

// Calls `read(step's mapping, its key path, its schema)` for each step of the
// list `name`, after checking each is a one-key mapping of `name`'s schema.
template <typename Fn>
Status ForEachStep(const NodeReader& r, const YAML::Node& root, std::string_view name,
                   std::string_view step_key, Fn&& read) {
  std::optional<YAML::Node> steps = NodeReader::Find(root, name);
  if (!steps) return Status::Ok();
  const std::string list(name);
  if (!steps->IsSequence()) {
    return r.Fail(*steps, list,
                  fmt::format("expected a list of steps (- {}: {{...}}), got {}", step_key,
                              NodeReader::Describe(*steps)));
  }
  const SchemaNode& step_schema = *FindChild(JobSchema(), name);
  for (size_t i = 0; i < steps->size(); ++i) {
    const YAML::Node step = (*steps)[i];
    const std::string path = JoinIndex(list, i);
    NS_RETURN_IF_ERROR(r.CheckMap(step, path, step_schema));
    if (step.size() != 1) {
      return r.Fail(step, path, fmt::format("a step is one mapping with one key ({})", step_key));
    }
    NS_ASSIGN_OR_RETURN(YAML::Node map, r.Require(step, path, step_key));
    NS_RETURN_IF_ERROR(read(map, JoinKey(path, step_key), *FindChild(step_schema, step_key)));
  }
  return Status::Ok();
}

}  // namespace

Status ReadPreprocess(const NodeReader& r, const YAML::Node& root,
                      std::vector<TokenizeSpec>* tokenize) {
  return ForEachStep(
      r, root, "preprocess", "tokenize",
      [&](const YAML::Node& map, const std::string& path, const SchemaNode& schema) -> Status {
        NS_ASSIGN_OR_RETURN(TokenizeSpec t, ReadTokenize(r, map, path, schema));
        for (const auto& other : *tokenize) {
          if (other.into == t.into) {
            return r.Fail(map["into"], JoinKey(path, "into"),
                          fmt::format("'{}' is already the `into` of an earlier step", t.into));
          }
        }
        tokenize->push_back(std::move(t));
        return Status::Ok();
      });
}

}  // namespace nightshift::spec
