#include "exec/output_folders.h"

#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "exec/run_owner.h"
#include "exec/which_run.h"
#include "io/input_listing.h"
#include "nightshift/env.h"
#include "nightshift/pg_location.h"
#include "nightshift/utc_time.h"

namespace nightshift::exec {
namespace {

constexpr char kOutputKey[] = "output.path";
constexpr char kDeadLetterKey[] = "errors.dead_letter";
// Written and removed at start to prove the dead-letter folder writable; the
// leading '.' keeps it out of every listing.
constexpr char kWriteProbe[] = ".nightshift-write-probe";

// `dir` is `parent` or lies below it, by their names ("a/x/../b" is "a/b").
bool Inside(const std::string& dir, const std::string& parent) {
  const std::filesystem::path d = std::filesystem::path(dir).lexically_normal();
  const std::filesystem::path p = std::filesystem::path(parent).lexically_normal();
  auto di = d.begin();
  for (auto pi = p.begin(); pi != p.end(); ++pi, ++di) {
    if (pi->empty()) continue;  // the trailing "/" of "a/b/"
    if (di == d.end() || *di != *pi) return false;
  }
  return true;
}

// The ledger's location as the marker records it: a URL without its password
// (the marker is a file anyone who reads the output can read).
std::string RedactedLedger(const std::string& ledger) {
  return RedactPostgresLocation(ledger);
}

struct Marker {
  std::string run_id;
  std::string job;
  std::string ledger;
  std::string created_at;
};

// What a folder holds before this run touches it.
struct FolderState {
  const char* key = kOutputKey;  // the job key that names the folder, for messages
  bool is_output = true;
  std::string dir;
  std::optional<Marker> marker;
  std::vector<std::string> parts;  // paths of part-* files (and dead letters inside it)
  bool has_success = false;        // an output folder with a _SUCCESS
  bool owned = false;              // the marker is this run's
  bool foreign = false;            // another run's, or parts no run claims
};

bool SameMarker(const Marker& a, const Marker& b) {
  return a.run_id == b.run_id && a.ledger == b.ledger && a.created_at == b.created_at;
}

// The marker in file `path`; none when there is no such file.
Result<std::optional<Marker>> ReadMarkerFile(Env* env, const std::string& path) {
  auto text = env->ReadFile(path);
  if (!text.has_value()) {
    if (text.error().code() == Code::kNotFound) return std::optional<Marker>();
    return Error(text.error());
  }
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  Marker m;
  if (!j.is_object()) {
    m.run_id = "(unreadable marker " + path + ")";  // still a claim: refuse, never adopt
    return std::optional<Marker>(m);
  }
  m.run_id = j.value("run_id", "");
  m.job = j.value("job", "");
  m.ledger = j.value("ledger", "");
  m.created_at = j.value("created_at", "");
  return std::optional<Marker>(m);
}

Result<std::optional<Marker>> ReadMarker(Env* env, const std::string& dir) {
  return ReadMarkerFile(env, JoinPath(dir, kOwnerMarker));
}

// Lists the part files of `dir` into `parts`; a missing folder has none.
Status ListParts(Env* env, const std::string& dir, const char* key,
                 std::vector<std::string>* parts) {
  auto names = env->ListDir(dir);
  if (!names.has_value()) {
    if (names.error().code() == Code::kNotFound) return Status::Ok();
    return Status(Code::kIoError, fmt::format("{}: {}", key, names.error().message()));
  }
  for (const auto& n : *names) {
    if (!n.starts_with("part-")) continue;
    auto info = env->Stat(JoinPath(dir, n));
    if (info.has_value() && !info->is_dir) parts->push_back(JoinPath(dir, n));
  }
  return Status::Ok();
}

Result<FolderState> Inspect(Env* env, const char* key, const std::string& dir) {
  FolderState s;
  s.key = key;
  s.is_output = std::string_view(key) == kOutputKey;
  s.dir = dir;
  NS_RETURN_IF_ERROR(ListParts(env, dir, key, &s.parts));
  s.has_success = s.is_output && env->Stat(JoinPath(dir, "_SUCCESS")).has_value();
  auto marker = ReadMarker(env, dir);
  if (!marker.has_value())
    return Error(Code::kIoError, fmt::format("{}: {}", key, marker.error().message()));
  s.marker = std::move(*marker);
  return s;
}

Status Refusal(const FolderState& f, const Marker& me) {
  const std::string fix = fmt::format(
      "write run {} elsewhere (put {{run_id}} in output.path), or set output.overwrite: true to "
      "empty the folder first",
      me.run_id);
  if (f.marker.has_value()) {
    return Status(
        Code::kInvalidJob,
        fmt::format("{} '{}' belongs to run {} of job '{}' (ledger {}, since {}); {}", f.key, f.dir,
                    f.marker->run_id, f.marker->job, f.marker->ledger, f.marker->created_at, fix));
  }
  if (f.parts.empty()) {
    return Status(Code::kInvalidJob, fmt::format("{} '{}' holds a _SUCCESS that no run claims; {}",
                                                 f.key, f.dir, fix));
  }
  return Status(Code::kInvalidJob,
                fmt::format("{} '{}' holds {} part file(s) that no run claims (such as '{}'); {}",
                            f.key, f.dir, f.parts.size(), f.parts.front(), fix));
}

// Who is writing run `run_id` now, for a message ("" when nobody is: it
// ended, or its processes are gone). Only a run in this run's ledger can be
// asked; a marker naming another ledger answers "".
Result<std::string> LiveWriter(Ledger* ledger, Env* env, const std::string& run_id) {
  auto run = ledger->GetRun(run_id);
  if (!run.has_value()) {
    if (run.error().code() == Code::kNotFound) return std::string();
    return Error(run.error());
  }
  // Not only `running`: a run that has just recorded its owner and is
  // claiming its folders is still `planned` (two runs taking one folder over
  // at once each saw the other as not running). Its owner tells.
  if (run->state == RunState::kCompleted) return std::string();
  const int64_t now_ms = env->NowMicros() / 1000;
  auto describe = [](const RunOwner& o) {
    return fmt::format("pid {} on host {}, last seen {}", o.pid, o.host,
                       UtcSeconds(o.heartbeat_at_ms));
  };
  if (ledger->shared()) {
    NS_ASSIGN_OR_RETURN(std::vector<WorkerRecord> workers, ledger->ListWorkers(run_id));
    for (const auto& w : workers) {
      if (!OwnerGone(env, w.who, now_ms)) return "worker " + describe(w.who);
    }
    return std::string();
  }
  NS_ASSIGN_OR_RETURN(std::optional<RunOwner> owner, ledger->GetRunOwner(run_id));
  if (!owner.has_value() || OwnerGone(env, *owner, now_ms)) return std::string();
  return describe(*owner);
}

// output.overwrite empties a folder whose run has ended or died, never one a
// live process is writing: its later parts would land in this run's folder
// (and its _SUCCESS be refused only at its end).
Status RefuseLiveOwner(const FolderState& f, const Marker& me, Ledger* ledger, Env* env) {
  if (!f.marker.has_value() || f.marker->ledger != me.ledger) return Status::Ok();
  NS_ASSIGN_OR_RETURN(std::string writer, LiveWriter(ledger, env, f.marker->run_id));
  if (writer.empty()) return Status::Ok();
  return Status(Code::kInvalidJob,
                fmt::format("{} '{}' belongs to run {} of job '{}', which is running now ({}); "
                            "output.overwrite never empties a folder a live run is writing: wait "
                            "for it to end or stop it, or write run {} elsewhere",
                            f.key, f.dir, f.marker->run_id, f.marker->job, writer, me.run_id));
}

// Empties a folder of another run: its parts and dead letters, and _SUCCESS
// (TakeOver has put this run's marker in first).
Status Clear(Env* env, const FolderState& f) {
  for (const auto& p : f.parts) NS_RETURN_IF_ERROR(env->RemoveFile(p));
  if (f.is_output) NS_RETURN_IF_ERROR(env->RemoveFile(JoinPath(f.dir, "_SUCCESS")));
  return Status::Ok();
}

// The name of this process's temp file (or probe) for `name`. The workers of
// a shared run claim and probe the same folders at once: a fixed name would
// be renamed or removed under another worker, so each takes its own. One
// process per run (SQLite) keeps the fixed name, which the next process
// overwrites after a kill instead of leaving one behind per kill.
std::string OwnName(Env* env, std::string_view name, bool shared) {
  if (!shared) return fmt::format(".{}.tmp", name);
  const size_t thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
  return fmt::format(".{}.tmp-{}-{:x}", name, env->HostName(),
                     thread ^ static_cast<size_t>(env->NowMicros()));
}

// Writes this run's marker into `f`. Into a folder without one it is only
// ever created, never replaced: two runs starting together on one folder
// both find it unclaimed, and the second to create it is refused (exit 2)
// naming the first, instead of both going on with the marker naming one.
Status WriteMarker(Env* env, const FolderState& f, const Marker& me, bool shared) {
  nlohmann::json j = {
      {"run_id", me.run_id}, {"job", me.job}, {"ledger", me.ledger}, {"created_at", me.created_at}};
  const std::string path = JoinPath(f.dir, kOwnerMarker);
  // Its own temp name even with one process per run: the other run's
  // process must not rename this one's temp file (or write into it).
  const std::string tmp =
      JoinPath(f.dir, shared ? OwnName(env, kOwnerMarker, true)
                             : fmt::format(".{}.tmp-{}", kOwnerMarker, env->ProcessId()));
  auto not_writable = [&](const Status& s) {
    return Status(s.code(), fmt::format("{} '{}' is not writable: {}", f.key, f.dir, s.message()));
  };
  const std::string text = j.dump(2) + "\n";
  Status s = env->CreateDirs(f.dir);
  if (s.ok())
    s = f.marker.has_value() ? env->WriteFileVia(tmp, path, text) : env->WriteFile(tmp, text);
  if (!s.ok()) return not_writable(s);
  if (f.marker.has_value()) return Status::Ok();  // replaced another run's (overwrite)
  auto created = env->RenameIfAbsent(tmp, path);
  if (!created.has_value()) return not_writable(created.error());
  if (*created) return env->SyncPath(f.dir);
  (void)env->RemoveFile(tmp);
  NS_ASSIGN_OR_RETURN(FolderState now, Inspect(env, f.key, f.dir));
  if (!now.marker.has_value()) {
    return Status(Code::kInvalidJob,
                  fmt::format("{} '{}': another process claimed it while this run did; run again",
                              f.key, f.dir));
  }
  if (now.marker->run_id == me.run_id && now.marker->ledger == me.ledger) return Status::Ok();
  return Refusal(now, me);  // the other run was first
}

// Creates the dead-letter folder and writes a file there, so that a folder
// that cannot take dead letters stops the run now, not at its first bad row.
Status ProveWritable(Env* env, const std::string& dir, bool shared) {
  const std::string probe =
      shared ? JoinPath(dir, OwnName(env, kWriteProbe, shared)) : JoinPath(dir, kWriteProbe);
  Status s = env->CreateDirs(dir);
  if (s.ok()) s = env->WriteFile(probe, "");
  if (s.ok()) s = env->RemoveFile(probe);
  if (!s.ok()) {
    return Status(Code::kIoError, fmt::format("{}: the dead-letter folder '{}' is not writable: {}",
                                              kDeadLetterKey, dir, s.message()));
  }
  return Status::Ok();
}

// Where `path` really is: its longest existing prefix with symlinks resolved,
// the rest (not created yet) appended. `path` itself when nothing resolves.
std::string RealLocation(const std::string& path, Env* env) {
  std::vector<std::string> rest;
  std::string p = path;
  while (p.size() > 1) {
    if (Result<std::string> real = env->RealPath(p); real.has_value()) {
      std::string out = *real;
      for (auto it = rest.rbegin(); it != rest.rend(); ++it) out = JoinPath(out, *it);
      return out;
    }
    const size_t slash = p.find_last_of('/');
    if (slash == std::string::npos) break;
    rest.push_back(p.substr(slash + 1));
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  return path;
}

// The input as the file system has it: a glob's folder before its first
// wildcard resolved, the pattern kept after it.
InputSpec RealInput(InputSpec read, Env* env) {
  const size_t wild = read.path.find_first_of("*?[");
  const size_t cut = wild == std::string::npos ? read.path.size() : read.path.rfind('/', wild);
  if (cut == std::string::npos || cut == 0) return read;
  read.path = RealLocation(read.path.substr(0, cut), env) + read.path.substr(cut);
  return read;
}

// Takes over a folder another run left (output.overwrite). Its marker is
// first moved aside, which only one of two runs doing so at once can do (the
// other is refused, exit 2, instead of both emptying the folder and writing
// into it); then this run's marker is created, and only then are the old
// parts removed. A crash in between leaves a folder that is refused or taken
// over again, never one that two runs write.
Status TakeOver(Env* env, const FolderState& f, const Marker& me, bool shared) {
  if (f.marker.has_value()) {
    const std::string marker = JoinPath(f.dir, kOwnerMarker);
    const std::string retired =
        JoinPath(f.dir, fmt::format(".{}.retired-{}", kOwnerMarker, env->ProcessId()));
    const Status race(Code::kInvalidJob,
                      fmt::format("{} '{}': another run took it over (output.overwrite) at the "
                                  "same moment as run {}; only one may: run again to see which",
                                  f.key, f.dir, me.run_id));
    Status moved = env->RenameFile(marker, retired);
    if (moved.code() == Code::kNotFound) return race;
    if (!moved.ok()) {
      return Status(moved.code(),
                    fmt::format("{} '{}' is not writable: {}", f.key, f.dir, moved.message()));
    }
    // The marker moved aside must be the one looked at, not the one a run
    // that took the folder over a moment ago has just put there: that one
    // is put back.
    NS_ASSIGN_OR_RETURN(std::optional<Marker> was, ReadMarkerFile(env, retired));
    if (!was.has_value() || !SameMarker(*was, *f.marker)) {
      (void)env->RenameIfAbsent(retired, marker);
      return race;
    }
    (void)env->RemoveFile(retired);
  }
  FolderState unclaimed = f;
  unclaimed.marker.reset();  // created, never replaced: of two runs, one is refused
  NS_RETURN_IF_ERROR(WriteMarker(env, unclaimed, me, shared));
  return Clear(env, f);
}

// A marker's temp files left by a killed process of another run
// (`._nightshift_owner.json.tmp-PID`, `.retired-PID`): removed once the folder
// is this run's. Not for a shared run, whose workers write theirs at once.
void RemoveStaleMarkerTemps(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir);
  if (!names.has_value()) return;
  const std::string prefix = fmt::format(".{}.", kOwnerMarker);
  for (const std::string& n : *names) {
    if (n.starts_with(prefix + "tmp-") || n.starts_with(prefix + "retired-")) {
      (void)env->RemoveFile(JoinPath(dir, n));
    }
  }
}

}  // namespace

std::string DeadLetterDir(const JobSpec& job, const std::string& output_dir,
                          const std::string& run_id, const std::string& date) {
  std::string d = job.errors.dead_letter;
  const std::string token = "{output}";
  for (auto pos = d.find(token); pos != std::string::npos; pos = d.find(token))
    d.replace(pos, token.size(), output_dir);
  return ExpandOutputPath(d, job, run_id, date);
}

Status CheckOutputOutsideInput(const JobSpec& job, const std::string& run_id, Env* env) {
  // A trigger job's input is whatever trigger.watch matches: were its own
  // output among it, each run would take the last one's parts, for ever.
  const InputSpec read = job.trigger.has_value() ? WatchedInput(job) : job.input;
  const char* input_key = job.trigger.has_value() ? "trigger.watch" : "input.path";
  if (read.path.empty()) return Status::Ok();              // input.query: cannot be decided here
  if (IsDatabase(job.output.format)) return Status::Ok();  // a table, not a folder
  const std::string date = UtcDate(env->NowMicros() / 1000);
  const std::string out = ExpandOutputPath(job.output.path, job, run_id, date);
  const std::string dead = DeadLetterDir(job, out, run_id, date);
  struct Written {
    const char* key;
    std::string dir;
    std::string name;
  };
  // Every kind of file a run writes there.
  const Written files[] = {
      {kOutputKey, out, PartFileName(0, job.output.format)},
      {kOutputKey, out, PartFileName(0, job.output.format, 1)},
      {kOutputKey, out, "_SUCCESS"},
      {kOutputKey, out, kOwnerMarker},
      {kDeadLetterKey, dead, "part-000000.jsonl"},
      {kDeadLetterKey, dead, kOwnerMarker},
  };
  // Lexically, and as the file system resolves both (an output folder that
  // is a symlink into the input, or an input that is a symlink to a folder
  // holding the output).
  const InputSpec real_read = RealInput(read, env);
  for (const auto& f : files) {
    const std::string file = JoinPath(f.dir, f.name);
    if (!io::InputWouldList(read, file, env) &&
        !io::InputWouldList(real_read, RealLocation(file, env), env)) {
      continue;
    }
    return Status(Code::kInvalidJob,
                  fmt::format("{} '{}' is inside the input: {} '{}' would read its file "
                              "'{}' as input (a resumed run would read its own output); move the "
                              "folder out of the input (a folder input skips names starting with "
                              "'_' or '.')",
                              f.key, f.dir, input_key, read.path, f.name));
  }
  return Status::Ok();
}

Status ClaimOutputFolders(const JobSpec& job, const RunRecord& run, const SinkLayout& layout,
                          Ledger* ledger) {
  Env* env = layout.env != nullptr ? layout.env : Env::Default();
  const Marker me{run.run_id, job.name, RedactedLedger(job.run.ledger),
                  UtcSeconds(env->NowMicros() / 1000)};
  NS_ASSIGN_OR_RETURN(RunCounts counts, ledger->Counts(run.run_id));
  const bool adopt = counts.shards_committed > 0;

  // Look first, touch nothing until every folder is known to be ours to use.
  std::vector<FolderState> folders;
  NS_ASSIGN_OR_RETURN(FolderState out, Inspect(env, kOutputKey, layout.output_dir));
  folders.push_back(std::move(out));
  if (Inside(layout.dead_letter_dir, layout.output_dir)) {
    // Covered by the output folder's marker; its dead letters are its parts.
    NS_RETURN_IF_ERROR(
        ListParts(env, layout.dead_letter_dir, kDeadLetterKey, &folders.front().parts));
  } else {
    NS_ASSIGN_OR_RETURN(FolderState dead, Inspect(env, kDeadLetterKey, layout.dead_letter_dir));
    folders.push_back(std::move(dead));
  }
  for (auto& f : folders) {
    f.owned =
        f.marker.has_value() && f.marker->run_id == me.run_id && f.marker->ledger == me.ledger;
    // A _SUCCESS no run claims would say "complete" beside this run's parts.
    f.foreign = !f.owned &&
                (f.marker.has_value() || (!f.parts.empty() && !adopt) || (f.has_success && !adopt));
    if (f.foreign && !job.output.overwrite) return Refusal(f, me);
    if (f.foreign) NS_RETURN_IF_ERROR(RefuseLiveOwner(f, me, ledger, env));
  }
  for (const auto& f : folders) {
    if (f.foreign) NS_RETURN_IF_ERROR(TakeOver(env, f, me, ledger->shared()));
    // A run being run has no _SUCCESS: one left from before it was re-planned
    // on new input (run.allow_input_change) no longer lists its parts.
    if (f.owned && f.has_success && run.state != RunState::kCompleted)
      NS_RETURN_IF_ERROR(env->RemoveFile(JoinPath(f.dir, "_SUCCESS")));
    if (!f.owned && !f.foreign) NS_RETURN_IF_ERROR(WriteMarker(env, f, me, ledger->shared()));
  }
  if (!ledger->shared()) {
    for (const auto& f : folders) RemoveStaleMarkerTemps(env, f.dir);
  }
  return ProveWritable(env, layout.dead_letter_dir, ledger->shared());
}

Status CheckCommittedParts(Env* env, const std::string& dir, const std::string& run_id,
                           const std::vector<std::string>& committed) {
  NS_ASSIGN_OR_RETURN(FolderState f, Inspect(env, kOutputKey, dir));
  if (f.marker.has_value() && f.marker->run_id != run_id) {
    return Status(Code::kFailed,
                  fmt::format("{} '{}' now belongs to run {} (since {}; output.overwrite emptied "
                              "it?): run {} cannot be completed there; start it again elsewhere",
                              kOutputKey, dir, f.marker->run_id, f.marker->created_at, run_id));
  }
  for (const std::string& name : committed) {
    auto info = env->Stat(JoinPath(dir, name));
    if (info.has_value()) continue;
    if (info.error().code() != Code::kNotFound) {
      return Status(Code::kIoError, fmt::format("{} '{}': checking its parts before _SUCCESS: {}",
                                                kOutputKey, dir, info.error().message()));
    }
    return Status(Code::kFailed,
                  fmt::format("{} '{}': part '{}', which run {} committed, is gone (removed by "
                              "hand, or by another run with output.overwrite: true), so the run "
                              "is not complete; write it again as a new run (another --run-id)",
                              kOutputKey, dir, name, run_id));
  }
  const std::set<std::string> listed(committed.begin(), committed.end());
  for (const std::string& path : f.parts) {
    const std::string name = std::filesystem::path(path).filename().string();
    if (listed.contains(name)) continue;
    // Published by an attempt that never committed it (killed between its
    // publish and its commit, or a shard re-planned since): not this run's.
    NS_RETURN_IF_ERROR(env->RemoveFile(path));
  }
  return Status::Ok();
}

}  // namespace nightshift::exec
