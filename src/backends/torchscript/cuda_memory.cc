#include "cuda_memory.h"

#include <c10/core/DeviceGuard.h>
#include <dlfcn.h>

#include <cstddef>

namespace nightshift::torchscript {
namespace {

// cudaError_t cudaMemGetInfo(size_t* free, size_t* total) and
// CUresult cuMemGetInfo_v2(size_t* free, size_t* total): both return 0 on
// success.
using MemGetInfoFn = int (*)(size_t*, size_t*);

void* FindSymbol(const char* name, std::initializer_list<const char*> libraries) {
  // Already in the process when libtorch's CUDA library is linked.
  if (void* sym = dlsym(RTLD_DEFAULT, name)) return sym;
  for (const char* lib : libraries) {
    // RTLD_NOLOAD: only a library that is already loaded; a CPU build must
    // not pull a CUDA runtime in.
    if (void* handle = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
      if (void* sym = dlsym(handle, name)) return sym;
    }
  }
  return nullptr;
}

struct MemGetInfo {
  MemGetInfoFn runtime = nullptr;
  MemGetInfoFn driver = nullptr;
};

// Looked up at each call (the probe asks a handful of times per run): a CUDA
// runtime loaded later in the process is found then.
MemGetInfo Functions() {
  MemGetInfo f;
  f.runtime = reinterpret_cast<MemGetInfoFn>(
      FindSymbol("cudaMemGetInfo",
                 {"libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"}));
  f.driver = reinterpret_cast<MemGetInfoFn>(FindSymbol("cuMemGetInfo_v2", {"libcuda.so.1"}));
  return f;
}

}  // namespace

std::optional<DeviceMemory> CurrentCudaMemory() {
  const MemGetInfo fns = Functions();
  size_t free_bytes = 0, total_bytes = 0;
  bool ok = fns.runtime != nullptr && fns.runtime(&free_bytes, &total_bytes) == 0;
  if (!ok && fns.driver != nullptr) ok = fns.driver(&free_bytes, &total_bytes) == 0;
  if (!ok || total_bytes == 0) return std::nullopt;
  return DeviceMemory{static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

std::optional<DeviceMemory> QueryCudaMemory(const c10::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  // Both functions report the calling thread's current device: make it ours.
  c10::DeviceGuard on_device(device);
  return CurrentCudaMemory();
}

}  // namespace nightshift::torchscript
