// Status and Result<T>: errors as values across module boundaries.
//
// A Status is either OK or carries a Code and a human-readable message that
// names the file, row, key or field involved. Result<T> is std::expected<T,
// Status>. Library exceptions are caught in their adapters and turned into
// Status; nothing throws across a module boundary.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace nightshift {

enum class Code {
  kOk = 0,
  kInvalidJob,      // bad job file, bad flag, bad override
  kNotFound,        // missing input, model or run
  kSchemaMismatch,  // columns vs model inputs/outputs
  kModelError,      // model missing, not loadable, or the backend rejected a batch
  kInvalidData,     // a row that cannot be converted (poison item)
  kOutOfMemory,     // transient: retry with a smaller batch
  kTransient,       // transient: I/O hiccup, lost connection; retry with backoff
  kIoError,         // a file system or database error
  kInterrupted,     // SIGTERM/SIGINT
  kTimeout,         // a batch ran past errors.batch_timeout
  kFailed,          // the run failed (e.g. too many failed items)
  kConflict,        // final, never retried: another worker's claim or commit won (stale
                    // epoch, a shard already committed with another output)
  kInternal,        // a bug in nightshift
};

// Returns a short lower-case name for `code` ("invalid_job", ...).
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  // Lets `return Error(...)` work in functions returning Status as in Result<T>.
  Status(std::unexpected<Status> error) : Status(std::move(error).error()) {}  // NOLINT

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // True for errors worth retrying as they are (possibly with a smaller batch).
  bool transient() const {
    return code_ == Code::kTransient || code_ == Code::kOutOfMemory || code_ == Code::kTimeout;
  }

  // Returns a copy whose message is "`context`: <message>".
  Status WithContext(std::string_view context) const;

  // "<code name>: <message>", or "ok".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Status>;

inline std::unexpected<Status> Error(Code code, std::string message) {
  return std::unexpected<Status>(Status(code, std::move(message)));
}
inline std::unexpected<Status> Error(Status status) {
  return std::unexpected<Status>(std::move(status));
}

}  // namespace nightshift

#define NS_CONCAT_INNER_(a, b) a##b
#define NS_CONCAT_(a, b) NS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
// Works in functions that return Status or Result<T>.
#define NS_RETURN_IF_ERROR(expr)                                             \
  do {                                                                       \
    ::nightshift::Status ns_status_ = (expr);                                \
    if (!ns_status_.ok()) return ::nightshift::Error(std::move(ns_status_)); \
  } while (0)

// Evaluates `rexpr` (a Result<T>); on error returns its Status, otherwise
// moves the value into `lhs` (which may be a declaration).
#define NS_ASSIGN_OR_RETURN(lhs, rexpr) \
  NS_ASSIGN_OR_RETURN_IMPL_(NS_CONCAT_(ns_result_, __LINE__), lhs, rexpr)
#define NS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr)                          \
  auto tmp = (rexpr);                                                       \
  if (!tmp.has_value()) return ::nightshift::Error(std::move(tmp).error()); \
  lhs = std::move(tmp).value()
