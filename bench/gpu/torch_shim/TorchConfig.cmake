# A minimal TorchConfig.cmake for the libtorch inside a PyTorch wheel, for
# machines where the wheel's own config cannot run: a CUDA wheel's config
# looks for a CUDA toolkit (nvcc, CUDA headers) to build CUDA code, which
# nightshift does not have or need (it uses libtorch's device-generic API).
#
# Use: -DTorch_DIR=<repo>/bench/gpu/torch_shim -DNS_TORCH_ROOT=<torch package dir>
#      [-DNS_TORCH_CXX11_ABI=0|1]
#   NS_TORCH_ROOT: python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))'
#   NS_TORCH_CXX11_ABI: python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'
#
# Defines what find_package(Torch) users read: Torch_FOUND, TORCH_INCLUDE_DIRS,
# TORCH_LIBRARIES (the imported target `torch`), TORCH_CXX_FLAGS.
if(TARGET torch)
  set(Torch_FOUND TRUE)
  return()
endif()
if(NOT NS_TORCH_ROOT OR NOT EXISTS "${NS_TORCH_ROOT}/include/torch/script.h")
  set(Torch_FOUND FALSE)
  set(Torch_NOT_FOUND_MESSAGE
      "set NS_TORCH_ROOT to a torch package directory holding include/torch/script.h")
  return()
endif()
if(NOT DEFINED NS_TORCH_CXX11_ABI)
  set(NS_TORCH_CXX11_ABI 1)
endif()

set(TORCH_INCLUDE_DIRS "${NS_TORCH_ROOT}/include"
                       "${NS_TORCH_ROOT}/include/torch/csrc/api/include")
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${NS_TORCH_CXX11_ABI}")

set(_ns_torch_libs)
foreach(_lib torch torch_cpu c10)
  set(_path "${NS_TORCH_ROOT}/lib/lib${_lib}.so")
  if(NOT EXISTS "${_path}")
    set(Torch_FOUND FALSE)
    set(Torch_NOT_FOUND_MESSAGE "${_path} is missing")
    return()
  endif()
  list(APPEND _ns_torch_libs "${_path}")
endforeach()
# The CUDA parts register themselves with libtorch when loaded: link them even
# though nothing references their symbols directly.
foreach(_lib torch_cuda c10_cuda)
  set(_path "${NS_TORCH_ROOT}/lib/lib${_lib}.so")
  if(EXISTS "${_path}")
    list(APPEND _ns_torch_libs "-Wl,--push-state,--no-as-needed" "${_path}" "-Wl,--pop-state")
    set(TORCH_CUDA_FOUND TRUE)
  endif()
endforeach()

add_library(torch INTERFACE IMPORTED)
set_target_properties(torch PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}"
  INTERFACE_COMPILE_OPTIONS "${TORCH_CXX_FLAGS}"
  INTERFACE_LINK_LIBRARIES "${_ns_torch_libs}"
  # The wheel's CUDA libraries find their own dependencies (cuBLAS, cuDNN, ...
  # in other wheels) through their RUNPATH at run time; the linker need not.
  INTERFACE_LINK_OPTIONS "-Wl,--allow-shlib-undefined;-Wl,-rpath,${NS_TORCH_ROOT}/lib")
set(TORCH_LIBRARIES torch)
set(Torch_FOUND TRUE)
