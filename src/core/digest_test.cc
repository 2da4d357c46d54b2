#include "nightshift/digest.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace nightshift {
namespace {

TEST(DigestTest, KnownVectors) {
  Sha256 h;
  h.Update("abc");
  EXPECT_EQ(h.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, FileDigestMatchesAndMissingFileIsNotFound) {
  char path[] = "/tmp/ns_digest_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  std::fputs("abc", f);
  std::fclose(f);
  EXPECT_EQ(Sha256File(Env::Default(), path).value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256File(Env::Default(), "/nonexistent/model.onnx").error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace nightshift
