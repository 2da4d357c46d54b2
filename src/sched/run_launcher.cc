#include "sched/run_launcher.h"

#include <exception>

#include "obs/failure_classes.h"

namespace nightshift::sched {
namespace {

void ReplaceAll(std::string* s, std::string_view token, std::string_view value) {
  for (size_t pos = s->find(token); pos != std::string::npos; pos = s->find(token, pos)) {
    s->replace(pos, token.size(), value);
    pos += value.size();
  }
}

RunOutcome RunOne(const JobSpec& job, const RunRequest& request, const std::atomic<int>* signals,
                  obs::RunObserver* observer) {
  RunOutcome out{request.job, request.run_id, ExitCode::kOk, ""};
  RunOptions options;
  options.run_id = request.run_id;
  options.signals = signals;
  options.observer = observer;
  try {
    Result<RunReport> report = RunJob(job, options);
    if (!report.has_value()) {
      out.exit_code = ExitCode::kCannotStart;
      out.message = report.error().message();
    } else {
      out.exit_code = report->exit_code;
      out.message = report->message;
    }
  } catch (const std::exception& e) {
    // Never let a run's exception end the scheduler: it is this run's failure.
    out.exit_code = ExitCode::kFailed;
    out.message = std::string("internal error: ") + e.what();
  }
  return out;
}

}  // namespace

JobSpec JobForRun(const JobSpec& job, const RunRequest& request) {
  JobSpec run = job;
  if (!request.date.empty()) {
    ReplaceAll(&run.output.path, "{date}", request.date);
    ReplaceAll(&run.errors.dead_letter, "{date}", request.date);
  }
  if (!request.files.empty()) run.input.files = request.files;
  return run;
}

void ThreadLauncher::Start(const JobSpec& job, const RunRequest& request) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([this, run = JobForRun(job, request), request, done] {
    std::unique_ptr<obs::RunObserver> metrics = new_observer_ ? new_observer_() : nullptr;
    obs::FailureLog failures;
    obs::ObserverList observers({metrics.get(), &failures});
    RunOutcome outcome = RunOne(run, request, signals_, &observers);
    failures.LogClasses();
    std::lock_guard<std::mutex> lock(mu_);
    finished_.push_back(std::move(outcome));
    done->store(true);
  });
  std::lock_guard<std::mutex> lock(mu_);
  running_.push_back({std::move(t), std::move(done)});
}

std::vector<RunOutcome> ThreadLauncher::TakeFinished() {
  std::vector<Running> ended;
  std::vector<RunOutcome> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(finished_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->done->load()) {
        ended.push_back(std::move(*it));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Running& r : ended) r.thread.join();  // already past its last statement
  return out;
}

void ThreadLauncher::JoinAll() {
  std::vector<Running> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(running_);
  }
  for (Running& r : all) r.thread.join();
}

}  // namespace nightshift::sched
