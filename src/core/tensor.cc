#include "nightshift/tensor.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

namespace nightshift {
namespace {

// Owned storage of `bytes` (a multiple of 64). From 2 MiB up it starts on a
// 2 MiB boundary and is marked for transparent huge pages (Linux's "madvise"
// mode, Debian's default; a hint the kernel may ignore): a batch of images
// is tens of MiB that the filler writes and the model reads batch after
// batch, and in 4 KiB pages its first filling took one page fault per 4 KiB
// (27,000 in a run of 1,000 VGA images, 3-4% of its CPU) and its every pass
// a TLB miss per 4 KiB. Smaller tensors keep 64-byte alignment.
void* AllocateStorage(size_t bytes) {
  constexpr size_t kHugePage = size_t{2} << 20;
  if (bytes < kHugePage) return std::aligned_alloc(64, bytes);
  // posix_memalign, not aligned_alloc: the size need not be a multiple of
  // the alignment (ASan holds aligned_alloc to C11's rule).
  void* p = nullptr;
  if (posix_memalign(&p, kHugePage, bytes) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, bytes, MADV_HUGEPAGE);  // a hint: failure changes nothing
#endif
  return p;
}

}  // namespace

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "unknown";
}

Result<DType> ParseDType(std::string_view name) {
  if (name == "float32" || name == "float") return DType::kFloat32;
  if (name == "float64" || name == "double") return DType::kFloat64;
  if (name == "int64" || name == "long") return DType::kInt64;
  if (name == "int32" || name == "int") return DType::kInt32;
  if (name == "float16" || name == "half") return DType::kFloat16;
  if (name == "bfloat16") return DType::kBFloat16;
  if (name == "int8") return DType::kInt8;
  if (name == "uint8") return DType::kUInt8;
  if (name == "bool") return DType::kBool;
  return Error(Code::kInvalidJob,
               fmt::format("unknown dtype '{}' (valid: float32, float64, int64, int32, float16, "
                           "bfloat16, int8, uint8, bool)",
                           name));
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat64:
    case DType::kInt64: return 8;
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool: return 1;
  }
  return 1;
}

void Tensor::AlignedFree::operator()(void* p) const {
  std::free(p);
}

Tensor Tensor::Allocate(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.Reshape(std::move(shape));
  if (t.data_ != nullptr) std::memset(t.data_, 0, t.ByteSize());
  return t;
}

Tensor Tensor::View(DType dtype, std::vector<int64_t> shape, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

void Tensor::Reshape(std::vector<int64_t> shape) {
  shape_ = std::move(shape);
  if (!storage_ && data_ != nullptr) return;  // a view: caller guarantees the fit
  size_t need = ByteSize();
  if (need > capacity_ || !storage_) {
    size_t bytes = (std::max<size_t>(need, 64) + 63) / 64 * 64;
    storage_.reset(AllocateStorage(bytes));
    capacity_ = bytes;
    data_ = storage_.get();
  }
}

int64_t Tensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

std::string Tensor::DebugString() const {
  return fmt::format("{}[{}]", DTypeName(dtype_), fmt::join(shape_, ", "));
}

}  // namespace nightshift
