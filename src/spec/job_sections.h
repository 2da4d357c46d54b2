// Readers for the sections of a job file: each checks one mapping against the
// schema and fills its part of JobSpec. Paths are stored as written (after
// ${VAR} substitution); job_parser.cc resolves them afterwards.
#pragma once

#include <yaml-cpp/yaml.h>

#include "nightshift/job_spec.h"
#include "nightshift/status.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// REQUIRES: `root` passed r.CheckMap against JobSchema().
Status ReadName(const NodeReader& r, const YAML::Node& root, std::string* name);
Status ReadInput(const NodeReader& r, const YAML::Node& root, InputSpec* input);
Status ReadModel(const NodeReader& r, const YAML::Node& root, ModelSpec* model);
Status ReadBatch(const NodeReader& r, const YAML::Node& root, BatchSpec* batch);
Status ReadOutput(const NodeReader& r, const YAML::Node& root, OutputSpec* output);
Status ReadErrors(const NodeReader& r, const YAML::Node& root, ErrorsSpec* errors);
// `output` (read before): run.writers above 1 needs a file output.
Status ReadRun(const NodeReader& r, const YAML::Node& root, OutputFormat output, RunSpec* run);

}  // namespace nightshift::spec
