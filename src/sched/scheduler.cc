#include "sched/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "exec/run_owner.h"
#include "nightshift/utc_time.h"
#include "obs/log.h"
#include "sched/catchup.h"

namespace nightshift::sched {

struct Scheduler::Job {
  size_t index = 0;
  JobSpec spec;
  std::optional<Schedule> schedule;
  std::optional<Fire> next;  // the next fire of the schedule
  std::unique_ptr<FileTrigger> trigger;
  std::unique_ptr<Ledger> ledger;
  std::deque<RunRequest> queue;            // runs waiting for the one going
  std::string running;                     // the run id going; "" when none
  bool fire_pending = false;               // a trigger+schedule fire queued behind `running`
  std::string look_error;                  // the last failure to list trigger.watch (logged once)
  std::unique_ptr<JobLock> lock;           // held: this scheduler decides the job's runs
  std::optional<RunOwner> standby_behind;  // the holder last logged while on standby
  std::string lock_error;                  // the last failure to reach the lock (logged once)
};

namespace {

SysSeconds ToSeconds(int64_t micros) {
  return SysSeconds{std::chrono::floor<std::chrono::seconds>(std::chrono::microseconds(micros))};
}

// How far back a scheduled job looks for its last interval and unfinished
// runs. A trigger job reads all its runs: every file any of them holds must
// stay taken.
constexpr int64_t kRunsLookedAt = 1000;

std::string Outcome(ExitCode code) {
  switch (code) {
    case ExitCode::kOk: return "completed";
    case ExitCode::kFailed: return "failed";
    case ExitCode::kInterrupted: return "interrupted";
    case ExitCode::kCannotStart: return "could not start";
  }
  return "ended";
}

// A started run's own log fields: why, and the fire it is for (a scheduled
// run) or how many files it reads (a trigger run).
nlohmann::json LaunchFields(const RunRequest& request) {
  nlohmann::json fields = {{"why", request.why}};
  if (!request.due.empty()) fields["due"] = request.due;
  if (!request.files.empty()) fields["files"] = request.files.size();
  return fields;
}

}  // namespace

Scheduler::Scheduler(std::vector<JobSpec> jobs, RunLauncher* launcher, SchedulerOptions options)
    : launcher_(launcher),
      options_(std::move(options)),
      env_(options_.env != nullptr ? options_.env : Env::Default()) {
  for (JobSpec& spec : jobs) {
    auto job = std::make_unique<Job>();
    job->index = jobs_.size();
    job->spec = std::move(spec);
    jobs_.push_back(std::move(job));
  }
}

Scheduler::~Scheduler() = default;

bool Scheduler::Stopping() const {
  return options_.signals != nullptr && options_.signals->load() > 0;
}

void Scheduler::Log(const Job& job, std::string_view event, const std::string& what,
                    const std::string& run_id, nlohmann::json fields, obs::LogLevel level) {
  const std::string line = fmt::format("schedule {}: {}", job.spec.name, what);
  if (options_.log) return options_.log(event, line);
  // A text line carries its own time (a scheduler runs for days); a JSON
  // line has it in "ts".
  const bool text = obs::GetLogFormat() == obs::LogFormat::kText;
  obs::Log(level, event, text ? fmt::format("{} {}", UtcSeconds(env_->NowMillis()), line) : line,
           obs::LogFields(job.spec.name, run_id, -1, std::move(fields)));
}

Status Scheduler::Start() {
  const RunOwner me = options_.identity ? *options_.identity : exec::ThisProcess(env_);
  for (auto& job : jobs_) {
    NS_ASSIGN_OR_RETURN(job->ledger, Ledger::Open(job->spec.run.ledger, env_));
    job->lock = std::make_unique<JobLock>(job->ledger.get(), job->spec.name, env_, me);
    NS_ASSIGN_OR_RETURN(bool mine, PollLock(*job, env_->NowMicros()));
    (void)mine;  // a standby job starts nothing until it takes the lock (Step)
  }
  return Status::Ok();
}

Result<bool> Scheduler::PollLock(Job& job, int64_t now_micros) {
  Result<JobLock::Change> change = job.lock->Poll(now_micros);
  if (!change.has_value()) {
    // A busy or unreachable ledger: keep doing what we did, ask again later.
    if (change.error().message() != job.lock_error) {
      job.lock_error = change.error().message();
      Log(job, "lock_failed", "cannot reach the job's ledger lock: " + job.lock_error);
    }
    return job.lock->held();
  }
  job.lock_error.clear();
  const RunOwner& h = job.lock->holder();
  if (*change == JobLock::Change::kTaken) {
    Log(job, "lock_taken",
        job.standby_behind
            ? fmt::format("taking over: the scheduler that held '{}' (pid {} on host {}) is gone",
                          job.lock->name(), job.standby_behind->pid, job.standby_behind->host)
            : fmt::format("scheduling this job (ledger lock '{}')", job.lock->name()));
    job.standby_behind.reset();
    NS_RETURN_IF_ERROR(TakeOver(job));
  } else if (*change == JobLock::Change::kLost) {
    Log(job, "lock_lost",
        fmt::format("ledger lock '{}' was taken over by another scheduler: standing by",
                    job.lock->name()));
    Forget(job);
  } else if (!job.lock->held() && !(job.standby_behind && job.standby_behind->SameProcess(h))) {
    Log(job, "standby",
        fmt::format("standby: pid {} on host {} schedules this job (ledger lock '{}' since {}); "
                    "taking over when it stops",
                    h.pid, h.host, job.lock->name(), UtcSeconds(h.acquired_at_ms)),
        "", {{"holder_pid", h.pid}, {"holder_host", h.host}});
    job.standby_behind = h;
  }
  return job.lock->held();
}

// The job's plan, dropped when another scheduler took the lock over; its
// running run (if any) ends on its own and is reaped.
void Scheduler::Forget(Job& job) {
  job.queue.clear();
  job.trigger.reset();
  job.schedule.reset();
  job.next.reset();
  job.fire_pending = false;
}

Status Scheduler::TakeOver(Job& job) {
  const int64_t look_back = job.spec.trigger ? -1 : kRunsLookedAt;
  NS_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, job.ledger->ListRuns(job.spec.name, look_back));
  const SysSeconds now = ToSeconds(env_->NowMicros());
  if (job.spec.trigger) NS_RETURN_IF_ERROR(ResumeTriggerRuns(job, runs));
  if (!job.spec.schedule) return Status::Ok();
  const ScheduleSpec& spec = *job.spec.schedule;
  NS_ASSIGN_OR_RETURN(Schedule schedule, Schedule::Make(spec.cron, spec.timezone));
  job.schedule = std::move(schedule);
  NS_ASSIGN_OR_RETURN(StartPlan plan, PlanStart(*job.schedule, spec, job.spec.name, runs, now));
  for (const std::string& id : plan.resume) {
    const std::optional<LocalMinutes> nominal = ParseScheduledRunId(job.spec.name, id);
    job.queue.push_back({job.index, id, date::format("%F", *nominal), {}, "resumed", "resumed"});
  }
  if (plan.missed > 0) {
    Log(job, "missed_intervals",
        fmt::format("{} interval(s) missed while no scheduler ran; {}", plan.missed,
                    spec.catchup ? fmt::format("catching up the newest {} (max_catchup {})",
                                               plan.catch_up.size(), spec.max_catchup)
                                 : "catchup is off: not run"),
        "", {{"missed", plan.missed}, {"catching_up", plan.catch_up.size()}});
  }
  for (const Fire& fire : plan.catch_up) {
    job.queue.push_back({job.index,
                         ScheduledRunId(job.spec.name, fire),
                         date::format("%F", fire.nominal),
                         {},
                         "caught up",
                         "caught_up",
                         FormatRfc3339(fire)});
  }
  NS_ASSIGN_OR_RETURN(Fire next, job.schedule->NextAfter(now));
  job.next = next;
  Log(job, "next_fire",
      fmt::format("next fire {} (run {})", FormatRfc3339(next),
                  ScheduledRunId(job.spec.name, next)),
      ScheduledRunId(job.spec.name, next), {{"fire_at", FormatRfc3339(next)}});
  return Status::Ok();
}

