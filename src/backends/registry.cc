// RegisterBuiltinBackends: the backends compiled into this binary. Optional
// backends (torchscript, xgboost) add their line here behind their CMake option.
#include <mutex>

#include "nightshift/backend.h"
#include "onnxruntime/onnx_backend.h"

namespace nightshift {

void RegisterBuiltinBackends() {
  static std::once_flag once;
  std::call_once(once, [] { RegisterBackend("onnx", CreateOnnxBackend); });
}

}  // namespace nightshift
