#include "spec/database_input.h"

#include <fmt/format.h>

namespace nightshift::spec {
Result<bool> ReadDatabaseInput(const NodeReader& r, const YAML::Node& root, const YAML::Node& map,
                               InputSpec* input) {
  std::optional<YAML::Node> format = NodeReader::Find(map, "format");
  if (!format || !format->IsScalar() || format->Scalar() != "postgres") {
    if (std::optional<YAML::Node> url = NodeReader::Find(map, "url")) {
      return Error(r.Fail(*url, "input.url", "only input.format: postgres has it"));
    }
    return false;
  }
  if (std::optional<YAML::Node> path = NodeReader::Find(map, "path")) {
    return Error(r.Fail(*path, "input.path",
                        "a postgres input reads input.query from input.url, not files"));
  }
  if (std::optional<YAML::Node> trigger = NodeReader::Find(root, "trigger")) {
    return Error(r.Fail(*trigger, "trigger", "a postgres input cannot be triggered by files"));
  }
  input->format = InputFormat::kPostgres;
  NS_ASSIGN_OR_RETURN(input->url, r.RequiredString(map, "input", "url"));
  NS_ASSIGN_OR_RETURN(input->query, r.RequiredString(map, "input", "query"));
  NS_ASSIGN_OR_RETURN(YAML::Node key, r.Require(map, "input", "key"));
  NS_ASSIGN_OR_RETURN(input->key, r.StringList(key, "input.key", 1, true));
  if (input->key.size() != 1) {
    // Shards are ranges of one orderable column.
    return Error(r.Fail(key, "input.key",
                        fmt::format("a postgres input needs exactly one key column (shards are "
                                    "ranges of it), got {}",
                                    input->key.size())));
  }
  return true;
}

}  // namespace nightshift::spec
