#include "spec/pdf_section.h"

#include <fmt/format.h>

#include <algorithm>

namespace nightshift::spec {
Result<PdfPagesSpec> ReadPdfPagesStep(const NodeReader& r, const YAML::Node& map,
                                      const std::string& path, const SchemaNode& schema) {
  NS_RETURN_IF_ERROR(r.CheckMap(map, path, schema));
  PdfPagesSpec s;
  NS_ASSIGN_OR_RETURN(s.column, r.RequiredString(map, path, "column"));
  NS_ASSIGN_OR_RETURN(s.into, r.RequiredString(map, path, "into"));
  if (std::optional<YAML::Node> dpi = NodeReader::Find(map, "dpi")) {
    NS_ASSIGN_OR_RETURN(s.dpi, r.Int(*dpi, JoinKey(path, "dpi"), kMinDpi, kMaxDpi));
  }
  return s;
}

Status CheckPdfPagesSteps(const std::vector<PdfPagesSpec>& pdf_pages,
                          const std::vector<ImageSpec>& images) {
  if (pdf_pages.size() > 1) {
    return Status(Code::kInvalidJob,
                  "preprocess: only one pdf_pages step per job (each makes one row per page)");
  }
  for (const auto& p : pdf_pages) {
    const bool read = std::any_of(images.begin(), images.end(),
                                  [&](const ImageSpec& i) { return i.column == p.into; });
    if (!read) {
      return Status(Code::kInvalidJob,
                    fmt::format("preprocess: pdf_pages into '{}' is read by no image step: add "
                                "`- image: {{column: {}, ...}}` to turn its pages into a model "
                                "input",
                                p.into, p.into));
    }
  }
  return Status::Ok();
}

}  // namespace nightshift::spec
