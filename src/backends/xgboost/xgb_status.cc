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
  std::string_view message = raw != nullptr ? raw : "";
  // dmlc appends "\nStack trace:\n  [bt] (0) ..." when built with backtraces.
  if (size_t trace = message.find("Stack trace:"); trace != std::string_view::npos) {
    message = message.substr(0, trace);
  }
  // dmlc's "[19:25:17] ./src/c_api/c_api.cc:1073: " prefix: a time and a
  // source location of XGBoost's, of no use to a user.
  if (message.size() > 11 && message[0] == '[' && message[9] == ']' && message[10] == ' ') {
    size_t colon = message.find(": ", 11);
    size_t space = message.find(' ', 11);
    if (colon != std::string_view::npos && colon <= space) message.remove_prefix(colon + 2);
  }
  // One line: XGBoost's JSON errors quote the text around the fault over
  // several lines.
  std::string out;
  bool pending_space = false;
  for (char c : message) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out.empty() ? "unknown XGBoost error" : out;
}

Status XgbStatus(int rc, std::string_view context) {
  if (rc == 0) return Status::Ok();
  std::string message = LastXgbError();
  Code code = IsAllocationFailure(message) ? Code::kOutOfMemory : Code::kModelError;
  return Status(code, fmt::format("{}: {}", context, message));
}

}  // namespace nightshift::xgb
