// `nightshift report JOB.yaml [--run-id ID] --html FILE`: the HTML run report
// (obs/report_html.h) from what the ledger recorded.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace nightshift::cli {

struct ReportArgs {
  std::string job_path;
  std::string run_id;
  std::string html;
  std::vector<std::string> sets;
};

CLI::App* AddReportCommand(CLI::App& app, ReportArgs* args);
// Exit code: 0 written; 2 no such run, unreadable job or ledger, unwritable file.
int RunReportCommand(const ReportArgs& args);

}  // namespace nightshift::cli
