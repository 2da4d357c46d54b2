// Backend plugins: optional backends (torchscript, xgboost) are shared
// modules loaded with dlopen the first time a job asks for them, so a job on
// another backend never loads their runtimes (libtorch alone adds ~0.5-1 s and
// ~160 MiB to every start when linked into the binary). As Triton does with
// its backends, each module exports one C entry point that creates the Backend.
//
// A module for backend NAME is the file `libnightshift_NAME.so`, looked up in
// $NIGHTSHIFT_BACKEND_DIR when set, else in the directory of the running
// executable (where the build puts it, next to `nightshift`), else in
// ../lib/nightshift from there (where `cmake --install` and the package put it).
#pragma once

#include <memory>
#include <string>

#include "nightshift/backend.h"
#include "nightshift/status.h"

// The entry point a backend module defines (with NS_BACKEND_PLUGIN below):
// returns a new Backend, or nullptr with `*error` set.
#define NS_BACKEND_PLUGIN_ENTRY nightshift_create_backend_v1
#define NS_BACKEND_PLUGIN_ENTRY_NAME "nightshift_create_backend_v1"
extern "C" {
using NsCreateBackendFn = nightshift::Backend* (*)(std::string* error);
}

// Defines the module's entry point from a factory
// `Result<std::unique_ptr<Backend>> (*)()`.
#define NS_BACKEND_PLUGIN(factory)                                                                \
  extern "C" __attribute__((visibility("default"))) nightshift::Backend* NS_BACKEND_PLUGIN_ENTRY( \
      std::string* error) {                                                                       \
    auto created = factory();                                                                     \
    if (!created.has_value()) {                                                                   \
      *error = created.error().message();                                                         \
      return nullptr;                                                                             \
    }                                                                                             \
    return created->release();                                                                    \
  }

namespace nightshift {

// The path of backend `name`'s module (see above).
std::string BackendPluginPath(const std::string& name);

// Loads module `name` (libnightshift_NAME.so, found as BackendPluginPath says;
// once per process, never unloaded) with RTLD_LOCAL and returns its exported
// `symbol`. Also used for libraries that must stay out of the process's global
// symbol scope (libsentencepiece carries its own protobuf, which would replace
// libtorch's). InvalidJob naming the file when it is missing or cannot be loaded.
Result<void*> LoadPluginEntry(const std::string& name, const char* symbol);

// Loads backend `name`'s module (once per process; it is never unloaded, as
// its models may live until exit) and creates a Backend with it. InvalidJob
// naming the file when it is missing or cannot be loaded (e.g. its runtime
// library is gone), with the loader's reason.
Result<std::unique_ptr<Backend>> LoadBackendPlugin(const std::string& name);

}  // namespace nightshift
