#include "spec/key_sites.h"

#include <fmt/format.h>

#include <cctype>

#include "spec/job_schema.h"

namespace nightshift::spec {
namespace {

// True when `prefix` is `path` or one of its ancestors.
bool Covers(const std::string& prefix, const std::string& path) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[';
}

struct Walker {
  const std::string& file;
  const std::vector<OverrideSite>& overrides;
  std::map<std::string, std::string>* sites;

  std::string Site(const YAML::Node& node, const std::string& path) const {
    // The last override covering `path` is the one whose value is in the tree.
    for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
      if (Covers(it->path, path)) return fmt::format("{}: --set {}", file, it->key);
    }
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return "";
    return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
  }

  void Add(const YAML::Node& at, const std::string& path) {
    std::string site = Site(at, path);
    if (!site.empty()) (*sites)[path] = std::move(site);
  }

  // A job file is a few levels deep; the cap only guards against a tree made
  // of aliases (the caller walks trees that passed the schema).
  static constexpr int kMaxDepth = 12;

  void Walk(const YAML::Node& node, const std::string& path, int depth = 0) {
    if (depth > kMaxDepth) return;
    if (node.IsMap()) {
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) continue;
        std::string child = JoinKey(path, kv.first.Scalar());
        Add(kv.first, child);
        Walk(kv.second, child, depth + 1);
      }
    } else if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        std::string child = JoinIndex(path, i);
        Add(node[i], child);
        Walk(node[i], child, depth + 1);
      }
    }
  }
};

}  // namespace

std::map<std::string, std::string> KeySites(const YAML::Node& root, const std::string& file,
                                            const std::vector<OverrideSite>& overrides) {
  std::map<std::string, std::string> sites;
  Walker{file, overrides, &sites}.Walk(root, "");
  return sites;
}

}  // namespace nightshift::spec

namespace nightshift {
namespace {

// The key path a message starts with ("model.inputs[0].columns" of
// "model.inputs[0].columns: ..."; at least two parts), or "".
std::string LeadingPath(std::string_view message) {
  size_t end = 0;
  while (end < message.size()) {
    const char c = message[end];
    if (std::islower(static_cast<unsigned char>(c)) ||
        std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
        c == ']') {
      ++end;
    } else {
      break;
    }
  }
  if (end == message.size() || (message[end] != ' ' && message[end] != ':')) return "";
  // A bare word ("run r is being run ...") is prose, not a key path.
  const std::string_view path = message.substr(0, end);
  if (path.find_first_of(".[") == std::string_view::npos) return "";
  return std::string(path);
}

// "model.inputs[i]" / "model.outputs[i]" for "model input 'NAME'" /
// "model output 'NAME'" at the start of `message`, or "".
std::string ModelTensorPath(const JobSpec& job, std::string_view message) {
  for (const bool input : {true, false}) {
    const std::string_view lead = input ? "model input '" : "model output '";
    if (!message.starts_with(lead)) continue;
    const std::string_view rest = message.substr(lead.size());
    const std::string name(rest.substr(0, rest.find('\'')));
    if (input) {
      for (size_t i = 0; i < job.model.inputs.size(); ++i)
        if (job.model.inputs[i].name == name) return fmt::format("model.inputs[{}]", i);
    } else {
      for (size_t i = 0; i < job.model.outputs.size(); ++i)
        if (job.model.outputs[i].name == name) return fmt::format("model.outputs[{}]", i);
    }
  }
  return "";
}

}  // namespace

std::string JobKeySite(const JobSpec& job, std::string_view message) {
  std::string path = ModelTensorPath(job, message);
  if (path.empty()) path = LeadingPath(message);
  // The nearest key that was written: "input.path" of "input.path.x", a
  // list entry's key when the entry itself has no site.
  while (!path.empty()) {
    auto it = job.key_sites.find(path);
    if (it != job.key_sites.end()) return it->second;
    const size_t cut = path.find_last_of(".[");
    path = cut == std::string::npos ? "" : path.substr(0, cut);
  }
  return "";
}

}  // namespace nightshift
