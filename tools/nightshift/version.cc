#include "version.h"

#include <duckdb.h>
#include <fmt/format.h>

#include "nightshift/backend.h"

namespace nightshift::cli {

std::string VersionText() {
  std::string out =
      fmt::format("nightshift {}\nDuckDB {}\n", NIGHTSHIFT_VERSION, duckdb_library_version());
  RegisterBuiltinBackends();
  for (const char* name : {"onnx", "torchscript", "xgboost"}) {
    auto backend = CreateBackend(name);
    out += backend.has_value()
               ? fmt::format("backend {}: {}\n", name, (*backend)->Version())
               : fmt::format("backend {}: not available ({})\n", name, backend.error().message());
  }
  return out;
}

}  // namespace nightshift::cli
