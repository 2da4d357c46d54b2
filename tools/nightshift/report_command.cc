#include "report_command.h"

#include <fmt/format.h>

#include "nightshift/engine.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/pg_location.h"
#include "obs/batch_record.h"
#include "obs/log.h"
#include "obs/report_html.h"
#include "run_id_option.h"

namespace nightshift::cli {
namespace {

// Failures read to group them by reason: enough for any useful table, bounded
// for a run with millions of dead letters.
constexpr int64_t kFailuresRead = 100000;

Result<obs::ReportData> Collect(const ReportArgs& args) {
  std::vector<Override> overrides;
  for (const auto& s : args.sets) {
    NS_ASSIGN_OR_RETURN(auto o, ParseOverride(s));
    overrides.push_back(std::move(o));
  }
  NS_ASSIGN_OR_RETURN(JobSpec job, ParseJobFile(args.job_path, overrides));
  NS_ASSIGN_OR_RETURN(StatusReport status, GetJobStatus(job, args.run_id));
  if (!status.found) {
    return Error(Code::kNotFound,
                 fmt::format("run {} of job '{}' does not exist in the ledger ({}): nothing to "
                             "report",
                             status.run.run_id.empty() ? args.run_id : status.run.run_id, job.name,
                             RedactPostgresLocation(job.run.ledger)));
  }
  NS_ASSIGN_OR_RETURN(auto ledger, Ledger::OpenForReading(job.run.ledger));
  obs::ReportData d;
  d.run = status.run;
  d.counts = status.counts;
  NS_ASSIGN_OR_RETURN(d.shards, ledger->ListShards(d.run.run_id));
  NS_ASSIGN_OR_RETURN(auto failures, ledger->ListFailures(d.run.run_id, kFailuresRead));
  obs::FailureTally tally;
  for (const auto& f : failures) tally.Add(f.error, f.key_json);
  d.failures = tally.Groups();
  d.failures_listed = static_cast<int64_t>(failures.size());
  auto lat = ledger->GetTuning(obs::BatchTimesKey(d.run.run_id));
  if (lat.has_value() && lat->has_value()) d.latencies = obs::BatchLatencies::FromJson(**lat);
  d.job_path = args.job_path;
  auto text = Env::Default()->ReadFile(args.job_path);
  if (text.has_value()) d.job_text = *text;
  d.generated_at_ms = Env::Default()->NowMillis();
  return d;
}

}  // namespace

CLI::App* AddReportCommand(CLI::App& app, ReportArgs* args) {
  auto* cmd = app.add_subcommand(
      "report",
      "Write a self-contained HTML report of a run (counts, throughput, latency, "
      "shard timeline, failures)");
  cmd->add_option("job", args->job_path, "Job file (YAML)")->required();
  nightshift::cli::AddRunIdOption(cmd, &args->run_id,
                                  "Run id (default: the run `run` would resume)");
  cmd->add_option("--html", args->html, "The HTML file to write")->required();
  cmd->add_option("--set", args->sets, "Override one job key");
  return cmd;
}

namespace {

// The report file, named in any error: a folder or an unwritable place is
// refused before anything is written there.
Status WriteReport(const std::string& path, const std::string& html) {
  Env* env = Env::Default();
  auto info = env->Stat(path);
  if (info.has_value() && info->is_dir) {
    return Status(Code::kInvalidJob,
                  fmt::format("--html '{}' is a folder; name the HTML file to write", path));
  }
  Status s = env->WriteFileAtomic(path, html);
  if (!s.ok()) return Status(s.code(), fmt::format("--html '{}': {}", path, s.message()));
  return s;
}

}  // namespace

int RunReportCommand(const ReportArgs& args) {
  auto data = Collect(args);
  Status s = data.has_value() ? WriteReport(args.html, obs::RenderReportHtml(*data)) : data.error();
  if (!s.ok()) {
    obs::Log(obs::LogLevel::kError, "cannot_start", "error: " + s.message());
    return static_cast<int>(ExitCode::kCannotStart);
  }
  obs::Log(obs::LogLevel::kInfo, "report_written",
           fmt::format("report of run {} written to {}", data->run.run_id, args.html),
           obs::LogFields(data->run.job_name, data->run.run_id));
  return 0;
}

}  // namespace nightshift::cli
