#include "ort_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace nightshift::onnx {

bool IsAllocationFailure(std::string_view message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // What ORT's allocators say when memory runs out: the BFC arena ("Failed to
  // allocate memory for requested buffer of size N"), a caught std::bad_alloc,
  // the CUDA/ROCm allocators ("out of memory").
  static constexpr std::array<std::string_view, 5> kMarkers = {
      "bad_alloc", "failed to allocate", "allocation failed", "allocation failure",
      "out of memory"};
  return std::any_of(kMarkers.begin(), kMarkers.end(), [&](std::string_view marker) {
    return lower.find(marker) != std::string::npos;
  });
}

Status OrtErrorStatus(std::string_view context, std::string_view message) {
  Code code = IsAllocationFailure(message) ? Code::kOutOfMemory : Code::kModelError;
  return Status(code, fmt::format("{}: {}", context, message));
}

std::optional<DType> DTypeFromOnnx(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return DType::kFloat32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return DType::kFloat64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return DType::kInt64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return DType::kInt32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return DType::kFloat16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return DType::kBFloat16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return DType::kInt8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return DType::kUInt8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return DType::kBool;
    default: return std::nullopt;
  }
}

ONNXTensorElementDataType OnnxFromDType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case DType::kFloat64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
    case DType::kInt64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case DType::kInt32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case DType::kFloat16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case DType::kBFloat16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
    case DType::kInt8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case DType::kUInt8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case DType::kBool: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
  }
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

namespace {

std::string_view ElementTypeName(ONNXTensorElementDataType type) {
  if (auto dtype = DTypeFromOnnx(type)) return DTypeName(*dtype);
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "string";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return "uint16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "int16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return "uint32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return "uint64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64: return "complex64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128: return "complex128";
    default: return "";
  }
}

}  // namespace

std::string OnnxTypeName(ONNXType type, ONNXTensorElementDataType element_type) {
  switch (type) {
    case ONNX_TYPE_TENSOR: {
      std::string_view name = ElementTypeName(element_type);
      if (name.empty())
        return fmt::format("tensor(element type {})", static_cast<int>(element_type));
      return fmt::format("tensor({})", name);
    }
    case ONNX_TYPE_SEQUENCE: return "sequence";
    case ONNX_TYPE_MAP: return "map";
    case ONNX_TYPE_OPAQUE: return "opaque";
    case ONNX_TYPE_SPARSETENSOR: return "sparse tensor";
    case ONNX_TYPE_OPTIONAL: return "optional";
    default: return fmt::format("ONNX type {}", static_cast<int>(type));
  }
}

}  // namespace nightshift::onnx
