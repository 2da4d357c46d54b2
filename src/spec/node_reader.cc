#include "spec/node_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "spec/env_vars.h"
#include "spec/suggest.h"

namespace nightshift::spec {
namespace {

// True when `prefix` is `path` or one of its ancestors ("batch" of "batch.size",
// "model.inputs" of "model.inputs[0].dtype").
bool IsPathPrefix(const std::string& prefix, const std::string& path) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

NodeReader::NodeReader(std::string file, std::vector<OverrideSite> overrides)
    : file_(std::move(file)), overrides_(std::move(overrides)) {}

std::string NodeReader::Where(const YAML::Node& node, const std::string& path,
                              const OverrideSite** site) const {
  *site = nullptr;
  // The last override that covers `path` is the one whose value is in the tree.
  for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it) {
    if (!path.empty() && IsPathPrefix(it->path, path)) {
      *site = &*it;
      return fmt::format("{}: --set {}", file_, it->key);
    }
  }
  YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
  if (mark.is_null() || path.empty()) return file_;
  return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
}

Status NodeReader::Fail(const YAML::Node& node, const std::string& path,
                        std::string_view what) const {
  const OverrideSite* site = nullptr;
  std::string where = Where(node, path, &site);
  if (path.empty() || (site != nullptr && site->path == path)) {
    return Status(Code::kInvalidJob, fmt::format("{}: {}", where, what));
  }
  return Status(Code::kInvalidJob, fmt::format("{}: {}: {}", where, path, what));
}

std::string NodeReader::Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: {
      // Quoted back to the user: keep it short and free of control characters (a binary file
      // passed as a job file must not spray bytes on the terminal).
      std::string text = node.Scalar().substr(0, 60);
      for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
      }
      return fmt::format("'{}{}'", text, node.Scalar().size() > 60 ? "..." : "");
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "null";
  }
  return "null";
}

Status NodeReader::CheckMap(const YAML::Node& map, const std::string& path,
                            const SchemaNode& schema) const {
  if (!map.IsMap()) {
    return Fail(map, path, fmt::format("expected a mapping, got {}", Describe(map)));
  }
  std::vector<std::pair<std::string, int>> seen;  // key, line
  // Range-for keeps each entry alive; `it->first` would point into a
  // temporary proxy (yaml-cpp's iterator).
  for (const auto& entry : map) {
    const YAML::Node& key_node = entry.first;
    if (!key_node.IsScalar()) {
      return Fail(key_node, path, fmt::format("keys must be names, got {}", Describe(key_node)));
    }
    const std::string& key = key_node.Scalar();
    const std::string full = JoinKey(path, key);
    if (FindChild(schema, key) == nullptr) {
      std::string what = fmt::format("unknown key '{}'", full);
      if (std::string suggestion = SuggestKey(schema, path, key); !suggestion.empty()) {
        what += fmt::format("; did you mean '{}'?", suggestion);
      } else {
        std::vector<std::string_view> names = ChildNames(schema);
        what +=
            fmt::format(" (valid keys{}: {})", path.empty() ? "" : fmt::format(" under '{}'", path),
                        fmt::join(names, ", "));
      }
      const OverrideSite* site = nullptr;
      return Status(Code::kInvalidJob, fmt::format("{}: {}", Where(key_node, full, &site), what));
    }
    NS_RETURN_IF_ERROR(CheckNotNull(key_node, entry.second, full, *FindChild(schema, key)));
    const int line = key_node.Mark().is_null() ? 0 : key_node.Mark().line + 1;
    for (const auto& [name, first_line] : seen) {
      if (name == key) {
        const OverrideSite* site = nullptr;
        return Status(Code::kInvalidJob,
                      fmt::format("{}: duplicate key '{}' (first given at line {})",
                                  Where(key_node, full, &site), full, first_line));
      }
    }
    seen.emplace_back(key, line);
  }
  return Status::Ok();
}

Status NodeReader::CheckNotNull(const YAML::Node& key_node, const YAML::Node& value,
                                const std::string& path, const SchemaNode& schema) const {
  if (value.IsDefined() && !value.IsNull()) return Status::Ok();
  // Allowed: an empty section (`batch:`, all its defaults), a key documented
  // as nullable, and `--set KEY=` (an override that removes the key).
  if (schema.kind == SchemaKind::kMap || schema.nullable) return Status::Ok();
  const OverrideSite* site = nullptr;
  std::string where = Where(key_node, path, &site);
  if (site != nullptr && site->path == path) return Status::Ok();
  return Status(
      Code::kInvalidJob,
      fmt::format("{}: {}: no value given (leave the key out to use its default)", where, path));
}

std::optional<YAML::Node> NodeReader::Find(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return std::nullopt;
  for (const auto& entry : map) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) {
      if (!entry.second.IsDefined() || entry.second.IsNull()) return std::nullopt;
      return entry.second;
    }
  }
  return std::nullopt;
}

Status NodeReader::Missing(const YAML::Node& map, const std::string& path, std::string_view key,
                           std::string_view alternative) const {
  const std::string full = JoinKey(path, key);
  // A `--set input.path=` (null) removed the key: blame the override.
  const OverrideSite* site = nullptr;
  std::string where = Where(map, full, &site);
  if (site == nullptr) where = path.empty() ? file_ : Where(map, path, &site);
  std::string what = fmt::format("missing required key '{}'", full);
  if (!alternative.empty()) what += fmt::format(" (or '{}')", JoinKey(path, alternative));
  return Status(Code::kInvalidJob, fmt::format("{}: {}", where, what));
}

