#include "spec/job_schema.h"

#include <optional>

#include "spec/suggest.h"

namespace nightshift::spec {
namespace {

using K = SchemaKind;

constexpr SchemaNode kInput[] = {
    {"path", K::kValue, {}}, {"format", K::kValue, {}}, {"query", K::kValue, {}},
    {"key", K::kValue, {}},  {"url", K::kValue, {}},    {"allow_outside", K::kValue, {}},
};
constexpr SchemaNode kModelInput[] = {
    {"name", K::kValue, {}},      {"columns", K::kValue, {}},   {"dtype", K::kValue, {}},
    {"allow_nan", K::kValue, {}}, {"pad_value", K::kValue, {}}, {"mask_of", K::kValue, {}},
};
constexpr SchemaNode kModelOutput[] = {
    {"name", K::kValue, {}},
    {"columns", K::kValue, {}},
    {"column", K::kValue, {}},
};
constexpr SchemaNode kModel[] = {
    {"backend", K::kValue, {}},        {"path", K::kValue, {}},
    {"sha256", K::kValue, {}, true},   {"device", K::kValue, {}},
    {"threads", K::kValue, {}},        {"instances", K::kValue, {}},
    {"precision", K::kValue, {}},      {"allow_change", K::kValue, {}},
    {"inputs", K::kList, kModelInput}, {"outputs", K::kList, kModelOutput},
};
constexpr SchemaNode kBatch[] = {
    {"size", K::kValue, {}},
    {"max_memory", K::kValue, {}},
    {"sort_by_length", K::kValue, {}},
    {"max_tokens", K::kValue, {}},
};
constexpr SchemaNode kOutput[] = {
    {"path", K::kValue, {}},      {"format", K::kValue, {}}, {"keep", K::kValue, {}},
    {"overwrite", K::kValue, {}}, {"url", K::kValue, {}},    {"table", K::kValue, {}},
    {"mode", K::kValue, {}},
};
constexpr SchemaNode kErrors[] = {
    {"max_retries", K::kValue, {}},
    {"max_failed_items", K::kValue, {}},
    {"dead_letter", K::kValue, {}},
    {"batch_timeout", K::kValue, {}},
};
constexpr SchemaNode kRun[] = {
    {"shard_rows", K::kValue, {}},
    {"ledger", K::kValue, {}},
    {"drain_timeout", K::kValue, {}},
    {"lease", K::kValue, {}},
    {"allow_input_change", K::kValue, {}},
    {"writers", K::kValue, {}},
    {"readers", K::kValue, {}},
};
constexpr SchemaNode kSchedule[] = {
    {"cron", K::kValue, {}},        {"timezone", K::kValue, {}}, {"catchup", K::kValue, {}},
    {"max_catchup", K::kValue, {}}, {"overlap", K::kValue, {}},
};
constexpr SchemaNode kTrigger[] = {
    {"watch", K::kValue, {}},
    {"settle", K::kValue, {}},
};
constexpr SchemaNode kTokenize[] = {
    {"column", K::kValue, {}},
    {"tokenizer", K::kValue, {}},
    {"max_length", K::kValue, {}},
    {"into", K::kValue, {}},
};
constexpr SchemaNode kImage[] = {
    {"column", K::kValue, {}},       {"into", K::kValue, {}},  {"size", K::kValue, {}},
    {"resize", K::kValue, {}},       {"mean", K::kValue, {}},  {"std", K::kValue, {}},
    {"layout", K::kValue, {}},       {"color", K::kValue, {}}, {"max_pixels", K::kValue, {}},
    {"reducing_gap", K::kValue, {}},
};
constexpr SchemaNode kPdfPages[] = {
    {"column", K::kValue, {}},
    {"dpi", K::kValue, {}},
    {"into", K::kValue, {}},
};
constexpr SchemaNode kCrop[] = {
    {"image", K::kValue, {}},
    {"boxes", K::kValue, {}},
    {"into", K::kValue, {}},
    {"height", K::kValue, {}},
};
constexpr SchemaNode kPreprocessStep[] = {
    {"tokenize", K::kMap, kTokenize},
    {"image", K::kMap, kImage},
    {"crop", K::kMap, kCrop},
    {"pdf_pages", K::kMap, kPdfPages},
};
constexpr SchemaNode kTopK[] = {
    {"output", K::kValue, {}},
    {"k", K::kValue, {}},
    {"into", K::kValue, {}},
    {"labels", K::kValue, {}},
};
constexpr SchemaNode kCtcDecode[] = {
    {"output", K::kValue, {}},
    {"alphabet", K::kValue, {}},
    {"into", K::kValue, {}},
    {"blank", K::kValue, {}},
};
constexpr SchemaNode kTextBoxes[] = {
    {"output", K::kValue, {}}, {"threshold", K::kValue, {}}, {"box_threshold", K::kValue, {}},
    {"unclip", K::kValue, {}}, {"into", K::kValue, {}},
};
constexpr SchemaNode kPostprocessStep[] = {
    {"top_k", K::kMap, kTopK},
    {"ctc_decode", K::kMap, kCtcDecode},
    {"text_boxes", K::kMap, kTextBoxes},
};
constexpr SchemaNode kRootChildren[] = {
    {"name", K::kValue, {}},
    {"input", K::kMap, kInput},
    {"model", K::kMap, kModel},
    {"batch", K::kMap, kBatch},
    {"output", K::kMap, kOutput},
    {"errors", K::kMap, kErrors},
    {"run", K::kMap, kRun},
    {"schedule", K::kMap, kSchedule},
    {"trigger", K::kMap, kTrigger},
    {"preprocess", K::kList, kPreprocessStep},
    {"postprocess", K::kList, kPostprocessStep},
};
constexpr SchemaNode kRoot = {"", K::kMap, kRootChildren};

// Depth-first search for a key called `key` anywhere below `node`.
std::optional<std::string> FindAnywhere(const SchemaNode& node, const std::string& path,
                                        std::string_view key) {
  for (const SchemaNode& child : node.children) {
    std::string child_path = JoinKey(path, child.name);
    if (child.name == key) return child_path;
    if (child.kind == K::kList) child_path = JoinIndex(child_path, 0);
    if (auto found = FindAnywhere(child, child_path, key)) return found;
  }
  return std::nullopt;
}

}  // namespace

const SchemaNode& JobSchema() {
  return kRoot;
}

const SchemaNode* FindChild(const SchemaNode& node, std::string_view name) {
  for (const SchemaNode& child : node.children) {
    if (child.name == name) return &child;
  }
  return nullptr;
}

std::vector<std::string_view> ChildNames(const SchemaNode& node) {
  std::vector<std::string_view> names;
  names.reserve(node.children.size());
  for (const SchemaNode& child : node.children) names.push_back(child.name);
  return names;
}

std::string JoinKey(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out = parent;
  out += '.';
  out += key;
  return out;
}

std::string JoinIndex(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string SuggestKey(const SchemaNode& node, const std::string& parent, std::string_view key) {
  std::vector<std::string_view> names = ChildNames(node);
  if (auto close = ClosestMatch(key, names)) return JoinKey(parent, *close);
  // A top-level key that belongs in a section (`max_memory:` for
  // `batch.max_memory`). Deeper down, a same-named key elsewhere (an output's
  // `dtype`) is more likely a misunderstanding than a misplacement.
  if (parent.empty()) {
    if (auto elsewhere = FindAnywhere(kRoot, "", key)) return *elsewhere;
  }
  return "";
}

}  // namespace nightshift::spec
