// ${VAR} substitution in job file strings.
#pragma once

#include <string>
#include <string_view>

#include "nightshift/status.h"

namespace nightshift::spec {

// Replaces every `${VAR}` in `text` with the value of the environment variable
// VAR (getenv). Also understood:
//   ${VAR:-fallback}  the fallback text when VAR is unset or empty;
//   $${               a literal "${" (so "$${HOME}" stays "${HOME}");
//   a `$` not followed by `{` is kept as is.
// VAR must match [A-Za-z_][A-Za-z0-9_]*. Returns InvalidJob, with a message
// that has no location (the caller adds file, line and key), when a variable
// is unset, a name is malformed or a `${` is not closed.
Result<std::string> SubstituteEnvVars(std::string_view text);

}  // namespace nightshift::spec
