// The backend registry and the parts of the Backend interfaces every backend
// shares (see nightshift/backend.h).
#include "nightshift/backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <mutex>
#include <utility>

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

}  // namespace nightshift
