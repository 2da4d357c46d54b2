// Reader for the `postprocess:` list of a job file (job-spec.md, "Text,
// recommendations and documents"): `top_k`, `ctc_decode` and `text_boxes`
// steps, each a one-key mapping.
#pragma once

#include <yaml-cpp/yaml.h>

#include "nightshift/job_spec.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// REQUIRES: `root` passed r.CheckMap against JobSchema(). Appends each step
// to model->top_k, ctc_decode or text_boxes; labels and alphabet paths are
// stored as written (the parser resolves them). InvalidJob naming the step
// (`postprocess[1].text_boxes.unclip`) for a missing or bad key, or a step
// that is not one mapping with one known key.
Status ReadPostprocess(const NodeReader& r, const YAML::Node& root, ModelSpec* model);

}  // namespace nightshift::spec
