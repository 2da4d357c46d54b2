// Where each key of a job file was written (JobSpec::key_sites), so that an
// error found after parsing (an input file that does not exist, a column the
// model wants that the input lacks) can still point at the line to fix; see
// JobKeySite in nightshift/job_spec.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "nightshift/job_spec.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// Every key path of `root` ("input.path", "model.inputs[0].columns") mapped
// to "<file>:<line>:<col>" of its key (of its element, for a list entry), or
// to "<file>: --set KEY" when an override supplied it.
std::map<std::string, std::string> KeySites(const YAML::Node& root, const std::string& file,
                                            const std::vector<OverrideSite>& overrides);

}  // namespace nightshift::spec
