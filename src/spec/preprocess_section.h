// Readers for the `preprocess:` and `postprocess:` lists of a job file
// (job-spec.md, "Text, recommendations and documents"): `tokenize` and
// `image` (spec/image_section.h) steps, and `top_k` steps.
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
                      std::vector<TokenizeSpec>* tokenize, std::vector<ImageSpec>* images);

// The `postprocess:` list (top_k steps), checked the same way; labels paths
// are stored as written.
Status ReadPostprocess(const NodeReader& r, const YAML::Node& root, std::vector<TopKSpec>* top_k);

}  // namespace nightshift::spec
