// RegisterBuiltinBackends: the backends this build has. onnx is linked in;
// the optional ones (torchscript, xgboost), built when CMake found their
// runtime (NIGHTSHIFT_WITH_TORCH, NIGHTSHIFT_WITH_XGBOOST), are modules loaded
// the first time a job asks for them (plugin.h).
#include <mutex>

#include "nightshift/backend.h"
#include "onnxruntime/onnx_backend.h"
#include "plugin.h"

namespace nightshift {

void RegisterBuiltinBackends() {
  static std::once_flag once;
  std::call_once(once, [] {
    PrepareOnnxRuntimeProcess();
    RegisterBackend("onnx", CreateOnnxBackend);
#ifdef NIGHTSHIFT_WITH_TORCH
    RegisterBackend("torchscript", [] { return LoadBackendPlugin("torchscript"); });
#endif
#ifdef NIGHTSHIFT_WITH_XGBOOST
    RegisterBackend("xgboost", [] { return LoadBackendPlugin("xgboost"); });
#endif
  });
}

}  // namespace nightshift
