// FileTrigger: the files a `trigger:` job's next run takes (docs/job-file.md,
// "trigger").
//
// A file matching `trigger.watch` is taken once its size and mtime have not
// changed for `trigger.settle`, measured on the Env's clock from the last
// time a change was seen; a file still being written keeps changing and is
// not taken. A file (path, size, mtime) that an earlier run of the job
// already holds (remembered from the ledger, or handed to a run by this
// process) is never taken again; a file rewritten in place (another size or
// mtime) is a new file.
//
// Change notices: the folder the pattern names is watched through
// Env::WatchDir (inotify on Linux), so a folder of many files is listed again
// only when something in it changed. Where there is no watch (the folder part
// of the pattern has wildcards, the folder does not exist yet, the file
// system gives no notices, or polling is forced) the folder is listed every
// `poll_micros`. Files waiting to settle are looked at (stat) on every call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"

namespace nightshift::sched {

struct WatchedFile {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  auto operator<=>(const WatchedFile&) const = default;
};

struct TriggerOptions {
  bool force_polling = false;  // never use Env::WatchDir
  int64_t poll_micros = 1000000;
  // One call per decision: its event name (the "event" of JSON logs:
  // trigger_watching, trigger_polling, trigger_rewatch, file_seen,
  // file_ignored, files_held) and its line.
  std::function<void(std::string_view event, const std::string& line)> log;
};

class FileTrigger {
 public:
  FileTrigger(const TriggerSpec& spec, Env* env, TriggerOptions options);

  // Files of an earlier or running run of the job: never taken again.
  void Remember(const std::vector<WatchedFile>& files);
  void Remember(const std::vector<InputFileRecord>& files);

  // Looks at the folder (see above) at `now_micros`: settle times start when
  // a file is first seen. IoError when the pattern cannot be expanded.
  Status Look(int64_t now_micros);
  // Looks, then returns, sorted by path, the files settled at `now_micros`
  // that no run holds yet; they are remembered as taken.
  Result<std::vector<WatchedFile>> Take(int64_t now_micros);

  bool watching() const { return watch_ != nullptr; }

 private:
  struct Candidate {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t stable_since = 0;  // micros: when this size and mtime were first seen
  };
  bool ScanDue(int64_t now_micros);
  Status Scan(int64_t now_micros);
  void Observe(const std::string& path, const FileInfo& info, int64_t now_micros);
  void RestatCandidates(int64_t now_micros);
  void TryWatch();

  const TriggerSpec spec_;
  Env* const env_;
  const TriggerOptions options_;
  std::string watch_dir_;  // the pattern's folder; "" when it has wildcards
  std::unique_ptr<DirWatch> watch_;
  int64_t last_scan_ = -1;                                    // micros; -1: never
  std::set<std::tuple<std::string, int64_t, int64_t>> held_;  // path, size, mtime
  std::map<std::string, Candidate> candidates_;               // waiting to settle
  std::set<std::string> ignored_;                             // logged once
  size_t held_seen_ = 0;  // files of earlier runs seen by the last scan (logged on change)
};

// A trigger run's id: "{name}-files-" and 16 hex digits of the SHA-256 of its
// files (path, size, mtime), so that the same files make the same run id
// after a restart.
std::string TriggerRunId(std::string_view job_name, const std::vector<WatchedFile>& files);
bool IsTriggerRunId(std::string_view job_name, std::string_view run_id);

}  // namespace nightshift::sched
