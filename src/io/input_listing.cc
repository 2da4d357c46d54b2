#include "io/input_listing.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "nightshift/env.h"
#include "obs/log.h"

namespace nightshift::io {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool HasGlobChars(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

bool Hidden(const std::string& name) {
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

Status WalkDir(Env* env, const std::string& dir, std::vector<std::string>* out) {
  NS_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
  for (const auto& name : names) {
    if (Hidden(name)) continue;
    std::string path = JoinPath(dir, name);
    NS_ASSIGN_OR_RETURN(FileInfo info, env->Stat(path));
    if (info.is_dir) {
      NS_RETURN_IF_ERROR(WalkDir(env, path, out));
    } else {
      out->push_back(path);
    }
  }
  return Status::Ok();
}

// The rule for a 0-byte input file: a CSV or JSONL file of no bytes has no
// rows, so it is skipped (added to `empty`); a Parquet file of no bytes is
// not a Parquet file at all (it lacks even the footer), so it is refused.
Status EmptyFile(const std::string& path, InputFormat format, std::vector<std::string>* empty) {
  if (format == InputFormat::kParquet) {
    return Status(Code::kInvalidData,
                  fmt::format("input file '{}' is empty (0 bytes): not a Parquet file", path));
  }
  empty->push_back(path);
  return Status::Ok();
}

// The components of a '/'-separated path, lexically normalized ("." and
// empty ones dropped, ".." taking the one before it away).
std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    std::string c = path.substr(begin, end - begin);
    if (c == ".." && !out.empty()) {
      out.pop_back();
    } else if (!c.empty() && c != ".") {
      out.push_back(std::move(c));
    }
    begin = end + 1;
  }
  return out;
}

// Whether glob components pattern[p..] match path components name[n..].
bool MatchComponents(const std::vector<std::string>& pattern, size_t p,
                     const std::vector<std::string>& name, size_t n) {
  if (p == pattern.size()) return n == name.size();
  if (pattern[p] == "**") {
    for (size_t skip = n; skip <= name.size(); ++skip) {
      if (MatchComponents(pattern, p + 1, name, skip)) return true;
      if (skip < name.size() && name[skip][0] == '.') return false;
    }
    return false;
  }
  return n < name.size() && ::fnmatch(pattern[p].c_str(), name[n].c_str(), FNM_PERIOD) == 0 &&
         MatchComponents(pattern, p + 1, name, n + 1);
}

// ExpandGlob for a pattern with a `**` component.
Result<std::vector<std::string>> GlobStar(const std::string& pattern, Env* env) {
  const std::vector<std::string> parts = Components(pattern);
  std::string base = pattern.starts_with("/") ? "/" : ".";
  for (size_t i = 0; i < parts.size() && !HasGlobChars(parts[i]); ++i) {
    base = JoinPath(base, parts[i]);
  }
  std::vector<std::string> files, out;
  auto info = env->Stat(base);
  if (!info.has_value() || !info->is_dir) return out;
  NS_RETURN_IF_ERROR(WalkDir(env, base, &files));
  for (std::string& f : files) {
    if (MatchComponents(parts, 0, Components(f), 0)) out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool HasGlobStar(const std::string& pattern) {
  const std::vector<std::string> parts = Components(pattern);
  return std::find(parts.begin(), parts.end(), "**") != parts.end();
}

}  // namespace

bool InputWouldList(const InputSpec& spec, const std::string& path, Env* env) {
  if (spec.path.empty()) return false;  // input.query
  const std::vector<std::string> name = Components(path);
  if (HasGlobChars(spec.path)) return MatchComponents(Components(spec.path), 0, name, 0);
  auto info = env->Stat(spec.path);
  if (!info.has_value() || !info->is_dir) return false;  // a single file lists only itself
  const std::vector<std::string> dir = Components(spec.path);
  if (name.size() <= dir.size() || !std::equal(dir.begin(), dir.end(), name.begin())) return false;
  // The walk skips hidden names below the folder (WalkDir).
  return std::none_of(name.begin() + static_cast<std::ptrdiff_t>(dir.size()), name.end(), Hidden);
}

Result<std::vector<std::string>> ExpandGlob(const std::string& pattern, Env* env) {
  return HasGlobStar(pattern) ? GlobStar(pattern, env) : env->Glob(pattern);
}

InputFormat FormatFromExtension(const std::string& path) {
  std::string p = path;
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::string_view z : {".gz", ".zst"}) {
    if (EndsWith(p, z)) p.resize(p.size() - z.size());
  }
  if (EndsWith(p, ".parquet") || EndsWith(p, ".pq") || EndsWith(p, ".parq")) {
    return InputFormat::kParquet;
  }
  if (EndsWith(p, ".csv") || EndsWith(p, ".tsv")) return InputFormat::kCsv;
  if (EndsWith(p, ".jsonl") || EndsWith(p, ".ndjson") || EndsWith(p, ".json")) {
    return InputFormat::kJsonl;
  }
  return InputFormat::kAuto;
}

namespace {

// The paths a trigger run was handed: each must still be there.
Status TriggerPaths(const InputSpec& spec, Env* env, std::vector<std::string>* paths) {
  for (const auto& p : spec.files) {
    if (auto info = env->Stat(p); !info.has_value()) {
      return Status(info.error().code(),
                    fmt::format("trigger file '{}': {}", p, info.error().message()));
    }
  }
  *paths = spec.files;
  return Status::Ok();
}

// The files a glob matches (folders, and files gone since, left out).
Status GlobPaths(const InputSpec& spec, Env* env, std::vector<std::string>* paths) {
  auto matched = ExpandGlob(spec.path, env);
  if (!matched.has_value()) {
    return Status(Code::kIoError,
                  fmt::format("input.path '{}': {}", spec.path, matched.error().message()));
  }
  for (const auto& p : *matched) {
    auto info = env->Stat(p);
    if (!info.has_value() && info.error().code() == Code::kNotFound) continue;  // gone, dangling
    if (!info.has_value()) return Status(Code::kIoError, "input file " + info.error().message());
    if (!info->is_dir) paths->push_back(p);
  }
  if (paths->empty()) {
    return Status(Code::kNotFound, fmt::format("input.path '{}' matches no files", spec.path));
  }
  return Status::Ok();
}

// One file, or the data files of a folder (*from_dir set).
Status PathOrFolder(const InputSpec& spec, Env* env, std::vector<std::string>* paths,
                    bool* from_dir) {
  auto info = env->Stat(spec.path);
  if (!info.has_value()) {
    if (info.error().code() != Code::kNotFound) {
      return Status(info.error().code(),
                    fmt::format("input.path '{}': {}", spec.path, info.error().message()));
    }
    return Status(info.error().code(), fmt::format("input.path '{}' does not exist", spec.path));
  }
  if (!info->is_dir) {
    paths->push_back(spec.path);
    return Status::Ok();
  }
  *from_dir = true;
  NS_RETURN_IF_ERROR(WalkDir(env, spec.path, paths));
  if (paths->empty()) {
    return Status(Code::kNotFound,
                  fmt::format("input.path '{}' is a folder with no data files", spec.path));
  }
  return Status::Ok();
}

// The format of `p`, or nullopt for a stray file of a folder (skipped).
Result<std::optional<InputFormat>> FormatOf(const InputSpec& spec, const std::string& p,
                                            bool from_dir) {
  if (spec.format != InputFormat::kAuto) return std::optional<InputFormat>(spec.format);
  const InputFormat f = FormatFromExtension(p);
  if (f != InputFormat::kAuto) return std::optional<InputFormat>(f);
  // A folder may hold stray files (READMEs, checksums): skip those.
  if (from_dir) return std::optional<InputFormat>();
  return Error(Code::kInvalidJob, fmt::format("cannot tell the format of '{}' from its extension; "
                                              "set input.format to parquet, csv or jsonl",
                                              p));
}

// Checks and stats each path into `files`; 0-byte CSV/JSONL files go to `empty`.
Status StatFiles(const InputSpec& spec, Env* env, const std::vector<std::string>& paths,
                 bool from_dir, std::vector<InputFile>* files, std::vector<std::string>* empty) {
  for (const auto& p : paths) {
    NS_ASSIGN_OR_RETURN(std::optional<InputFormat> fmt_of, FormatOf(spec, p, from_dir));
    if (!fmt_of.has_value()) continue;
    if (!files->empty() && files->front().format != *fmt_of) {
      return Status(
          Code::kInvalidJob,
          fmt::format("input.path '{}' mixes formats: '{}' is {} but '{}' is {}", spec.path,
                      files->front().path, InputFormatName(files->front().format), p,
                      InputFormatName(*fmt_of)));
    }
    if (!env->CheckAccess(p, Env::Access::kRead).ok()) {
      return Status(Code::kIoError, fmt::format("input file '{}' is not readable", p));
    }
    NS_ASSIGN_OR_RETURN(FileInfo info, env->Stat(p));
    if (info.size == 0) {
      NS_RETURN_IF_ERROR(EmptyFile(p, *fmt_of, empty));
      continue;
    }
    InputFile f;
    f.index = static_cast<int32_t>(files->size());
    f.path = p;
    f.format = *fmt_of;
    f.size = info.size;
    f.mtime_ns = info.mtime_ns;
    f.device = info.device;
    f.inode = info.inode;
    files->push_back(std::move(f));
  }
  return Status::Ok();
}

// Files left, or the error for an input with none (only empty files: nothing
// to bind the job's columns to; a CSV with only its header has columns).
Status CheckSomeFiles(const InputSpec& spec, const std::vector<InputFile>& files,
                      const std::vector<std::string>& empty) {
  if (files.empty() && !empty.empty()) {
    return Status(Code::kInvalidData,
                  empty.size() == 1 && empty[0] == spec.path
                      ? fmt::format("input file '{}' is empty (0 bytes): it has no header or rows "
                                    "to check the job's columns against",
                                    empty[0])
                      : fmt::format("input.path '{}' holds only empty files (0 bytes, e.g. '{}'): "
                                    "no header or rows to check the job's columns against",
                                    spec.path, empty[0]));
  }
  for (const auto& p : empty) {
    obs::Log(obs::LogLevel::kInfo, "input_file_skipped",
             fmt::format("note: skipping empty input file '{}' (0 bytes: no rows)", p),
             obs::LogFields("", "", -1, {{"file", p}}));
  }
  if (files.empty()) {
    return Status(
        Code::kNotFound,
        fmt::format("input.path '{}' holds no .parquet, .csv or .jsonl files", spec.path));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<InputFile>> ListInputFiles(const InputSpec& spec, Env* env) {
  if (spec.path.empty() && spec.query.empty() && spec.files.empty()) {
    // Only a job with a `trigger:` parses without both (job-spec.md).
    return Error(Code::kInvalidJob,
                 "the job has no input.path: a trigger job's input is the files trigger.watch "
                 "finds, which `nightshift schedule` hands to each run it starts");
  }
  std::vector<std::string> paths;
  bool from_dir = false;
  if (!spec.files.empty()) {
    NS_RETURN_IF_ERROR(TriggerPaths(spec, env, &paths));
  } else if (HasGlobChars(spec.path)) {
    NS_RETURN_IF_ERROR(GlobPaths(spec, env, &paths));
  } else {
    NS_RETURN_IF_ERROR(PathOrFolder(spec, env, &paths, &from_dir));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<InputFile> files;
  std::vector<std::string> empty;  // 0-byte CSV/JSONL files: no rows, skipped
  NS_RETURN_IF_ERROR(StatFiles(spec, env, paths, from_dir, &files, &empty));
  NS_RETURN_IF_ERROR(CheckSomeFiles(spec, files, empty));
  return files;
}

}  // namespace nightshift::io