// A trigger job: the files every earlier run holds are never taken again;
// an unfinished trigger run is resumed on exactly its files.
Status Scheduler::ResumeTriggerRuns(Job& job, const std::vector<RunRecord>& runs) {
  TriggerOptions topts;
  topts.force_polling = options_.force_polling;
  topts.poll_micros = options_.poll_micros;
  topts.log = [this, &job](std::string_view event, const std::string& line) {
    Log(job, event, line);
  };
  job.trigger = std::make_unique<FileTrigger>(*job.spec.trigger, env_, std::move(topts));
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {  // oldest first
    if (!IsTriggerRunId(job.spec.name, it->run_id)) continue;
    NS_ASSIGN_OR_RETURN(std::vector<InputFileRecord> files, job.ledger->ListFiles(it->run_id));
    job.trigger->Remember(files);
    if (!Unfinished(it->state)) continue;
    RunRequest request{job.index, it->run_id, "", {}, "resumed", "resumed"};
    for (const InputFileRecord& f : files) request.files.push_back(f.path);
    job.queue.push_back(std::move(request));
  }
  return Status::Ok();
}

Status Scheduler::Step() {
  Reap();
  if (Stopping()) return Status::Ok();
  const int64_t now = env_->NowMicros();
  for (auto& job : jobs_) {
    NS_ASSIGN_OR_RETURN(bool mine, PollLock(*job, now));
    if (!mine) continue;  // another scheduler decides this job's runs
    // A trigger with a schedule watches between fires, so that files settle
    // before the fire that takes them (a failure to look is said then).
    if (job->trigger && job->schedule) (void)job->trigger->Look(now);
    NS_RETURN_IF_ERROR(FireDue(*job, now));
    StartNext(*job, now);
    if (job->trigger && !job->schedule && job->running.empty() && job->queue.empty()) {
      NS_RETURN_IF_ERROR(TakeFiles(*job, now, "files settled", "files_settled"));
    }
  }
  return Status::Ok();
}

