// `nightshift --version`: the versions of nightshift and of every runtime it
// can use, so a bug report says exactly what ran.
#pragma once

#include <string>

namespace nightshift::cli {

// "nightshift X\nDuckDB vY\nbackend onnx: ONNX Runtime Z\n...": one line per
// backend this build has; a backend whose module cannot load says why.
std::string VersionText();

}  // namespace nightshift::cli
