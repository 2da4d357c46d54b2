#include "plan/input_identity.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "plan/planner.h"

namespace nightshift::plan {
namespace {

std::string Cut(const std::string& v) {
  constexpr size_t kMax = 80;
  return v.size() <= kMax ? v : v.substr(0, kMax) + "...";
}

// What changed from `listed` to `now`, or "" when nothing did.
std::string FileChange(const InputFile& listed, const FileInfo& now) {
  if (now.device != listed.device || now.inode != listed.inode) {
    return fmt::format("was replaced (device:inode {}:{} -> {}:{})", listed.device, listed.inode,
                       now.device, now.inode);
  }
  if (now.size != listed.size) return fmt::format("size {} -> {} bytes", listed.size, now.size);
  if (now.mtime_ns != listed.mtime_ns) {
    return fmt::format("was modified (mtime {} -> {} ns)", listed.mtime_ns, now.mtime_ns);
  }
  return "";
}

}  // namespace

Status CheckUnchanged(Env* env, const InputFile& listed) {
  if (listed.path.empty()) return Status::Ok();
  auto info = env->Stat(listed.path);
  std::string change;
  if (!info.has_value()) {
    change = info.error().code() == Code::kNotFound ? "was removed" : info.error().message();
  } else {
    change = FileChange(listed, *info);
  }
  if (change.empty()) return Status::Ok();
  return Status(Code::kInvalidData,
                fmt::format("input file '{}' changed during the run: {}; the shards committed "
                            "before stay, and resuming this run id needs "
                            "--set run.allow_input_change=true",
                            listed.path, change));
}

Status CheckAllUnchanged(Env* env, const std::vector<InputFile>& files) {
  for (const InputFile& f : files) NS_RETURN_IF_ERROR(CheckUnchanged(env, f));
  return Status::Ok();
}

RunInputs RecordedInputs(const JobSpec& job, const std::vector<InputFile>& read_files) {
  RunInputs r;
  r.job = JobDefinition(job);
  for (const InputFile& f : read_files) {
    if (f.path.empty()) continue;
    InputFileRecord rec;
    rec.path = f.path;
    rec.size = f.size;
    rec.mtime_ns = f.mtime_ns;
    r.files.push_back(std::move(rec));
  }
  std::sort(r.files.begin(), r.files.end(),
            [](const InputFileRecord& a, const InputFileRecord& b) { return a.path < b.path; });
  return r;
}

std::vector<std::string> ListingChanges(const std::vector<InputFileRecord>& before,
                                        const std::vector<InputFileRecord>& now) {
  std::map<std::string, const InputFileRecord*> old_by_path, new_by_path;
  for (const auto& f : before) old_by_path[f.path] = &f;
  for (const auto& f : now) new_by_path[f.path] = &f;
  std::vector<std::string> out;
  for (const auto& [path, f] : old_by_path) {
    auto it = new_by_path.find(path);
    if (it == new_by_path.end()) {
      out.push_back(fmt::format("input file '{}' was removed", path));
    } else if (it->second->size != f->size) {
      out.push_back(
          fmt::format("input file '{}' size {} -> {} bytes", path, f->size, it->second->size));
    } else if (it->second->mtime_ns != f->mtime_ns) {
      out.push_back(fmt::format("input file '{}' mtime changed ({} -> {} ns)", path, f->mtime_ns,
                                it->second->mtime_ns));
    }
  }
  for (const auto& [path, f] : new_by_path) {
    if (!old_by_path.contains(path)) out.push_back(fmt::format("input file '{}' was added", path));
  }
  return out;
}

std::vector<std::string> JobChanges(const std::vector<std::pair<std::string, std::string>>& before,
                                    const std::vector<std::pair<std::string, std::string>>& now) {
  std::map<std::string, std::string> a(before.begin(), before.end()), b(now.begin(), now.end());
  for (const auto& [k, v] : b) a.try_emplace(k, "");  // a key new to this nightshift
  std::vector<std::string> out;
  for (const auto& [k, v] : a) {
    const std::string& w = b.contains(k) ? b.at(k) : std::string();
    if (v != w)
      out.push_back(fmt::format("job key '{}' changed ('{}' -> '{}')", k, Cut(v), Cut(w)));
  }
  return out;
}

}  // namespace nightshift::plan
