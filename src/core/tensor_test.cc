#include "nightshift/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace nightshift {
namespace {

TEST(TensorTest, AllocateIsZeroedAndAligned) {
  Tensor t = Tensor::Allocate(DType::kFloat32, {4, 3});
  EXPECT_EQ(t.NumElements(), 12);
  EXPECT_EQ(t.ByteSize(), 48u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(t.data_as<float>()[i], 0.0f);
  EXPECT_EQ(t.DebugString(), "float32[4, 3]");
}

// A batch of images (here 32 x 3 x 224 x 224 floats, 18.4 MiB) starts on a
// 2 MiB boundary, where transparent huge pages can back it; it is zeroed
// to its last element, and growing it keeps the rule.
TEST(TensorTest, LargeStorageStartsOnHugePageBoundary) {
  Tensor t = Tensor::Allocate(DType::kFloat32, {32, 3, 224, 224});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % (uintptr_t{2} << 20), 0u);
  const float* f = t.data_as<float>();
  EXPECT_EQ(f[0], 0.0f);
  EXPECT_EQ(f[t.NumElements() - 1], 0.0f);
  t.data_as<float>()[t.NumElements() - 1] = 1.0f;
  t.Reshape({64, 3, 224, 224});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % (uintptr_t{2} << 20), 0u);
  t.data_as<float>()[t.NumElements() - 1] = 2.0f;  // writable to the end (ASan checks)
  Tensor small = Tensor::Allocate(DType::kFloat32, {1000});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 64, 0u);
}

TEST(TensorTest, ReshapeSmallerKeepsStorage) {
  Tensor t = Tensor::Allocate(DType::kInt64, {1024, 8});
  void* before = t.data();
  t.Reshape({10, 8});
  EXPECT_EQ(t.data(), before);
  t.Reshape({2048, 8});
  EXPECT_EQ(t.NumElements(), 2048 * 8);
}

TEST(TensorTest, ViewDoesNotOwn) {
  double buf[6] = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::View(DType::kFloat64, {2, 3}, buf);
  EXPECT_EQ(t.data_as<double>()[5], 6.0);
}

TEST(TensorTest, ParseDTypeRejectsUnknownNamesWithChoices) {
  EXPECT_EQ(ParseDType("float64").value(), DType::kFloat64);
  auto r = ParseDType("float128");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("float32"), std::string::npos);
}

}  // namespace
}  // namespace nightshift
