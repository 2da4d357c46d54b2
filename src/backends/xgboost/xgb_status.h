// XGBoost C API errors as Status values, and an owning BoosterHandle.
// Internal to the xgboost backend.
#pragma once

#include <xgboost/c_api.h>

#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "nightshift/status.h"

namespace nightshift::xgb {

struct BoosterFree {
  void operator()(void* handle) const;
};
// An owned BoosterHandle (a void*), freed with XGBoosterFree.
using Booster = std::unique_ptr<std::remove_pointer_t<BoosterHandle>, BoosterFree>;

// XGBoost's last error on this thread (XGBGetLastError), without the stack
// trace XGBoost may append, trimmed.
std::string LastXgbError();

// OK when `rc` (a C API return code) is 0; otherwise "`context`: <XGBoost's
// last error>", as OutOfMemory when XGBoost failed to allocate (transient:
// worth retrying with a smaller batch), ModelError otherwise.
Status XgbStatus(int rc, std::string_view context);

// Calls `fn` (returning Status or Result<T>) and turns any exception it throws
// (ours: JSON parsing, allocation; XGBoost's own never cross its C API) into
// an error: std::bad_alloc into OutOfMemory, anything else into `fallback`
// with the exception's message. Never throws.
template <typename Fn>
auto CatchErrors(std::string_view context, Code fallback, Fn&& fn) noexcept -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::bad_alloc&) {
    return Error(Code::kOutOfMemory, std::string(context) + ": out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return Error(fallback, std::string(context) + ": " + e.what());
  } catch (...) {
    return Error(Code::kInternal, std::string(context) + ": unexpected non-standard exception");
  }
}

}  // namespace nightshift::xgb