Result<YAML::Node> NodeReader::Require(const YAML::Node& map, const std::string& path,
                                       std::string_view key) const {
  if (std::optional<YAML::Node> node = Find(map, key)) return *node;
  return Error(Missing(map, path, key));
}

Result<std::string> NodeReader::String(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) {
    return Error(Fail(node, path, fmt::format("expected a string, got {}", Describe(node))));
  }
  auto value = SubstituteEnvVars(node.Scalar());
  if (!value) return Error(Fail(node, path, value.error().message()));
  return std::move(*value);
}

Result<std::string> NodeReader::NonEmptyString(const YAML::Node& node,
                                               const std::string& path) const {
  NS_ASSIGN_OR_RETURN(std::string value, String(node, path));
  if (value.empty()) return Error(Fail(node, path, "must not be empty"));
  return value;
}

Result<std::string> NodeReader::RequiredString(const YAML::Node& map, const std::string& path,
                                               std::string_view key) const {
  NS_ASSIGN_OR_RETURN(YAML::Node node, Require(map, path, key));
  return NonEmptyString(node, JoinKey(path, key));
}

Result<int64_t> NodeReader::Int(const YAML::Node& node, const std::string& path, int64_t min,
                                int64_t max, std::string_view expected) const {
  std::string description(expected);
  if (description.empty()) {
    description =
        max == std::numeric_limits<int64_t>::max() || max == std::numeric_limits<int32_t>::max()
            ? fmt::format("an integer >= {}", min)
            : fmt::format("an integer between {} and {}", min, max);
  }
  auto fail = [&](std::string_view got) {
    return Error(Fail(node, path, fmt::format("expected {}, got {}", description, got)));
  };
  if (!node.IsScalar()) return fail(Describe(node));
  NS_ASSIGN_OR_RETURN(std::string text, String(node, path));
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return fail(fmt::format("'{}'", text));
  }
  return value;
}

Result<bool> NodeReader::Bool(const YAML::Node& node, const std::string& path) const {
  auto fail = [&](std::string_view got) {
    return Error(Fail(node, path, fmt::format("expected true or false, got {}", got)));
  };
  if (!node.IsScalar()) return fail(Describe(node));
  NS_ASSIGN_OR_RETURN(std::string text, String(node, path));
  const std::string lower = Lower(text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return fail(fmt::format("'{}'", text));
}

Result<std::vector<std::string>> NodeReader::StringList(const YAML::Node& node,
                                                        const std::string& path, size_t min_size,
                                                        bool allow_single) const {
  const std::string expected = allow_single ? "a string or a list of strings" : "a list of strings";
  std::vector<std::string> out;
  if (node.IsScalar() && allow_single) {
    NS_ASSIGN_OR_RETURN(std::string value, String(node, path));
    out.push_back(std::move(value));
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = JoinIndex(path, i);
      if (!item.IsScalar()) {
        return Error(
            Fail(item, item_path, fmt::format("expected a string, got {}", Describe(item))));
      }
      NS_ASSIGN_OR_RETURN(std::string value, String(item, item_path));
      out.push_back(std::move(value));
    }
  } else {
    return Error(Fail(node, path, fmt::format("expected {}, got {}", expected, Describe(node))));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].empty()) {
      return Error(
          Fail(node, node.IsSequence() ? JoinIndex(path, i) : path, "expected a non-empty string"));
    }
  }
  if (out.size() < min_size) {
    return Error(Fail(node, path,
                      fmt::format("expected at least {} entr{}, got none", min_size,
                                  min_size == 1 ? "y" : "ies")));
  }
  return out;
}

Result<std::string> NodeReader::Choice(const YAML::Node& node, const std::string& path,
                                       std::span<const std::string_view> choices) const {
  auto describe_choices = [&] { return fmt::format("{}", fmt::join(choices, ", ")); };
  if (!node.IsScalar()) {
    return Error(Fail(
        node, path, fmt::format("expected one of {}, got {}", describe_choices(), Describe(node))));
  }
  NS_ASSIGN_OR_RETURN(std::string value, String(node, path));
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return value;
  std::string what = fmt::format("expected one of {}, got '{}'", describe_choices(), value);
  if (auto close = ClosestMatch(value, choices))
    what += fmt::format("; did you mean '{}'?", *close);
  return Error(Fail(node, path, what));
}

Status NodeReader::ReadString(const YAML::Node& map, const std::string& path, std::string_view key,
                              std::string* out) const {
  std::optional<YAML::Node> node = Find(map, key);
  if (!node) return Status::Ok();
  NS_ASSIGN_OR_RETURN(*out, String(*node, JoinKey(path, key)));
  return Status::Ok();
}

Status NodeReader::ReadBool(const YAML::Node& map, const std::string& path, std::string_view key,
                            bool* out) const {
  std::optional<YAML::Node> node = Find(map, key);
  if (!node) return Status::Ok();
  NS_ASSIGN_OR_RETURN(*out, Bool(*node, JoinKey(path, key)));
  return Status::Ok();
}

}  // namespace nightshift::spec
