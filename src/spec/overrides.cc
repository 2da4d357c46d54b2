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

// Where an override's key has got to: `node` walks down the tree (yaml-cpp's
// Node assignment writes through to the tree, so re-pointing it uses reset()).
struct KeyWalk {
  YAML::Node node;
  const SchemaNode* schema = &JobSchema();
  bool in_list = false;  // `node` is a list of `schema`'s element mappings
  std::string path;
};

// One step into a list: `part` is an index (the list's size appends).
Status StepIntoList(KeyWalk* w, const std::string& part, const YAML::Node* value,
                    const std::string& file, const Override& o) {
  size_t index = 0;
  if (!ParseIndex(part, &index)) {
    return Fail(file, o,
                fmt::format("'{}' is a list: expected an index, as in '{}.0', got '{}'", w->path,
                            w->path, part));
  }
  if (!w->node.IsSequence()) w->node = YAML::Node(YAML::NodeType::Sequence);
  if (index > w->node.size()) {
    return Fail(file, o,
                fmt::format("index {} is out of range: '{}' has {} entr{}", index, w->path,
                            w->node.size(), w->node.size() == 1 ? "y" : "ies"));
  }
  w->path = JoinIndex(w->path, index);
  if (index == w->node.size()) w->node.push_back(YAML::Node(YAML::NodeType::Map));
  YAML::Node element = w->node[index];
  if (value != nullptr) {
    element = *value;
  } else if (!element.IsMap()) {
    element = YAML::Node(YAML::NodeType::Map);
  }
  w->node.reset(element);
  w->in_list = false;
  return Status::Ok();
}

// One step into a mapping: `part` must be a key the schema knows.
Status StepIntoKey(KeyWalk* w, const std::string& part, const YAML::Node* value,
                   const std::string& file, const Override& o) {
  if (w->schema->kind == SchemaKind::kValue) {
    return Fail(file, o,
                fmt::format("'{}' takes a whole value; set it with --set {}=VALUE "
                            "(a list is written [a, b])",
                            w->path, w->path));
  }
  const SchemaNode* child = FindChild(*w->schema, part);
  if (child == nullptr) {
    std::string what = fmt::format("unknown key '{}'", JoinKey(w->path, part));
    if (std::string suggestion = SuggestKey(*w->schema, w->path, part); !suggestion.empty()) {
      what += fmt::format("; did you mean '{}'?", suggestion);
    }
    return Fail(file, o, what);
  }
  if (!w->node.IsMap()) w->node = YAML::Node(YAML::NodeType::Map);
  w->path = JoinKey(w->path, part);
  YAML::Node next = w->node[part];
  if (value != nullptr) {
    next = *value;
  } else if (child->kind == SchemaKind::kList && !next.IsSequence()) {
    next = YAML::Node(YAML::NodeType::Sequence);
  } else if (child->kind == SchemaKind::kMap && !next.IsMap()) {
    next = YAML::Node(YAML::NodeType::Map);
  }
  w->node.reset(next);
  w->schema = child;
  w->in_list = child->kind == SchemaKind::kList;
  return Status::Ok();
}

// yaml-cpp stops reading a value after its closing quote or bracket:
// `"Odd Schema".t1` would be `Odd Schema` and `[id], f0` `[id]`, the rest
// dropped without a word. Such a value must be one element of a flow list.
Status CheckOneValue(const std::string& file, const Override& o) {
  const size_t first = o.value.find_first_not_of(" \t");
  if (first == std::string::npos ||
      std::string_view("\"'[{").find(o.value[first]) == std::string_view::npos) {
    return Status::Ok();
  }
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll("[" + o.value + "\n]");
    if (docs.size() == 1 && docs[0].IsSequence() && docs[0].size() == 1) return Status::Ok();
  } catch (const YAML::Exception&) {  // `"a".b` in a flow list: the same mistake
  }
  return Fail(file, o,
              fmt::format("value '{}' is more than one YAML value (text after its closing quote or "
                          "bracket); quote all of it",
                          o.value));
}

// Applies one override; returns the full path of the key it set.
Result<std::string> ApplyOne(YAML::Node& root, const Override& o, const std::string& file) {
  YAML::Node value;
  try {
    value = YAML::Load(o.value);
    NS_RETURN_IF_ERROR(CheckOneValue(file, o));
  } catch (const YAML::Exception& e) {
    return Error(Fail(file, o, fmt::format("value '{}' is not valid YAML: {}", o.value, e.msg)));
  }
  const std::vector<std::string> parts = SplitKey(o.key);
  KeyWalk w;
  w.node.reset(root);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return Error(Fail(file, o, "empty component in the key"));
    // The value is set at the last component; the ones before make room for it.
    const YAML::Node* set = i + 1 == parts.size() ? &value : nullptr;
    NS_RETURN_IF_ERROR(w.in_list ? StepIntoList(&w, parts[i], set, file, o)
                                 : StepIntoKey(&w, parts[i], set, file, o));
  }
  return w.path;
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
