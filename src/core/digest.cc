#include "nightshift/digest.h"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace nightshift {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

Result<std::string> Sha256File(Env* env, const std::string& path) {
  Sha256 h;
  NS_RETURN_IF_ERROR(env->ReadFileBlocks(path, size_t{1} << 20, [&h](std::string_view block) {
    h.Update(block);
    return true;
  }));
  return h.HexDigest();
}

}  // namespace nightshift
