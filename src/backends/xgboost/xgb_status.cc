#include "xgb_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace nightshift::xgb {
namespace {

bool IsAllocationFailure(std::string_view message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 4> kMarkers = {
      "bad_alloc", "out of memory", "failed to allocate", "memory allocation failed"};
  return std::any_of(kMarkers.begin(), kMarkers.end(), [&](std::string_view marker) {
    return lower.find(marker) != std::string::npos;
  });
}

}  // namespace

void BoosterFree::operator()(void* handle) const {
  if (handle != nullptr) XGBoosterFree(handle);
}

std::string LastXgbError() {
  const char* raw = XGBGetLastError();
  std::string message = raw != nullptr ? raw : "";
  // dmlc appends "\nStack trace:\n  [bt] (0) ..." when built with backtraces.
  if (size_t trace = message.find("Stack trace:"); trace != std::string::npos) {
    message.erase(trace);
  }
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!message.empty() && space(static_cast<unsigned char>(message.back()))) message.pop_back();
  size_t start = 0;
  while (start < message.size() && space(static_cast<unsigned char>(message[start]))) ++start;
  message.erase(0, start);
  return message.empty() ? "unknown XGBoost error" : message;
}

Status XgbStatus(int rc, std::string_view context) {
  if (rc == 0) return Status::Ok();
  std::string message = LastXgbError();
  Code code = IsAllocationFailure(message) ? Code::kOutOfMemory : Code::kModelError;
  return Status(code, fmt::format("{}: {}", context, message));
}

}  // namespace nightshift::xgb
