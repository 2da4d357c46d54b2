#include "exec/step_input.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace nightshift::exec {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape) dims.push_back(d < 0 ? "?" : std::to_string(d));
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

const InputColumn* FindColumn(const std::vector<InputColumn>& cols, const std::string& name) {
  for (const auto& c : cols) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Status CheckSoleColumn(const ModelInputSpec& in, const std::string& into, std::string_view kind) {
  if (in.columns.size() == 1 && in.mask_of.empty()) return Status::Ok();
  return Status(Code::kSchemaMismatch,
                fmt::format("model.inputs '{}' takes the {} column '{}' with other columns: the "
                            "{} step's `into` must be the input's only column",
                            in.name, kind, into, kind));
}

}  // namespace nightshift::exec
