// CUDA device memory, asked of the CUDA runtime (or driver) that the linked
// libtorch loaded, found by symbol at run time: the backend's sources use no
// CUDA headers, so they build against CPU and CUDA libtorch alike.
#pragma once

#include <c10/core/Device.h>

#include <optional>

#include "nightshift/backend.h"

namespace nightshift::torchscript {

// Free and total memory of `device` (cudaMemGetInfo, else the driver's
// cuMemGetInfo_v2). nullopt for a CPU device, or when neither symbol is
// present (a CPU-only libtorch) or the call fails. Must not be called
// concurrently with a CUDA device switch on the same thread.
std::optional<DeviceMemory> QueryCudaMemory(const c10::Device& device);

}  // namespace nightshift::torchscript
