// libtorch errors as Status values, and the dtype mapping between libtorch and
// DType. Internal to the torchscript backend.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "nightshift/status.h"
#include "nightshift/tensor.h"

namespace nightshift::torchscript {

// True when `message` reports a failed allocation: the CUDA caching
// allocator's "CUDA out of memory", the CPU allocator's "not enough memory",
// a std::bad_alloc caught on the way.
bool IsAllocationFailure(std::string_view message);

// The useful part of a libtorch error message. Errors raised inside a
// TorchScript function come wrapped in two tracebacks ("The following
// operation failed in the TorchScript interpreter. ... <--- HERE ..."); this
// keeps the final exception text ("RuntimeError: mat1 and mat2 shapes cannot
// be multiplied (2x5 and 4x16)"). Other messages are returned trimmed.
std::string CondenseTorchMessage(std::string_view message);

// The Status for an error libtorch raised: OutOfMemory for allocation
// failures (transient: worth retrying with a smaller batch), ModelError
// otherwise. The message is "`context`: <condensed message>".
Status TorchErrorStatus(std::string_view context, std::string_view message);

// Calls `fn` (returning Status or Result<T>) and turns anything it throws into
// an error through TorchErrorStatus (c10::Error without its C++ backtrace,
// std::bad_alloc as OutOfMemory, any other exception as ModelError). Never
// throws.
template <typename Fn>
auto CatchTorchErrors(std::string_view context, Fn&& fn) noexcept -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const c10::Error& e) {
    return Error(TorchErrorStatus(context, e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return Error(Code::kOutOfMemory, std::string(context) + ": out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return Error(TorchErrorStatus(context, e.what()));
  } catch (...) {
    return Error(Code::kModelError, std::string(context) + ": unknown non-standard exception");
  }
}

// The DType of a libtorch scalar type; nullopt for types nightshift has no
// DType for (complex, quantized, uint16/32/64, float8, ...).
std::optional<DType> DTypeFromTorch(c10::ScalarType type);
c10::ScalarType TorchFromDType(DType dtype);

}  // namespace nightshift::torchscript
