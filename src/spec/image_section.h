// The reader of one `preprocess: - image: {...}` step (job-spec.md, "Text,
// recommendations and documents"); preprocess_section.cc calls it.
#pragma once

#include <yaml-cpp/yaml.h>

#include "nightshift/job_spec.h"
#include "spec/job_schema.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// The step at `path` ("preprocess[1].image"), checked: InvalidJob naming the
// key for a missing column/into/size, a size that is not [height, width] of
// positive integers, an unknown resize/layout/color, mean or std lists of the
// wrong length (3, or 1 for gray) or a zero std.
Result<ImageSpec> ReadImageStep(const NodeReader& r, const YAML::Node& map, const std::string& path,
                                const SchemaNode& schema);

}  // namespace nightshift::spec
