// RegisterBuiltinBackends: the backends compiled into this binary. Optional
// backends (torchscript, xgboost) are compiled in when CMake found their
// runtime (NIGHTSHIFT_WITH_TORCH, NIGHTSHIFT_WITH_XGBOOST).
#include <mutex>

#include "nightshift/backend.h"
#include "onnxruntime/onnx_backend.h"
#ifdef NIGHTSHIFT_WITH_TORCH
#include "torchscript/torch_backend.h"
#endif
#ifdef NIGHTSHIFT_WITH_XGBOOST
#include "xgboost/xgb_backend.h"
#endif

namespace nightshift {

void RegisterBuiltinBackends() {
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterBackend("onnx", CreateOnnxBackend);
#ifdef NIGHTSHIFT_WITH_TORCH
    RegisterBackend("torchscript", CreateTorchBackend);
#endif
#ifdef NIGHTSHIFT_WITH_XGBOOST
    RegisterBackend("xgboost", CreateXgbBackend);
#endif
  });
}

}  // namespace nightshift
