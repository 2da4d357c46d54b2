#include "exec/output_names.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace nightshift::exec {
namespace {

// ASCII case folding, as DuckDB compares identifiers.
bool SameIgnoringCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Status CheckOutputNames(const std::vector<OutputName>& names) {
  // Quadratic, but an output has tens of columns at most.
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const OutputName& a = names[j];
      const OutputName& b = names[i];
      if (a.name == b.name) {
        return Status(Code::kInvalidJob,
                      fmt::format("output column '{}' appears twice ({} and {}): output.keep and "
                                  "model.outputs must name distinct columns",
                                  a.name, a.origin, b.origin));
      }
      if (SameIgnoringCase(a.name, b.name)) {
        return Status(
            Code::kInvalidJob,
            fmt::format("output columns '{}' ({}) and '{}' ({}) differ only in case: column names "
                        "are case-insensitive in the output, so they must differ in more than case",
                        a.name, a.origin, b.name, b.origin));
      }
    }
  }
  return Status::Ok();
}

}  // namespace nightshift::exec