void Scheduler::Reap() {
  for (RunOutcome& out : launcher_->TakeFinished()) {
    Job& job = *jobs_[out.job];
    if (job.running == out.run_id) job.running.clear();
    if (out.exit_code == ExitCode::kInterrupted) interrupted_ = true;
    Log(job, "run_ended",
        fmt::format("run {} {}{}{}", out.run_id, Outcome(out.exit_code),
                    out.message.empty() ? "" : ": ", out.message),
        out.run_id,
        {{"outcome", Outcome(out.exit_code)}, {"exit_code", static_cast<int>(out.exit_code)}},
        // A failed run is an error an alert on the level must see, as under `run`.
        out.exit_code == ExitCode::kOk            ? obs::LogLevel::kInfo
        : out.exit_code == ExitCode::kInterrupted ? obs::LogLevel::kWarn
                                                  : obs::LogLevel::kError);
  }
}

Status Scheduler::FireDue(Job& job, int64_t now_micros) {
  const SysSeconds now = ToSeconds(now_micros);
  std::optional<Fire> due;
  while (job.next && job.next->at <= now) {
    // A fire at the same instant as the one due (a real time at a DST gap's
    // end, after the gap's fire) fires on the next step, not missed.
    if (due && job.next->at == due->at) break;
    // Several fires due at once: the loop was held up (a suspended machine,
    // a clock set forward). The newest fires; the others are missed.
    if (due) {
      Log(job, "missed_fire",
          fmt::format("missed run {} (due {}): the scheduler was held up past it",
                      ScheduledRunId(job.spec.name, *due), FormatRfc3339(*due)),
          ScheduledRunId(job.spec.name, *due), {{"due", FormatRfc3339(*due)}});
    }
    due = job.next;
    NS_ASSIGN_OR_RETURN(Fire next, job.schedule->NextAfter(*due));
    job.next = next;
  }
  return due ? OnFire(job, *due, now_micros) : Status::Ok();
}

Status Scheduler::OnFire(Job& job, const Fire& fire, int64_t now_micros) {
  const bool busy = !job.running.empty() || !job.queue.empty();
  const bool skip = job.spec.schedule->overlap == ScheduleSpec::Overlap::kSkip;
  const std::string due = FormatRfc3339(fire);
  if (job.trigger) {
    // The schedule says when, the trigger what: the files settled by then.
    if (!busy) return TakeFiles(job, now_micros, fmt::format("fired (due {})", due), "fired");
    if (skip) {
      const std::string& going = job.running.empty() ? job.queue.front().run_id : job.running;
      Log(job, "skipped_overlap",
          fmt::format("skipped the fire due {} because run {} is still going (overlap: skip)", due,
                      going),
          "", {{"due", due}, {"running", going}});
    } else {
      job.fire_pending = true;
      Log(job, "queued_overlap",
          fmt::format("queued the fire due {}: files are taken when the runs before it end "
                      "(overlap: queue)",
                      due),
          "", {{"due", due}});
    }
    return Status::Ok();
  }
  Offer(job, {job.index,
              ScheduledRunId(job.spec.name, fire),
              date::format("%F", fire.nominal),
              {},
              fmt::format("fired (due {})", due),
              "fired",
              due});
  return Status::Ok();
}

