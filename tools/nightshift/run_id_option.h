// `--run-id ID`, as every command that takes one reads it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace nightshift::cli {

// Adds --run-id to `cmd`. An empty value is refused (exit 2): `--run-id
// "$RUN"` with RUN unset must not quietly mean "the default run".
inline CLI::Option* AddRunIdOption(CLI::App* cmd, std::string* run_id, const std::string& help) {
  const CLI::Validator non_empty(
      [](std::string& v) {
        return v.empty() ? std::string("must not be empty (leave --run-id out for the default)")
                         : std::string();
      },
      "", "NONEMPTY");
  return cmd->add_option("--run-id", *run_id, help)->check(non_empty);
}

}  // namespace nightshift::cli
