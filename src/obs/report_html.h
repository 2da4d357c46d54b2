// The HTML run report (`nightshift report --html`): one self-contained page,
// readable offline: inline CSS, charts drawn as inline SVG, no script, font,
// image or link to anything outside the file.
#pragma once

#include <string>
#include <vector>

#include "nightshift/ledger.h"
#include "obs/batch_record.h"
#include "obs/failure_classes.h"

namespace nightshift::obs {

struct ReportData {
  RunRecord run;
  RunCounts counts;
  std::vector<ShardRecord> shards;
  std::vector<FailureGroup> failures;  // grouped by reason, largest first
  int64_t failures_listed = 0;         // failures read to group (may be fewer than counts.failed)
  BatchLatencies latencies;
  std::string job_path;
  std::string job_text;  // the job file as written
  int64_t generated_at_ms = 0;
};

std::string RenderReportHtml(const ReportData& data);

// "&lt;" and friends: text safe inside HTML elements and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace nightshift::obs
