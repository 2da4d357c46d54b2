#include "spec/env_vars.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

namespace nightshift::spec {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

Result<std::string> SubstituteEnvVars(std::string_view text) {
  if (text.find('$') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$') {
      out += c;
      ++i;
      continue;
    }
    if (text.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      out += c;
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return Error(
          Code::kInvalidJob,
          fmt::format("unterminated '${{' in '{}' (write '$${{' for a literal '${{')", text));
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::string_view fallback;
    bool has_fallback = false;
    if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
      has_fallback = true;
    }
    if (!ValidName(name)) {
      return Error(Code::kInvalidJob,
                   fmt::format("invalid environment variable name '{}' in '${{{}}}'", name, body));
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (value != nullptr && (*value != '\0' || !has_fallback)) {
      out += value;
    } else if (has_fallback) {
      out += fallback;
    } else {
      return Error(Code::kInvalidJob, fmt::format("environment variable '{}' is not set", name));
    }
    i = close + 1;
  }
  return out;
}

}  // namespace nightshift::spec
