#include "onnx_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/test_models_for_test.h"
#include "nightshift/backend.h"
#include "ort_status.h"

#if defined(__SANITIZE_ADDRESS__)
// ONNX Runtime 1.30 itself leaks one 14-byte block whenever an OrtEnv is
// created (reproduced with a bare `Ort::Env env;` program). Its frames are all
// inside the stripped library, so it can only be suppressed by library name.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libonnxruntime.so\n";
}
#endif

namespace nightshift {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<float> ReadFloats(const fs::path& path) {
  std::string bytes = ReadBytes(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

class OnnxBackendTest : public ::testing::Test {
 protected:
  // Builds the test models once per test binary run, with the script the
  // project ships (tests/models/make_test_models.py).
  static void SetUpTestSuite() {
    models_ = MakeTestModels("make_test_models.py", "ns_onnx_test").release();
    if (models_ != nullptr) dir_ = new fs::path(models_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete models_;
    dir_ = nullptr;
    models_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(dir_, nullptr);
    RegisterBuiltinBackends();
    auto backend = CreateBackend("onnx");
    ASSERT_TRUE(backend.has_value()) << backend.error().ToString();
    backend_ = std::move(*backend);
  }

  static std::string ModelPath(const std::string& name) { return (*dir_ / name).string(); }

  Result<std::unique_ptr<Model>> Load(const std::string& name,
                                      std::vector<std::string> outputs = {}) {
    ModelConfig config;
    config.path = ModelPath(name);
    config.output_names = std::move(outputs);
    return backend_->LoadModel(config);
  }

  std::unique_ptr<ModelInstance> Instance(Model& model) {
    auto instance = model.CreateInstance();
    EXPECT_TRUE(instance.has_value()) << instance.error().ToString();
    return instance.has_value() ? std::move(*instance) : nullptr;
  }

  static TempDir* models_;
  static fs::path* dir_;  // models_'s
  std::unique_ptr<Backend> backend_;
};

TempDir* OnnxBackendTest::models_ = nullptr;
fs::path* OnnxBackendTest::dir_ = nullptr;

// Runs the MLP on the first `rows` rows of mlp_input.bin and checks the result
// against the numpy reference.
void ExpectMlpMatchesReference(ModelInstance& instance, const std::vector<float>& input,
                               const std::vector<float>& expected, int64_t rows,
                               std::vector<Tensor>* outputs) {
  Tensor features = Tensor::View(DType::kFloat32, {rows, 3}, const_cast<float*>(input.data()));
  ASSERT_TRUE(instance.Execute(std::span<const Tensor>(&features, 1), outputs).ok());
  ASSERT_EQ(outputs->size(), 1u);
  const Tensor& probs = (*outputs)[0];
  ASSERT_EQ(probs.dtype(), DType::kFloat32);
  ASSERT_EQ(probs.shape(), (std::vector<int64_t>{rows, 2}));
  for (int64_t i = 0; i < rows * 2; ++i) {
    ASSERT_NEAR(probs.data_as<float>()[i], expected[i], 1e-5) << "element " << i;
  }
}

TEST_F(OnnxBackendTest, MlpMatchesNumpyReference) {
  auto model = Load("mlp.onnx", {"probabilities"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<float> input = ReadFloats(*dir_ / "mlp_input.bin");
  std::vector<float> expected = ReadFloats(*dir_ / "mlp_expected.bin");
  ASSERT_EQ(input.size(), 1024u * 3);
  std::vector<Tensor> outputs;
  ExpectMlpMatchesReference(*instance, input, expected, 1024, &outputs);
}

TEST_F(OnnxBackendTest, ReusesOutputStorageForEqualOrSmallerBatches) {
  auto model = Load("mlp.onnx", {"probabilities"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<float> input = ReadFloats(*dir_ / "mlp_input.bin");
  std::vector<float> expected = ReadFloats(*dir_ / "mlp_expected.bin");
  std::vector<Tensor> outputs;

  ExpectMlpMatchesReference(*instance, input, expected, 1, &outputs);
  const void* after_1 = outputs[0].data();
  ExpectMlpMatchesReference(*instance, input, expected, 1, &outputs);
  EXPECT_EQ(outputs[0].data(), after_1);
  ExpectMlpMatchesReference(*instance, input, expected, 7, &outputs);
  ExpectMlpMatchesReference(*instance, input, expected, 1024, &outputs);  // grows
  const void* after_1024 = outputs[0].data();
  for (int64_t rows : {7, 1, 1024, 500, 1024}) {
    ExpectMlpMatchesReference(*instance, input, expected, rows, &outputs);
    EXPECT_EQ(outputs[0].data(), after_1024) << "batch of " << rows;
  }
}

TEST_F(OnnxBackendTest, SelectsTwoOutputsInTheGivenOrder) {
  auto model = Load("two_inputs.onnx", {"emb", "sum"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<double> a = {1.0, 2.0, 0.5, -4.0, 10.0, 0.25};
  std::vector<int64_t> b = {3, -1, 7};
  std::vector<Tensor> inputs;
  inputs.push_back(Tensor::View(DType::kFloat64, {3, 2}, a.data()));
  inputs.push_back(Tensor::View(DType::kInt64, {3, 1}, b.data()));
  std::vector<Tensor> outputs;
  Status status = instance->Execute(inputs, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), 2u);
  ASSERT_EQ(outputs[0].DebugString(), "float32[3, 4]");
  ASSERT_EQ(outputs[1].DebugString(), "float64[3, 1]");
  for (int64_t r = 0; r < 3; ++r) {
    EXPECT_DOUBLE_EQ(outputs[1].data_as<double>()[r], a[2 * r] + a[2 * r + 1] + b[r]);
    for (int64_t c = 0; c < 4; ++c) {
      EXPECT_FLOAT_EQ(outputs[0].data_as<float>()[r * 4 + c], b[r] * (c + 1) + 0.5f);
    }
  }
}

TEST_F(OnnxBackendTest, EmptyOutputNamesSelectsAllOutputsInModelOrder) {
  auto model = Load("two_inputs.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<double> a = {1.0, 2.0};
  std::vector<int64_t> b = {3};
  std::vector<Tensor> inputs;
  inputs.push_back(Tensor::View(DType::kFloat64, {1, 2}, a.data()));
  inputs.push_back(Tensor::View(DType::kInt64, {1, 1}, b.data()));
  std::vector<Tensor> outputs;
  ASSERT_TRUE(instance->Execute(inputs, &outputs).ok());
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].DebugString(), "float64[1, 1]");
  EXPECT_EQ(outputs[0].data_as<double>()[0], 6.0);
  EXPECT_EQ(outputs[1].DebugString(), "float32[1, 4]");
}

TEST_F(OnnxBackendTest, SymbolicNonBatchOutputDimensionIsCopiedOut) {
  auto model = Load("symbolic.onnx", {"y", "rowsum"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->Signature(),
            "inputs: x float32[-1, -1]; outputs: y float32[-1, -1], rowsum float32[-1, 1]");
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  const void* largest = nullptr;
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{2, 3}, {4, 5}, {3, 2}, {4, 5}}) {
    std::vector<float> x(rows * cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 3.5f;
    Tensor input = Tensor::View(DType::kFloat32, {rows, cols}, x.data());
    Status status = instance->Execute(std::span<const Tensor>(&input, 1), &outputs);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_EQ(outputs[0].shape(), (std::vector<int64_t>{rows, cols}));
    ASSERT_EQ(outputs[1].shape(), (std::vector<int64_t>{rows, 1}));
    for (int64_t r = 0; r < rows; ++r) {
      float sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        EXPECT_EQ(outputs[0].data_as<float>()[r * cols + c], 2 * x[r * cols + c]);
        sum += x[r * cols + c];
      }
      EXPECT_FLOAT_EQ(outputs[1].data_as<float>()[r], sum);
    }
    if (rows == 4) {
      if (largest != nullptr) {
        EXPECT_EQ(outputs[0].data(), largest);  // the copy's target is reused too
      }
      largest = outputs[0].data();
    }
  }
}

TEST_F(OnnxBackendTest, RunsInt32Model) {
  auto model = Load("int32.onnx", {"total"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->Signature(), "inputs: ids int32[-1, 4]; outputs: total int32[-1, 1]");
  auto instance = Instance(**model);
  std::vector<int32_t> ids = {1, 2, 3, 4, -10, 20, 30, 1000000};
  Tensor input = Tensor::View(DType::kInt32, {2, 4}, ids.data());
  std::vector<Tensor> outputs;
  ASSERT_TRUE(instance->Execute(std::span<const Tensor>(&input, 1), &outputs).ok());
  ASSERT_EQ(outputs[0].DebugString(), "int32[2, 1]");
  EXPECT_EQ(outputs[0].data_as<int32_t>()[0], 10);
  EXPECT_EQ(outputs[0].data_as<int32_t>()[1], 1000040);
}

TEST_F(OnnxBackendTest, WrongInputShapeIsSchemaMismatchNamingTheInput) {
  auto model = Load("mlp.onnx", {"probabilities"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<double> data(64);
  std::vector<Tensor> outputs;

  Tensor wide = Tensor::View(DType::kFloat32, {4, 4}, data.data());
  Status status = instance->Execute(std::span<const Tensor>(&wide, 1), &outputs);
  EXPECT_EQ(status.code(), Code::kSchemaMismatch);
  EXPECT_THAT(status.message(), HasSubstr("'features'"));
  EXPECT_THAT(status.message(), HasSubstr("float32[-1, 3]"));
  EXPECT_THAT(status.message(), HasSubstr("float32[4, 4]"));

  Tensor flat = Tensor::View(DType::kFloat32, {12}, data.data());
  status = instance->Execute(std::span<const Tensor>(&flat, 1), &outputs);
  EXPECT_EQ(status.code(), Code::kSchemaMismatch);
  EXPECT_THAT(status.message(), HasSubstr("float32[12]"));

  Tensor doubles = Tensor::View(DType::kFloat64, {4, 3}, data.data());
  status = instance->Execute(std::span<const Tensor>(&doubles, 1), &outputs);
  EXPECT_EQ(status.code(), Code::kSchemaMismatch);
  EXPECT_THAT(status.message(), HasSubstr("float64[4, 3]"));

  status = instance->Execute({}, &outputs);
  EXPECT_EQ(status.code(), Code::kSchemaMismatch);
  EXPECT_THAT(status.message(), HasSubstr("features"));

  // The instance is still usable after rejected batches.
  std::vector<float> input = ReadFloats(*dir_ / "mlp_input.bin");
  std::vector<float> expected = ReadFloats(*dir_ / "mlp_expected.bin");
  ExpectMlpMatchesReference(*instance, input, expected, 5, &outputs);
}

TEST_F(OnnxBackendTest, MissingModelFileIsNotFound) {
  auto model = Load("no_such_model.onnx");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kNotFound);
  EXPECT_THAT(model.error().message(), HasSubstr("no_such_model.onnx"));
}

TEST_F(OnnxBackendTest, DirectoryIsModelError) {
  ModelConfig config;
  config.path = dir_->string();
  auto model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
}

TEST_F(OnnxBackendTest, GarbageFileIsModelErrorWithPath) {
  std::mt19937 rng(7);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  WriteBytes(*dir_ / "garbage.onnx", garbage);
  auto model = Load("garbage.onnx");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(), HasSubstr(ModelPath("garbage.onnx")));

  WriteBytes(*dir_ / "empty.onnx", "");
  model = Load("empty.onnx");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
}

TEST_F(OnnxBackendTest, TruncatedModelIsModelError) {
  std::string bytes = ReadBytes(*dir_ / "mlp.onnx");
  WriteBytes(*dir_ / "half.onnx", bytes.substr(0, bytes.size() / 2));
  auto model = Load("half.onnx");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(), HasSubstr("half.onnx"));

  // Whatever the cut, a truncated file is rejected, never a crash.
  for (size_t size = 1; size < bytes.size(); size += 5) {
    WriteBytes(*dir_ / "cut.onnx", bytes.substr(0, size));
    model = Load("cut.onnx");
    ASSERT_FALSE(model.has_value()) << "cut at " << size;
    EXPECT_EQ(model.error().code(), Code::kModelError) << "cut at " << size;
  }
}

TEST_F(OnnxBackendTest, UnknownOutputNameIsSchemaMismatch) {
  auto model = Load("two_inputs.onnx", {"sum", "nope"});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kSchemaMismatch);
  EXPECT_EQ(model.error().message(), "model has no output 'nope' (outputs: sum, emb)");
}

TEST_F(OnnxBackendTest, SignatureListsInputsAndOutputs) {
  auto model = Load("mlp.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->Signature(),
            "inputs: features float32[-1, 3]; outputs: probabilities float32[-1, 2]");
  model = Load("two_inputs.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->Signature(),
            "inputs: a float64[-1, 2], b int64[-1, 1]; outputs: sum float64[-1, 1], emb "
            "float32[-1, 4]");
}

TEST_F(OnnxBackendTest, UnknownBackendIsInvalidJob) {
  auto backend = CreateBackend("tensorrt");
  ASSERT_FALSE(backend.has_value());
  EXPECT_EQ(backend.error().code(), Code::kInvalidJob);
  EXPECT_THAT(backend.error().message(),
              HasSubstr("unknown model.backend 'tensorrt' (built in: onnx"));
}

TEST_F(OnnxBackendTest, CudaDeviceIsInvalidJob) {
  ModelConfig config;
  config.path = ModelPath("mlp.onnx");
  config.device = "cuda";
  auto model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kInvalidJob);
  EXPECT_EQ(model.error().message(), "this build has no CUDA execution provider for ONNX Runtime");

  config.device = "tpu";
  model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kInvalidJob);
}

TEST_F(OnnxBackendTest, NegativeThreadsIsInvalidJob) {
  ModelConfig config;
  config.path = ModelPath("mlp.onnx");
  config.threads = -1;
  auto model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kInvalidJob);
}

TEST_F(OnnxBackendTest, TwoInstancesOnTwoThreadsGiveIdenticalResults) {
  ModelConfig config;
  config.path = ModelPath("mlp.onnx");
  config.threads = 1;
  auto model = backend_->LoadModel(config);
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  std::vector<float> input = ReadFloats(*dir_ / "mlp_input.bin");
  std::vector<float> expected = ReadFloats(*dir_ / "mlp_expected.bin");
  std::unique_ptr<ModelInstance> instances[2] = {Instance(**model), Instance(**model)};
  std::vector<float> results[2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      std::vector<Tensor> outputs;
      for (int round = 0; round < 50; ++round) {
        int64_t rows = round % 2 == 0 ? 1024 : 1 + round * 13;
        Tensor features = Tensor::View(DType::kFloat32, {rows, 3}, input.data());
        Status status = instances[t]->Execute(std::span<const Tensor>(&features, 1), &outputs);
        if (!status.ok()) return;
        const float* p = outputs[0].data_as<float>();
        results[t].insert(results[t].end(), p, p + rows * 2);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_FALSE(results[0].empty());
  ASSERT_EQ(results[0], results[1]);  // bit for bit
  for (size_t i = 0; i < 2048; ++i) ASSERT_NEAR(results[0][i], expected[i], 1e-5);
}

TEST_F(OnnxBackendTest, StringInputIsModelErrorNamingTheInput) {
  auto model = Load("string_input.onnx");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(), HasSubstr("input 'text' has type tensor(string)"));
}

TEST_F(OnnxBackendTest, UnsupportedOutputIsAnErrorOnlyWhenSelected) {
  auto model = Load("string_output.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->Signature(), "inputs: x float32[-1, 1]; outputs: y float32[-1, 1]");
  auto instance = Instance(**model);
  std::vector<float> x = {1.5f, -2.0f};
  Tensor input = Tensor::View(DType::kFloat32, {2, 1}, x.data());
  std::vector<Tensor> outputs;
  ASSERT_TRUE(instance->Execute(std::span<const Tensor>(&input, 1), &outputs).ok());
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].data_as<float>()[1], -1.0f);

  auto selected = Load("string_output.onnx", {"label"});
  ASSERT_FALSE(selected.has_value());
  EXPECT_EQ(selected.error().code(), Code::kModelError);
  EXPECT_THAT(selected.error().message(), HasSubstr("output 'label' has type tensor(string)"));
}

TEST_F(OnnxBackendTest, OutputShapeOtherThanDeclaredFallsBackToOrtAllocation) {
  auto model = Load("wrong_decl.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  Tensor input = Tensor::View(DType::kFloat32, {3, 2}, x.data());
  std::vector<Tensor> outputs;
  for (int round = 0; round < 2; ++round) {
    Status status = instance->Execute(std::span<const Tensor>(&input, 1), &outputs);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_EQ(outputs[0].DebugString(), "float32[6, 2]");
    for (int i = 0; i < 12; ++i) EXPECT_EQ(outputs[0].data_as<float>()[i], x[i % 6]);
  }
}

TEST_F(OnnxBackendTest, NeverWritesIntoOutputTensorsItDidNotAllocate) {
  auto model = Load("mlp.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<float> foreign(2, 42.0f);  // too small for the batch
  std::vector<Tensor> outputs;
  outputs.push_back(Tensor::View(DType::kFloat32, {1, 2}, foreign.data()));
  std::vector<float> input = ReadFloats(*dir_ / "mlp_input.bin");
  std::vector<float> expected = ReadFloats(*dir_ / "mlp_expected.bin");
  ExpectMlpMatchesReference(*instance, input, expected, 100, &outputs);
  EXPECT_NE(outputs[0].data(), foreign.data());
  EXPECT_EQ(foreign, std::vector<float>(2, 42.0f));
}

TEST_F(OnnxBackendTest, EmptyBatchGivesEmptyOutputs) {
  auto model = Load("mlp.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  float unused = 0;
  Tensor input = Tensor::View(DType::kFloat32, {0, 3}, &unused);
  std::vector<Tensor> outputs;
  Status status = instance->Execute(std::span<const Tensor>(&input, 1), &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(outputs[0].DebugString(), "float32[0, 2]");
}

TEST_F(OnnxBackendTest, ModelAndInstancesOutliveTheBackend) {
  auto model = Load("mlp.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto first = Instance(**model);
  backend_.reset();
  auto second = Instance(**model);
  std::vector<float> input = ReadFloats(*dir_ / "mlp_input.bin");
  std::vector<float> expected = ReadFloats(*dir_ / "mlp_expected.bin");
  std::vector<Tensor> outputs;
  ExpectMlpMatchesReference(*first, input, expected, 10, &outputs);
  ExpectMlpMatchesReference(*second, input, expected, 10, &outputs);
}

TEST_F(OnnxBackendTest, InstanceOfADeletedModelFileIsNotFound) {
  fs::copy_file(*dir_ / "mlp.onnx", *dir_ / "doomed.onnx", fs::copy_options::overwrite_existing);
  auto model = Load("doomed.onnx");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto first = Instance(**model);  // the session LoadModel opened
  ASSERT_NE(first, nullptr);
  fs::remove(*dir_ / "doomed.onnx");
  auto second = (*model)->CreateInstance();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), Code::kNotFound);
}

TEST(OrtStatusTest, AllocationFailuresAreOutOfMemory) {
  // Messages ORT produces when its arena or the C++ runtime runs out.
  Status status = onnx::OrtErrorStatus(
      "ONNX Runtime failed on a batch of 4096 row(s)",
      "/onnxruntime/core/framework/bfc_arena.cc:359 void* "
      "onnxruntime::BFCArena::AllocateRawInternal"
      "(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of "
      "size 17179869184");
  EXPECT_EQ(status.code(), Code::kOutOfMemory);
  EXPECT_TRUE(status.transient());
  EXPECT_THAT(status.message(), HasSubstr("batch of 4096"));
  EXPECT_EQ(onnx::OrtErrorStatus("x", "std::bad_alloc").code(), Code::kOutOfMemory);
  EXPECT_EQ(onnx::OrtErrorStatus("x",
                                 "Non-zero status code returned while running Gemm node. "
                                 "Name:'gemm' Status Message: Gemm: Invalid bias shape")
                .code(),
            Code::kModelError);
}

}  // namespace
}  // namespace nightshift

namespace nightshift {
namespace {

// slow.onnx spins in a Loop of 2^40 iterations: only Cancel() (the RunOptions
// terminate flag) makes Execute return. The instance then runs the next call.
TEST_F(OnnxBackendTest, CancelStopsARealSlowCallAndTheInstanceRunsAgain) {
  auto model = Load("slow.onnx", {"probabilities"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  Tensor features = Tensor::View(DType::kFloat32, {2, 3}, x.data());
  for (int round = 0; round < 2; ++round) {
    std::vector<Tensor> outputs;
    std::atomic<bool> returned{false};
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      // Repeated, as the engine's watchdog does, until the call returns.
      while (!returned.load()) {
        instance->Cancel();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    auto t0 = std::chrono::steady_clock::now();
    Status s = instance->Execute(std::span<const Tensor>(&features, 1), &outputs);
    returned.store(true);
    canceller.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(s.code(), Code::kInterrupted) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("cancelled"));
    EXPECT_GE(secs, 0.19);
    EXPECT_LT(secs, 5.0) << "round " << round;
  }
  // A Cancel() with no call in flight is not kept for the next call.
  instance->Cancel();
  auto mlp = Load("mlp.onnx", {"probabilities"});
  ASSERT_TRUE(mlp.has_value());
  auto fast = Instance(**mlp);
  fast->Cancel();
  std::vector<Tensor> outputs;
  EXPECT_TRUE(fast->Execute(std::span<const Tensor>(&features, 1), &outputs).ok());
}

}  // namespace
}  // namespace nightshift