Status Scheduler::TakeFiles(Job& job, int64_t now_micros, const std::string& why,
                            std::string_view event) {
  Result<std::vector<WatchedFile>> files = job.trigger->Take(now_micros);
  if (!files.has_value()) {
    // A folder that cannot be listed now may be listable later: say so
    // (once, not every tick), go on.
    if (files.error().message() != job.look_error) {
      job.look_error = files.error().message();
      Log(job, "trigger_look_failed", "cannot look for files: " + job.look_error);
    }
    return Status::Ok();
  }
  job.look_error.clear();
  if (files->empty()) {
    if (job.schedule) Log(job, "skipped_no_files", why + ": skipped, no new settled files");
    return Status::Ok();
  }
  RunRequest request{job.index,         TriggerRunId(job.spec.name, *files), "", {}, why,
                     std::string(event)};
  for (const WatchedFile& f : *files) {
    Log(job, "file_taken",
        fmt::format("file taken: '{}' ({} bytes) for run {}", f.path, f.size, request.run_id),
        request.run_id, {{"path", f.path}, {"size", f.size}});
    request.files.push_back(f.path);
  }
  Offer(job, std::move(request));
  return Status::Ok();
}

void Scheduler::Offer(Job& job, RunRequest request) {
  if (job.running.empty() && job.queue.empty()) return Launch(job, request);
  const std::string& going = job.running.empty() ? job.queue.front().run_id : job.running;
  if (job.spec.schedule && job.spec.schedule->overlap == ScheduleSpec::Overlap::kSkip &&
      request.files.empty()) {
    nlohmann::json fields = {{"running", going}};
    if (!request.due.empty()) fields["due"] = request.due;
    Log(job, "skipped_overlap",
        fmt::format("skipped run {} ({}) because run {} is still going (overlap: skip)",
                    request.run_id, request.why, going),
        request.run_id, std::move(fields));
    return;
  }
  Log(job, "queued",
      fmt::format("queued run {} ({}) behind run {}", request.run_id, request.why, going),
      request.run_id, {{"running", going}});
  job.queue.push_back(std::move(request));
}

void Scheduler::StartNext(Job& job, int64_t now_micros) {
  if (!job.running.empty()) return;
  if (!job.queue.empty()) {
    RunRequest request = std::move(job.queue.front());
    job.queue.pop_front();
    return Launch(job, request);
  }
  if (job.fire_pending) {
    job.fire_pending = false;
    (void)TakeFiles(job, now_micros, "queued fire", "queued_fire");
  }
}

void Scheduler::Launch(Job& job, const RunRequest& request) {
  // A run id the ledger has as completed is never run twice (a restart, a
  // catch-up of an interval that ran meanwhile).
  if (Result<RunRecord> done = job.ledger->GetRun(request.run_id);
      done.has_value() && done->state == RunState::kCompleted) {
    Log(job, "skipped_completed",
        fmt::format("skipped run {} ({}): already completed", request.run_id, request.why),
        request.run_id);
    return;
  }
  Log(job, request.event,
      fmt::format("{}: starting run {}{}", request.why, request.run_id,
                  request.files.empty() ? "" : fmt::format(" on {} file(s)", request.files.size())),
      request.run_id, LaunchFields(request));
  job.running = request.run_id;
  launcher_->Start(job.spec, request);
}

int64_t Scheduler::MicrosToNextFire(int64_t now_micros) const {
  int64_t wait = options_.tick_micros;
  for (const auto& job : jobs_) {
    if (!job->next) continue;
    const int64_t at =
        std::chrono::duration_cast<std::chrono::microseconds>(job->next->at.time_since_epoch())
            .count();
    wait = std::min(wait, std::max<int64_t>(at - now_micros, 0));
  }
  return wait;
}

Result<int> Scheduler::Run() {
  NS_RETURN_IF_ERROR(Start());
  while (!Stopping()) {
    NS_RETURN_IF_ERROR(Step());
    const int64_t wait = MicrosToNextFire(env_->NowMicros());
    if (wait > 0) env_->SleepMicros(wait);
  }
  return Drain();
}

int Scheduler::Drain() {
  for (auto& job : jobs_) {
    if (!job->running.empty()) {
      Log(*job, "stopping_drain", "stopping: waiting for run " + job->running + " to drain",
          job->running);
    }
    for (const RunRequest& r : job->queue)
      Log(*job, "stopping_not_started", "stopping: run " + r.run_id + " not started", r.run_id);
    job->queue.clear();
  }
  launcher_->JoinAll();
  Reap();
  for (auto& job : jobs_) {
    if (job->lock == nullptr) continue;
    Status s = job->lock->Release();
    if (!s.ok()) Log(*job, "lock_failed", "could not give the ledger lock up: " + s.message());
  }
  return interrupted_ ? static_cast<int>(ExitCode::kInterrupted) : 0;
}

}  // namespace nightshift::sched
