#include "spec/overrides.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

#include "spec/job_schema.h"

namespace nightshift {

Result<Override> ParseOverride(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Error(Code::kInvalidJob,
                 fmt::format("--set {}: expected KEY=VALUE (e.g. --set batch.size=256)", text));
  }
  std::string_view key = text.substr(0, eq);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.remove_suffix(1);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front())))
    key.remove_prefix(1);
  if (key.empty()) {
    return Error(Code::kInvalidJob, fmt::format("--set {}: the key before '=' is empty", text));
  }
  return Override{std::string(key), std::string(text.substr(eq + 1))};
}

namespace spec {
namespace {

// "model.inputs[0].dtype" -> {"model", "inputs", "0", "dtype"}.
std::vector<std::string> SplitKey(std::string_view key) {
  std::string normal;
  for (char c : key) {
    if (c == '[')
      normal += '.';
    else if (c != ']')
      normal += c;
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = normal.find('.', start);
    parts.push_back(normal.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

bool ParseIndex(std::string_view text, size_t* index) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *index);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Status Fail(const std::string& file, const Override& o, std::string_view what) {
  return Status(Code::kInvalidJob, fmt::format("{}: --set {}: {}", file, o.key, what));
}

// Applies one override. `node` walks down the tree; yaml-cpp's Node
// assignment writes through to the tree, so re-pointing it uses reset().
Result<std::string> ApplyOne(YAML::Node& root, const Override& o, const std::string& file) {
  YAML::Node value;
  try {
    value = YAML::Load(o.value);
  } catch (const YAML::Exception& e) {
    return Error(Fail(file, o, fmt::format("value '{}' is not valid YAML: {}", o.value, e.msg)));
  }
  const std::vector<std::string> parts = SplitKey(o.key);
  const SchemaNode* schema = &JobSchema();
  bool in_list = false;  // `node` is a list of `schema`'s element mappings
  std::string path;
  YAML::Node node;
  node.reset(root);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    if (part.empty()) return Error(Fail(file, o, "empty component in the key"));
    if (in_list) {
      size_t index = 0;
      if (!ParseIndex(part, &index)) {
        return Error(Fail(file, o,
                          fmt::format("'{}' is a list: expected an index, as in '{}.0', got '{}'",
                                      path, path, part)));
      }
      if (!node.IsSequence()) node = YAML::Node(YAML::NodeType::Sequence);
      if (index > node.size()) {
        return Error(Fail(file, o,
                          fmt::format("index {} is out of range: '{}' has {} entr{}", index, path,
                                      node.size(), node.size() == 1 ? "y" : "ies")));
      }
      path = JoinIndex(path, index);
      if (index == node.size()) node.push_back(YAML::Node(YAML::NodeType::Map));
      YAML::Node element = node[index];
      if (last) {
        element = value;
      } else if (!element.IsMap()) {
        element = YAML::Node(YAML::NodeType::Map);
      }
      node.reset(element);
      in_list = false;
      continue;
    }
    if (schema->kind == SchemaKind::kValue) {
      return Error(Fail(file, o,
                        fmt::format("'{}' takes a whole value; set it with --set {}=VALUE "
                                    "(a list is written [a, b])",
                                    path, path)));
    }
    const SchemaNode* child = FindChild(*schema, part);
    if (child == nullptr) {
      std::string what = fmt::format("unknown key '{}'", JoinKey(path, part));
      if (std::string suggestion = SuggestKey(*schema, path, part); !suggestion.empty()) {
        what += fmt::format("; did you mean '{}'?", suggestion);
      }
      return Error(Fail(file, o, what));
    }
    if (!node.IsMap()) node = YAML::Node(YAML::NodeType::Map);
    path = JoinKey(path, part);
    YAML::Node next = node[part];
    if (last) {
      next = value;
    } else if (child->kind == SchemaKind::kList && !next.IsSequence()) {
      next = YAML::Node(YAML::NodeType::Sequence);
    } else if (child->kind == SchemaKind::kMap && !next.IsMap()) {
      next = YAML::Node(YAML::NodeType::Map);
    }
    node.reset(next);
    schema = child;
    in_list = child->kind == SchemaKind::kList;
  }
  return path;
}

}  // namespace

Result<std::vector<OverrideSite>> ApplyOverrides(YAML::Node& root,
                                                 const std::vector<Override>& overrides,
                                                 const std::string& file) {
  std::vector<OverrideSite> sites;
  for (const Override& o : overrides) {
    try {
      NS_ASSIGN_OR_RETURN(std::string path, ApplyOne(root, o, file));
      sites.push_back(OverrideSite{o.key, std::move(path)});
    } catch (const YAML::Exception& e) {
      return Error(Fail(file, o, fmt::format("cannot apply: {}", e.msg)));
    }
  }
  return sites;
}

}  // namespace spec
}  // namespace nightshift
