// NodeReader: typed, located reads from a parsed job tree.
//
// Every error is Code::kInvalidJob with a message that says where the value
// came from and which key it is:
//   "<file>:<line>:<col>: batch.size: expected a positive integer or 'auto', got 'abc'"
//   "<file>: --set batch.size: expected a positive integer or 'auto', got 'abc'"
// String scalars have ${VAR} substituted (env_vars.h) as they are read.
// yaml-cpp calls made here never throw for the node kinds checked first; the
// parser still wraps everything in a catch as a backstop. Not thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"
#include "spec/job_schema.h"

namespace nightshift::spec {

// A `--set` applied to the tree: the key as typed and the display path it set
// ("model.inputs.0.dtype" -> "model.inputs[0].dtype").
struct OverrideSite {
  std::string key;
  std::string path;
};

class NodeReader {
 public:
  // `file` names the job file in messages; `overrides` are the --set sites
  // whose values replaced parts of the tree.
  NodeReader(std::string file, std::vector<OverrideSite> overrides);

  const std::string& file() const { return file_; }

  // An InvalidJob status for the value `node` at `path`: "<where>: <path>: <what>".
  Status Fail(const YAML::Node& node, const std::string& path, std::string_view what) const;

  // Checks that `map` is a mapping whose keys are all children of `schema`,
  // with no key given twice. Errors name the full key path and suggest the
  // closest valid key.
  Status CheckMap(const YAML::Node& map, const std::string& path, const SchemaNode& schema) const;

  // A key of a mapping given with a null value (`size:`, `size: null`, `~`):
  // an error naming the key and line, unless null means something there
  // (SchemaNode::nullable, an empty section) or a `--set KEY=` removed it.
  Status CheckNotNull(const YAML::Node& key_node, const YAML::Node& value, const std::string& path,
                      const SchemaNode& schema) const;

  // The value of `key` in the mapping `map`; nullopt when the key is absent
  // or its value is null (only a nullable key, an empty section or a
  // `--set KEY=` pass CheckMap with a null value), which means "use the default".
  static std::optional<YAML::Node> Find(const YAML::Node& map, std::string_view key);

  // The error for a key missing from the mapping `map` at `path`:
  // "<where>: missing required key '<path>.<key>'" plus " (or '<path>.<alternative>')".
  Status Missing(const YAML::Node& map, const std::string& path, std::string_view key,
                 std::string_view alternative = {}) const;

  // Like Find, but a missing key is an error naming JoinKey(path, key).
  Result<YAML::Node> Require(const YAML::Node& map, const std::string& path,
                             std::string_view key) const;

  // A scalar as a string, ${VAR} substituted.
  Result<std::string> String(const YAML::Node& node, const std::string& path) const;
  // The same, which must not be empty.
  Result<std::string> NonEmptyString(const YAML::Node& node, const std::string& path) const;
  // A required key of `map` holding a non-empty string (Require, then NonEmptyString).
  Result<std::string> RequiredString(const YAML::Node& map, const std::string& path,
                                     std::string_view key) const;
  // An integer scalar in [min, max]; `expected` replaces the default
  // description ("an integer >= 1") in the message when given.
  Result<int64_t> Int(const YAML::Node& node, const std::string& path, int64_t min, int64_t max,
                      std::string_view expected = {}) const;
  // true/false (also yes/no, on/off).
  Result<bool> Bool(const YAML::Node& node, const std::string& path) const;
  // A string or a list of strings, with at least `min_size` entries, none empty.
  Result<std::vector<std::string>> StringList(const YAML::Node& node, const std::string& path,
                                              size_t min_size, bool allow_single) const;
  // One of `choices`; otherwise an error listing them, with a suggestion.
  Result<std::string> Choice(const YAML::Node& node, const std::string& path,
                             std::span<const std::string_view> choices) const;

  // Optional keys of `map`: leave `*out` (the default) alone when absent.
  Status ReadString(const YAML::Node& map, const std::string& path, std::string_view key,
                    std::string* out) const;
  Status ReadBool(const YAML::Node& map, const std::string& path, std::string_view key,
                  bool* out) const;
  template <typename T>
  Status ReadInt(const YAML::Node& map, const std::string& path, std::string_view key, int64_t min,
                 T* out) const {
    std::optional<YAML::Node> node = Find(map, key);
    if (!node) return Status::Ok();
    auto value = Int(*node, JoinKey(path, key), min, std::numeric_limits<T>::max());
    if (!value) return value.error();
    *out = static_cast<T>(*value);
    return Status::Ok();
  }

  // "a list", "a mapping", "null" or the scalar in quotes: for "got ..." messages.
  static std::string Describe(const YAML::Node& node);

 private:
  // "<file>:<line>:<col>" or "<file>: --set <key>"; sets *site to the override
  // that supplied the value at `path`, or to nullptr.
  std::string Where(const YAML::Node& node, const std::string& path,
                    const OverrideSite** site) const;

  std::string file_;
  std::vector<OverrideSite> overrides_;
};

}  // namespace nightshift::spec
