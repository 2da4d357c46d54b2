// ONNX Runtime errors as Status values, and the element-type mapping between
// ONNX and DType. Internal to the onnx backend.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "nightshift/status.h"
#include "nightshift/tensor.h"

namespace nightshift::onnx {

// True when ORT's `message` reports a failed memory allocation (its arena's
// "Failed to allocate memory", a std::bad_alloc it caught, ...).
bool IsAllocationFailure(std::string_view message);

// The Status for an error ORT raised: OutOfMemory for allocation failures
// (transient: worth retrying with a smaller batch), ModelError otherwise. The
// message is "`context`: `message`".
Status OrtErrorStatus(std::string_view context, std::string_view message);

// Calls `fn` (returning Status or Result<T>) and turns any exception it throws
// into an error: Ort::Exception through OrtErrorStatus, std::bad_alloc into
// OutOfMemory, anything else into Internal. Never throws.
template <typename Fn>
auto CatchOrtErrors(std::string_view context, Fn&& fn) noexcept -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const Ort::Exception& e) {
    return Error(OrtErrorStatus(context, e.what()));
  } catch (const std::bad_alloc&) {
    return Error(Code::kOutOfMemory, std::string(context) + ": out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return Error(Code::kInternal, std::string(context) + ": unexpected exception: " + e.what());
  } catch (...) {
    return Error(Code::kInternal, std::string(context) + ": unexpected non-standard exception");
  }
}

// The DType of an ONNX tensor element type; nullopt for types nightshift has
// no DType for (string, complex, unsigned 16/32/64-bit, float8, ...).
std::optional<DType> DTypeFromOnnx(ONNXTensorElementDataType type);
ONNXTensorElementDataType OnnxFromDType(DType dtype);
// "tensor(string)", "sequence", "map", ...: how an unsupported type is named in
// error messages.
std::string OnnxTypeName(ONNXType type, ONNXTensorElementDataType element_type);

}  // namespace nightshift::onnx
