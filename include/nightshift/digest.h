// SHA-256 digests (OpenSSL), for model pins and run fingerprints.
#pragma once

#include <string>
#include <string_view>

#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift {

// Incremental SHA-256. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // Lower-case hex digest; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  void* ctx_;
};

// The hex SHA-256 of a file's bytes, read through `env` in 1 MiB blocks.
// NotFound/IoError naming the file.
Result<std::string> Sha256File(Env* env, const std::string& path);

}  // namespace nightshift
