// Tensor: a dense, row-major, typed buffer with a shape. The currency between
// the engine and backends: backends see tensors only, never files or columns.
//
// A Tensor either owns its bytes (Allocate) or views memory owned by someone
// else (View); views must not outlive that memory. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace nightshift {

enum class DType { kFloat32, kFloat64, kInt64, kInt32, kFloat16, kBFloat16, kInt8, kUInt8, kBool };

// "float32", "float64", "int64", ...
std::string_view DTypeName(DType dtype);
// Inverse of DTypeName; also accepts "float"/"double"/"long"/"int". Error naming
// the valid choices otherwise.
Result<DType> ParseDType(std::string_view name);
size_t DTypeSize(DType dtype);

class Tensor {
 public:
  Tensor() = default;
  Tensor(Tensor&&) = default;
  Tensor& operator=(Tensor&&) = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  // A tensor that owns zero-initialised storage for `shape`; storage is
  // 64-byte aligned and reused by Reshape while it fits.
  static Tensor Allocate(DType dtype, std::vector<int64_t> shape);
  // A tensor over `data` (not owned), which must hold NumElements * DTypeSize bytes.
  static Tensor View(DType dtype, std::vector<int64_t> shape, void* data);

  // Changes the shape in place; owned storage grows if needed (contents are then
  // unspecified). REQUIRES: an owning tensor, or a view whose memory fits.
  void Reshape(std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t NumElements() const;
  size_t ByteSize() const { return static_cast<size_t>(NumElements()) * DTypeSize(dtype_); }
  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }
  // "float32[1024, 3]"
  std::string DebugString() const;

 private:
  struct AlignedFree {
    void operator()(void* p) const;
  };
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  void* data_ = nullptr;
  std::unique_ptr<void, AlignedFree> storage_;
  size_t capacity_ = 0;
};

}  // namespace nightshift
