#include "image/image_file.h"

#include <fmt/format.h>

#include <filesystem>

namespace nightshift::image {
namespace {

namespace fs = std::filesystem;

Status Refuse(std::string_view path, std::string_view why) {
  return Status(Code::kInvalidData, fmt::format("image path '{}': {}", path, why));
}

// True when `path` (normal, absolute) is `dir` or below it.
bool Within(const fs::path& path, const fs::path& dir) {
  const fs::path rel = path.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

// The absolute file `path` names, checked against `base_dir`'s bounds.
Result<std::string> Resolve(Env* env, std::string_view path, std::string_view base_dir,
                            bool allow_outside) {
  if (path.empty()) return Error(Refuse(path, "empty"));
  if (path.find('\0') != std::string_view::npos) return Error(Refuse(path, "contains a NUL byte"));
  const fs::path p{std::string(path)};
  if (p.is_absolute()) return p.lexically_normal().string();
  if (base_dir.empty()) {
    return Error(Refuse(path, "relative, but this input has no folder to resolve it against"));
  }
  const fs::path base = fs::path(std::string(base_dir)).lexically_normal();
  const fs::path joined = (base / p).lexically_normal();
  if (allow_outside) return joined.string();
  if (!Within(joined, base)) {
    return Error(Refuse(path, fmt::format("leaves the input folder '{}' through '..' "
                                          "(input.allow_outside is false)",
                                          base.string())));
  }
  // A symlink inside the folder may point anywhere: compare real paths.
  auto real = env->RealPath(joined.string());
  if (!real.has_value()) return Error(Refuse(path, real.error().message()));
  auto real_base = env->RealPath(base.string());
  if (!real_base.has_value()) return Error(Refuse(path, real_base.error().message()));
  if (!Within(fs::path(*real), fs::path(*real_base))) {
    return Error(Refuse(path, fmt::format("leaves the input folder '{}' through a symlink (to "
                                          "'{}'; input.allow_outside is false)",
                                          base.string(), *real)));
  }
  return *real;
}

}  // namespace

Result<std::string> ReadImageFile(Env* env, std::string_view path, std::string_view base_dir,
                                  bool allow_outside) {
  NS_ASSIGN_OR_RETURN(std::string file, Resolve(env, path, base_dir, allow_outside));
  auto info = env->Stat(file);
  if (!info.has_value()) return Error(Refuse(path, info.error().message()));
  if (info->is_dir) return Error(Refuse(path, "is a folder, not a file"));
  // A FIFO would block the reader for ever, a device never end.
  if (info->is_special) {
    return Error(Refuse(path, "is not a regular file (a FIFO, socket or device)"));
  }
  if (info->size > kMaxImageFileBytes) {
    return Error(Refuse(path, fmt::format("{} bytes, over the {} byte limit for an image file",
                                          info->size, kMaxImageFileBytes)));
  }
  auto bytes = env->ReadFile(file);
  if (!bytes.has_value()) return Error(Refuse(path, bytes.error().message()));
  return std::move(*bytes);
}

}  // namespace nightshift::image
