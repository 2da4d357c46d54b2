#include "exec/step_input.h"

#include <fmt/format.h>

namespace nightshift::exec {

Status CheckSoleColumn(const ModelInputSpec& in, const std::string& into, std::string_view kind) {
  if (in.columns.size() == 1 && in.mask_of.empty()) return Status::Ok();
  return Status(Code::kSchemaMismatch,
                fmt::format("model.inputs '{}' takes the {} column '{}' with other columns: the "
                            "{} step's `into` must be the input's only column",
                            in.name, kind, into, kind));
}

}  // namespace nightshift::exec
