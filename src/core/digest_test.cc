#include "nightshift/digest.h"

#include <gtest/gtest.h>

#include <string>

#include "env/temp_dir_for_test.h"

namespace nightshift {
namespace {

TEST(DigestTest, KnownVectors) {
  Sha256 h;
  h.Update("abc");
  EXPECT_EQ(h.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, FileDigestMatchesAndMissingFileIsNotFound) {
  TempDir tmp("ns_digest");
  ASSERT_TRUE(tmp.ok());
  const std::string path = tmp / "abc.txt";
  ASSERT_TRUE(Env::Default()->WriteFile(path, "abc").ok());
  EXPECT_EQ(Sha256File(Env::Default(), path).value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256File(Env::Default(), "/nonexistent/model.onnx").error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace nightshift
