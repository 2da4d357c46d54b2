// CurrentCudaMemory against a real CUDA runtime when one is installed (the
// CUDA toolkit's libcudart): found by symbol once loaded, and on a machine
// without a GPU it answers "no figure" rather than failing.
#include "cuda_memory.h"

#include <c10/core/Device.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

namespace nightshift::torchscript {
namespace {

TEST(CudaMemoryTest, NoFigureForTheCpu) {
  EXPECT_FALSE(QueryCudaMemory(c10::Device(c10::DeviceType::CPU)).has_value());
}

TEST(CudaMemoryTest, AnswersThroughAnInstalledCudaRuntime) {
  void* cudart = nullptr;
  for (const char* path : {"/usr/local/cuda/lib64/libcudart.so", "libcudart.so.13",
                           "libcudart.so.12", "libcudart.so"}) {
    cudart = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (cudart != nullptr) break;
  }
  if (cudart == nullptr) GTEST_SKIP() << "no CUDA runtime installed";
  ASSERT_NE(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"), nullptr);
  std::optional<DeviceMemory> m = CurrentCudaMemory();
  if (torch::cuda::is_available()) {
    ASSERT_TRUE(m.has_value());
    EXPECT_GT(m->total_bytes, 0);
    EXPECT_LE(m->free_bytes, m->total_bytes);
  } else {
    // A runtime but no usable device (this CI machine): no figure, no crash.
    EXPECT_FALSE(m.has_value()) << m->free_bytes << " free of " << m->total_bytes;
  }
}

}  // namespace
}  // namespace nightshift::torchscript
