#include "plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "nightshift/env.h"

namespace nightshift {
namespace {

// Plugins are loaded once per process, not per run: they are looked up
// through the process's Env, not a run's.
bool Exists(const std::string& path) {
  return Env::Default()->Stat(path).has_value();
}

std::string ExecutableDir() {
  auto exe = Env::Default()->ExecutablePath();
  if (!exe.has_value()) return ".";
  const std::string& path = *exe;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

std::string BackendPluginPath(const std::string& name) {
  const std::string file = "/libnightshift_" + name + ".so";
  const char* dir = std::getenv("NIGHTSHIFT_BACKEND_DIR");
  if (dir != nullptr && *dir != '\0') return dir + file;
  // Next to the binary in a build tree; lib/nightshift/ beside bin/ when installed.
  const std::string exe_dir = ExecutableDir();
  const std::string installed = exe_dir + "/../lib/nightshift" + file;
  if (!Exists(exe_dir + file) && Exists(installed)) {
    return installed;
  }
  return exe_dir + file;
}

Result<void*> LoadPluginEntry(const std::string& name, const char* symbol) {
  static std::mutex mu;
  static std::map<std::string, void*> loaded;  // name + symbol -> entry
  const std::string path = BackendPluginPath(name);
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded.find(name + '\0' + symbol);
  if (it != loaded.end()) return it->second;
  if (!Exists(path)) {
    return Error(Code::kInvalidJob,
                 fmt::format("nightshift's {} module '{}' is missing (it is built next to the "
                             "nightshift binary; NIGHTSHIFT_BACKEND_DIR overrides where it is "
                             "looked for)",
                             name, path));
  }
  // RTLD_LOCAL: the module's copies of nightshift's own code (and its
  // libraries' symbols) stay its own.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Error(Code::kInvalidJob, fmt::format("cannot load nightshift's {} module from '{}': {}",
                                                name, path, why ? why : "unknown error"));
  }
  void* entry = dlsym(handle, symbol);
  if (entry == nullptr) {
    return Error(Code::kInvalidJob, fmt::format("'{}' is not nightshift's {} module (no {} symbol)",
                                                path, name, symbol));
  }
  loaded.emplace(name + '\0' + symbol, entry);
  return entry;
}

Result<std::unique_ptr<Backend>> LoadBackendPlugin(const std::string& name) {
  NS_ASSIGN_OR_RETURN(void* entry, LoadPluginEntry(name, NS_BACKEND_PLUGIN_ENTRY_NAME));
  auto create = reinterpret_cast<NsCreateBackendFn>(entry);
  std::string error;
  Backend* backend = create(&error);
  if (backend == nullptr) {
    return Error(Code::kInvalidJob, fmt::format("the {} backend failed to start: {}", name, error));
  }
  return std::unique_ptr<Backend>(backend);
}

}  // namespace nightshift
