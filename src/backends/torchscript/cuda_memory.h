// CUDA device memory, asked of the CUDA runtime (or driver) that the linked
// libtorch loaded, found by symbol at run time: the backend's sources use no
// CUDA headers, so they build against CPU and CUDA libtorch alike.
#pragma once

#include <c10/core/Device.h>

#include <optional>

#include "nightshift/backend.h"

namespace nightshift::torchscript {

// Free and total memory of the calling thread's current CUDA device, from the
// CUDA runtime already loaded in the process (cudaMemGetInfo), else the
// driver's cuMemGetInfo_v2. nullopt when neither is loaded (a CPU-only
// libtorch) or the call fails (no device, no driver).
std::optional<DeviceMemory> CurrentCudaMemory();

// CurrentCudaMemory() of `device`, made current for the call. nullopt for a
// CPU device. Throws c10::Error when libtorch cannot switch to the device.
std::optional<DeviceMemory> QueryCudaMemory(const c10::Device& device);

}  // namespace nightshift::torchscript
