// The file a path column names, read under the rules of job-spec.md: a
// relative path is relative to the input file's folder and may not leave it
// (through `..` or a symlink) unless the job allows it; an absolute path is
// taken as it is. Errors are the row's dead-letter reason, naming the path.
#pragma once

#include <string>
#include <string_view>

#include "nightshift/env.h"

namespace nightshift::image {

// Files larger than this are refused before they are read (no image nightshift
// decodes needs more; a mislabelled video or archive does).
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

// The bytes of the file `path` (a column value) names. `base_dir` is the
// input file's folder (absolute; empty: relative paths are refused).
// InvalidData for a path that is empty, leaves `base_dir` when
// `allow_outside` is false, or names a file that is missing, unreadable,
// not a regular file or over kMaxImageFileBytes.
Result<std::string> ReadImageFile(Env* env, std::string_view path, std::string_view base_dir,
                                  bool allow_outside);

}  // namespace nightshift::image
