// The backend registry and the parts of the Backend interfaces every backend
// shares (see nightshift/backend.h).
#include "nightshift/backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <utility>

#include "nightshift/env.h"

namespace nightshift {
namespace {

// The registered factories by name. Registration happens at start-up, but the
// lock keeps a late RegisterBackend (tests) safe against a concurrent lookup.
struct Registry {
  std::mutex mu;
  std::map<std::string, BackendFactory> factories;  // sorted: stable error messages
};

Registry& GlobalRegistry() {
  static Registry* registry = new Registry();  // never destroyed: usable during exit
  return *registry;
}

std::string SpecList(const std::vector<TensorSpec>& specs) {
  std::string out;
  for (const TensorSpec& spec : specs) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}[{}]", spec.name, DTypeName(spec.dtype), fmt::join(spec.shape, ", "));
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

std::string Model::Signature() const {
  return fmt::format("inputs: {}; outputs: {}", SpecList(inputs()), SpecList(outputs()));
}

void RegisterBackend(const std::string& name, BackendFactory factory) {
  Registry& registry = GlobalRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.factories[name] = std::move(factory);  // a second registration replaces the first
}

Result<std::unique_ptr<Backend>> CreateBackend(const std::string& name) {
  BackendFactory factory;
  {
    Registry& registry = GlobalRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    auto it = registry.factories.find(name);
    if (it == registry.factories.end()) {
      std::vector<std::string> known;
      for (const auto& [known_name, unused] : registry.factories) known.push_back(known_name);
      if (known.empty()) {
        return Error(Code::kInvalidJob,
                     fmt::format("unknown model.backend '{}' (none registered: was "
                                 "RegisterBuiltinBackends() called?)",
                                 name));
      }
      return Error(Code::kInvalidJob, fmt::format("unknown model.backend '{}' (built in: {})", name,
                                                  fmt::join(known, ", ")));
    }
    factory = it->second;
  }
  // Outside the lock: a factory may be slow (it starts a runtime).
  return factory();
}

Status CheckModelFile(Env* env, const std::string& path, std::string_view kind) {
  Result<FileInfo> info = (env != nullptr ? env : Env::Default())->Stat(path);
  if (!info.has_value()) {
    if (info.error().code() == Code::kNotFound) {
      return Status(Code::kNotFound, fmt::format("model file '{}' not found", path));
    }
    return info.error().WithContext("cannot read the model file");
  }
  if (info->is_dir) {
    return Status(Code::kModelError,
                  fmt::format("model path '{}' is a directory, not {}", path, kind));
  }
  return Status::Ok();
}

Status RequireCpuDevice(const std::string& device, std::string_view backend,
                        std::string_view no_cuda) {
  std::string lower = device;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "cpu") return Status::Ok();
  if (lower.starts_with("cuda") || lower.starts_with("gpu"))
    return Status(Code::kInvalidJob, std::string(no_cuda));
  return Status(Code::kInvalidJob,
                fmt::format("unknown model.device '{}' for the {} backend (supported: cpu)", device,
                            backend));
}

}  // namespace nightshift
