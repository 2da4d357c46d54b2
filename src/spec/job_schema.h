// The shape of a job file: which keys exist at which level. One table serves
// the unknown-key check in files, the path check of `--set` overrides and the
// "did you mean" suggestions, so the three cannot disagree.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nightshift::spec {

enum class SchemaKind {
  kValue,  // a scalar, or a scalar-or-list leaf (input.key, output.keep, columns)
  kMap,    // a mapping with the keys in `children`
  kList,   // a sequence of mappings, each with the keys in `children`
};

struct SchemaNode {
  std::string_view name;
  SchemaKind kind = SchemaKind::kValue;
  std::span<const SchemaNode> children;
  // A value may be written as null (`sha256: null`): the documented "none".
  // Any other key given with a null value is an error (CheckMap), so that
  // `size:` with its value forgotten never silently means the default.
  bool nullable = false;
};

// The root mapping of a job file.
const SchemaNode& JobSchema();

// The child of `node` called `name`; nullptr when there is none.
const SchemaNode* FindChild(const SchemaNode& node, std::string_view name);

// Names of the children of `node`, in schema order.
std::vector<std::string_view> ChildNames(const SchemaNode& node);

// Display form of key paths: "batch.size", "model.inputs[0].dtype".
std::string JoinKey(const std::string& parent, std::string_view key);
std::string JoinIndex(const std::string& parent, size_t index);

// The closest valid key to `key` among the children of `node`, as a full
// display path under `parent` ("batch.size"); when none is close, the full
// path of a key with exactly that name in a section, for a key given at the
// top level (`size` suggests "batch.size"). Empty when nothing fits.
std::string SuggestKey(const SchemaNode& node, const std::string& parent, std::string_view key);

}  // namespace nightshift::spec
