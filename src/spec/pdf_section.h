// The reader of one `preprocess: - pdf_pages: {...}` step (job-spec.md, "Text,
// recommendations and documents"), and the rules that tie it to the image
// step that reads its pages; preprocess_section.cc calls both.
#pragma once

#include <yaml-cpp/yaml.h>

#include <vector>

#include "nightshift/job_spec.h"
#include "spec/job_schema.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// Rendering resolution bounds: below 10 dpi nothing is legible; an A4 page at
// 1200 dpi is already 140 megapixels.
constexpr int64_t kMinDpi = 10;
constexpr int64_t kMaxDpi = 1200;

// The step at `path` ("preprocess[0].pdf_pages"), checked: InvalidJob naming
// the key for a missing column/into or a dpi outside [kMinDpi, kMaxDpi].
Result<PdfPagesSpec> ReadPdfPagesStep(const NodeReader& r, const YAML::Node& map,
                                      const std::string& path, const SchemaNode& schema);

// A job makes rows of pages once: InvalidJob for a second pdf_pages step, or
// one whose `into` no image step reads (the page is pixels only an image step
// can turn into a model input).
Status CheckPdfPagesSteps(const std::vector<PdfPagesSpec>& pdf_pages,
                          const std::vector<ImageSpec>& images);

}  // namespace nightshift::spec
