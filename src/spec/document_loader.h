// Loading the one YAML document of a job file, around yaml-cpp 0.7's pitfalls.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "nightshift/status.h"

namespace nightshift::spec {

// Parses `text` into its root mapping. InvalidJob, with "<file>:<line>:<col>"
// where known, when the text is not YAML, is empty, holds more than one
// document or its root is not a mapping. Never throws.
//
// YAML::LoadAll is avoided on purpose: in yaml-cpp 0.7 it loops forever,
// allocating, on a stray ',' at block level (jbeder/yaml-cpp#1040, fixed
// upstream by #1319 after 0.8). Each HandleNextDocument call terminates, so
// this takes the first document with YAML::Load and counts documents with a
// bounded number of calls.
Result<YAML::Node> LoadJobDocument(const std::string& text, const std::string& file);

}  // namespace nightshift::spec
