#include "nightshift/status.h"

namespace nightshift {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidJob: return "invalid_job";
    case Code::kNotFound: return "not_found";
    case Code::kSchemaMismatch: return "schema_mismatch";
    case Code::kModelError: return "model_error";
    case Code::kInvalidData: return "invalid_data";
    case Code::kOutOfMemory: return "out_of_memory";
    case Code::kTransient: return "transient";
    case Code::kIoError: return "io_error";
    case Code::kInterrupted: return "interrupted";
    case Code::kTimeout: return "timeout";
    case Code::kFailed: return "failed";
    case Code::kConflict: return "conflict";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace nightshift
