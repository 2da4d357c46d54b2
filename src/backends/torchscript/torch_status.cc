#include "torch_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace nightshift::torchscript {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsAllocationFailure(std::string_view message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 5> kMarkers = {"out of memory", "not enough memory",
                                                               "bad_alloc", "failed to allocate",
                                                               "cudaerrormemoryallocation"};
  return std::any_of(kMarkers.begin(), kMarkers.end(), [&](std::string_view marker) {
    return lower.find(marker) != std::string::npos;
  });
}

std::string CondenseTorchMessage(std::string_view message) {
  constexpr std::string_view kInterpreter = "failed in the TorchScript interpreter";
  constexpr std::string_view kHere = "<--- HERE";
  if (message.find(kInterpreter) != std::string_view::npos) {
    size_t here = message.rfind(kHere);
    if (here != std::string_view::npos) {
      std::string_view tail = Trim(message.substr(here + kHere.size()));
      if (!tail.empty()) return std::string(tail);
    }
  }
  return std::string(Trim(message));
}

Status TorchErrorStatus(std::string_view context, std::string_view message) {
  Code code = IsAllocationFailure(message) ? Code::kOutOfMemory : Code::kModelError;
  return Status(code, fmt::format("{}: {}", context, CondenseTorchMessage(message)));
}

std::optional<DType> DTypeFromTorch(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float: return DType::kFloat32;
    case c10::ScalarType::Double: return DType::kFloat64;
    case c10::ScalarType::Long: return DType::kInt64;
    case c10::ScalarType::Int: return DType::kInt32;
    case c10::ScalarType::Half: return DType::kFloat16;
    case c10::ScalarType::BFloat16: return DType::kBFloat16;
    case c10::ScalarType::Char: return DType::kInt8;
    case c10::ScalarType::Byte: return DType::kUInt8;
    case c10::ScalarType::Bool: return DType::kBool;
    default: return std::nullopt;
  }
}

c10::ScalarType TorchFromDType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return c10::ScalarType::Float;
    case DType::kFloat64: return c10::ScalarType::Double;
    case DType::kInt64: return c10::ScalarType::Long;
    case DType::kInt32: return c10::ScalarType::Int;
    case DType::kFloat16: return c10::ScalarType::Half;
    case DType::kBFloat16: return c10::ScalarType::BFloat16;
    case DType::kInt8: return c10::ScalarType::Char;
    case DType::kUInt8: return c10::ScalarType::Byte;
    case DType::kBool: return c10::ScalarType::Bool;
  }
  return c10::ScalarType::Undefined;
}

}  // namespace nightshift::torchscript
