#include "sched/trigger.h"

#include <fmt/format.h>

#include "io/input_listing.h"
#include "nightshift/digest.h"

namespace nightshift::sched {
namespace {

bool HasWildcards(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

auto Key(const std::string& path, int64_t size, int64_t mtime_ns) {
  return std::make_tuple(path, size, mtime_ns);
}

}  // namespace

FileTrigger::FileTrigger(const TriggerSpec& spec, Env* env, TriggerOptions options)
    : spec_(spec), env_(env), options_(std::move(options)) {
  const std::string dir = DirName(spec_.watch);
  if (!HasWildcards(dir)) watch_dir_ = dir;
  if (options_.force_polling) {
    options_.log("trigger_polling",
                 fmt::format("polling '{}' every {:.1f} s (change notices are turned off)",
                             spec_.watch, options_.poll_micros / 1e6));
    return;
  }
  TryWatch();
  if (!watch_) {
    options_.log(
        "trigger_polling",
        fmt::format("polling '{}' every {:.1f} s ({})", spec_.watch, options_.poll_micros / 1e6,
                    watch_dir_.empty() ? "its folder part has wildcards"
                                       : "its folder gives no change notices"));
  } else {
    options_.log("trigger_watching",
                 fmt::format("watching folder '{}' for '{}' (inotify)", watch_dir_, spec_.watch));
  }
}

void FileTrigger::TryWatch() {
  if (watch_dir_.empty() || options_.force_polling) return;
  Result<std::unique_ptr<DirWatch>> watch = env_->WatchDir(watch_dir_);
  if (watch.has_value()) watch_ = std::move(*watch);
}

void FileTrigger::Remember(const std::vector<WatchedFile>& files) {
  for (const WatchedFile& f : files) held_.insert(Key(f.path, f.size, f.mtime_ns));
}

void FileTrigger::Remember(const std::vector<InputFileRecord>& files) {
  for (const InputFileRecord& f : files) held_.insert(Key(f.path, f.size, f.mtime_ns));
}

bool FileTrigger::ScanDue(int64_t now_micros) {
  if (last_scan_ < 0) return true;
  if (watch_) {
    Result<bool> changed = watch_->Changed();
    if (changed.has_value()) return *changed;
    // The folder went away or events were lost: list it and watch anew.
    options_.log("trigger_rewatch", fmt::format("the watch of '{}' ended ({}); listing it again",
                                                watch_dir_, changed.error().message()));
    watch_.reset();
    TryWatch();
    return true;
  }
  if (now_micros - last_scan_ < options_.poll_micros) return false;
  TryWatch();  // the folder may exist by now: notices from here on
  return true;
}

void FileTrigger::Observe(const std::string& path, const FileInfo& info, int64_t now_micros) {
  auto [it, inserted] =
      candidates_.try_emplace(path, Candidate{info.size, info.mtime_ns, now_micros});
  if (inserted) {
    options_.log("file_seen",
                 fmt::format("file seen: '{}' ({} bytes); taken once unchanged for {} s", path,
                             info.size, spec_.settle_s));
    return;
  }
  Candidate& c = it->second;
  if (c.size != info.size || c.mtime_ns != info.mtime_ns)
    c = {info.size, info.mtime_ns, now_micros};
}

Status FileTrigger::Scan(int64_t now_micros) {
  last_scan_ = now_micros;
  Result<std::vector<std::string>> paths = io::ExpandGlob(spec_.watch, env_);
  if (!paths.has_value()) {
    return Status(Code::kIoError,
                  fmt::format("trigger.watch '{}': {}", spec_.watch, paths.error().message()));
  }
  std::set<std::string> present;
  size_t held_seen = 0;
  for (const std::string& path : *paths) {
    Result<FileInfo> info = env_->Stat(path);
    if (!info.has_value() || info->is_dir) continue;  // gone meanwhile, or a folder
    if (held_.count(Key(path, info->size, info->mtime_ns)) > 0) {
      ++held_seen;
      continue;
    }
    present.insert(path);
    Observe(path, *info, now_micros);
  }
  for (auto it = candidates_.begin(); it != candidates_.end();) {
    if (present.count(it->first) > 0) {
      ++it;
      continue;
    }
    options_.log("file_ignored",
                 fmt::format("file ignored: '{}' went away before it settled", it->first));
    it = candidates_.erase(it);
  }
  if (held_seen != held_seen_) {
    options_.log("files_held",
                 fmt::format("{} file(s) matching '{}' ignored: already taken by an earlier run",
                             held_seen, spec_.watch));
    held_seen_ = held_seen;
  }
  return Status::Ok();
}

void FileTrigger::RestatCandidates(int64_t now_micros) {
  for (auto it = candidates_.begin(); it != candidates_.end();) {
    Result<FileInfo> info = env_->Stat(it->first);
    if (!info.has_value()) {
      options_.log("file_ignored",
                   fmt::format("file ignored: '{}' went away before it settled", it->first));
      it = candidates_.erase(it);
      continue;
    }
    Observe(it->first, *info, now_micros);
    ++it;
  }
}

Status FileTrigger::Look(int64_t now_micros) {
  if (ScanDue(now_micros)) return Scan(now_micros);
  RestatCandidates(now_micros);
  return Status::Ok();
}

Result<std::vector<WatchedFile>> FileTrigger::Take(int64_t now_micros) {
  NS_RETURN_IF_ERROR(Look(now_micros));
  const auto settle = static_cast<int64_t>(spec_.settle_s * 1e6);
  std::vector<WatchedFile> taken;
  for (const auto& [path, c] : candidates_) {
    if (now_micros - c.stable_since < settle) continue;
    if (c.size == 0) {
      // Nothing to score; it is looked at again once it has data.
      if (ignored_.insert(path).second) {
        options_.log("file_ignored", fmt::format("file ignored: '{}' is empty (0 bytes)", path));
      }
      continue;
    }
    taken.push_back({path, c.size, c.mtime_ns});
  }
  for (const WatchedFile& f : taken) {
    candidates_.erase(f.path);
    ignored_.erase(f.path);
    held_.insert(Key(f.path, f.size, f.mtime_ns));
  }
  return taken;
}

std::string TriggerRunId(std::string_view job_name, const std::vector<WatchedFile>& files) {
  Sha256 sha;
  for (const WatchedFile& f : files) {
    sha.Update(fmt::format("{}\n{}\n{}\n", f.path, f.size, f.mtime_ns));
  }
  return fmt::format("{}-files-{}", job_name, sha.HexDigest().substr(0, 16));
}

bool IsTriggerRunId(std::string_view job_name, std::string_view run_id) {
  const std::string prefix = fmt::format("{}-files-", job_name);
  return run_id.size() == prefix.size() + 16 && run_id.starts_with(prefix);
}

}  // namespace nightshift::sched
