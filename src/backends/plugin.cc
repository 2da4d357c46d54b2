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

Result<std::unique_ptr<Backend>> LoadBackendPlugin(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, NsCreateBackendFn> loaded;
  NsCreateBackendFn create = nullptr;
  const std::string path = BackendPluginPath(name);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = loaded.find(name);
    if (it != loaded.end()) {
      create = it->second;
    } else {
      if (!Exists(path)) {
        return Error(Code::kInvalidJob,
                     fmt::format("the {} backend's module '{}' is missing (it is built next to the "
                                 "nightshift binary; NIGHTSHIFT_BACKEND_DIR overrides where it is "
                                 "looked for)",
                                 name, path));
      }
      // RTLD_LOCAL: the module's copies of nightshift's own code stay its own.
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        const char* why = dlerror();
        return Error(Code::kInvalidJob, fmt::format("cannot load the {} backend from '{}': {}",
                                                    name, path, why ? why : "unknown error"));
      }
      create = reinterpret_cast<NsCreateBackendFn>(dlsym(handle, NS_BACKEND_PLUGIN_ENTRY_NAME));
      if (create == nullptr) {
        return Error(Code::kInvalidJob,
                     fmt::format("'{}' is not a nightshift backend module (no {} symbol)", path,
                                 NS_BACKEND_PLUGIN_ENTRY_NAME));
      }
      loaded.emplace(name, create);
    }
  }
  std::string error;
  Backend* backend = create(&error);
  if (backend == nullptr) {
    return Error(Code::kInvalidJob, fmt::format("the {} backend failed to start: {}", name, error));
  }
  return std::unique_ptr<Backend>(backend);
}

}  // namespace nightshift
