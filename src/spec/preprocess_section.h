// Reader for the `preprocess:` list of a job file (job-spec.md, "Text,
// recommendations and documents"): `tokenize`, `image`
// (spec/image_section.h) and `crop` steps. The `postprocess:` list is read in
// postprocess_section.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <vector>

#include "nightshift/job_spec.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// REQUIRES: `root` passed r.CheckMap against JobSchema(). Tokenizer paths are
// stored as written; the parser resolves them. InvalidJob naming the step
// (`preprocess[0].tokenize.into`) for a missing or bad key, a step that is
// not one mapping with one known key, or two steps with the same `into`.
Status ReadPreprocess(const NodeReader& r, const YAML::Node& root,
                      std::vector<TokenizeSpec>* tokenize, std::vector<ImageSpec>* images,
                      std::vector<CropSpec>* crops);

}  // namespace nightshift::spec
