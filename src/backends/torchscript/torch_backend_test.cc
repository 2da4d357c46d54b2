#include "torch_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "backends/test_models_for_test.h"
#include "nightshift/backend.h"

namespace nightshift {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
std::vector<T> ReadValues(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

std::vector<float> Floats(const Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<float>(p, p + t.NumElements());
}

// An owned float32 tensor holding `values`.
Tensor FloatTensor(std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor t = Tensor::Allocate(DType::kFloat32, std::move(shape));
  std::memcpy(t.data(), values.data(), t.ByteSize());
  return t;
}

class TorchBackendTest : public ::testing::Test {
 protected:
  // Scripts the test models once per test binary run, with the script the
  // project ships (tests/models/make_torch_models.py).
  static void SetUpTestSuite() {
    models_ = MakeTestModels("make_torch_models.py", "ns_torch_test").release();
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
    // The backend itself; the binary loads the same code as a module
    // (libnightshift_torchscript.so), which the end-to-end tests exercise.
    auto backend = CreateTorchBackend();
    ASSERT_TRUE(backend.has_value()) << backend.error().ToString();
    backend_ = std::move(*backend);
  }

  static std::string ModelPath(const std::string& name) { return (*dir_ / name).string(); }

  Result<std::unique_ptr<Model>> Load(const std::string& name, std::vector<std::string> outputs,
                                      std::vector<TensorSpec> hints = {}) {
    ModelConfig config;
    config.path = ModelPath(name);
    config.output_names = std::move(outputs);
    config.input_hints = std::move(hints);
    return backend_->LoadModel(config);
  }

  Result<std::unique_ptr<Model>> LoadWith(ModelConfig config) {
    config.path = ModelPath(config.path);
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

TempDir* TorchBackendTest::models_ = nullptr;
fs::path* TorchBackendTest::dir_ = nullptr;

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tolerance) << "element " << i;
  }
}

class TorchMlpTest : public TorchBackendTest {
 protected:
  void SetUp() override {
    TorchBackendTest::SetUp();
    input_ = ReadValues<float>(*dir_ / "mlp_input.bin");
    expected_ = ReadValues<float>(*dir_ / "mlp_expected.bin");
    ASSERT_EQ(input_.size(), 257u * 4);
    ASSERT_EQ(expected_.size(), 257u * 3);
  }

  // Runs the first `rows` rows and checks them against the reference.
  void Run(ModelInstance& instance, int64_t rows, std::vector<Tensor>* outputs,
           double tolerance = 1e-5) {
    Tensor features = Tensor::View(DType::kFloat32, {rows, 4}, input_.data());
    Status s = instance.Execute(std::span<const Tensor>(&features, 1), outputs);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(outputs->size(), 1u);
    const Tensor& probs = (*outputs)[0];
    ASSERT_EQ(probs.dtype(), DType::kFloat32);
    ASSERT_EQ(probs.shape(), (std::vector<int64_t>{rows, 3}));
    ExpectNear(Floats(probs), std::vector<float>(expected_.begin(), expected_.begin() + rows * 3),
               tolerance);
  }

  std::vector<float> input_;
  std::vector<float> expected_;
};

TEST_F(TorchMlpTest, MatchesNumpyReference) {
  auto model = Load("mlp.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  // No declared shapes: inputs are dynamic and the output is float32 [-1, -1].
  ASSERT_EQ((*model)->inputs().size(), 1u);
  EXPECT_EQ((*model)->inputs()[0].name, "features");
  EXPECT_EQ((*model)->inputs()[0].dtype, DType::kFloat32);
  EXPECT_EQ((*model)->inputs()[0].shape, (std::vector<int64_t>{-1, -1}));
  ASSERT_EQ((*model)->outputs().size(), 1u);
  EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{-1, -1}));
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  Run(*instance, 257, &outputs);
}

TEST_F(TorchMlpTest, ShapeHintsLetLoadModelDiscoverTheOutputs) {
  auto model = Load("mlp.pt", {"0"}, {TensorSpec{"features", DType::kFloat32, {-1, 4}}});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->inputs()[0].shape, (std::vector<int64_t>{-1, 4}));
  std::vector<std::string> names;
  for (const TensorSpec& spec : (*model)->outputs()) names.push_back(spec.name);
  EXPECT_THAT(names, ::testing::ElementsAre("output", "0"));
  EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ((*model)->outputs()[0].dtype, DType::kFloat32);
  EXPECT_THAT((*model)->Signature(), HasSubstr("features float32[-1, 4]"));
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  Run(*instance, 257, &outputs);
}

TEST_F(TorchMlpTest, ReusesOutputStorageForEqualOrSmallerBatches) {
  auto model = Load("mlp.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  Run(*instance, 16, &outputs);
  const void* first = outputs[0].data();
  Run(*instance, 16, &outputs);
  EXPECT_EQ(outputs[0].data(), first);
  Run(*instance, 3, &outputs);
  EXPECT_EQ(outputs[0].data(), first);
  Run(*instance, 257, &outputs);  // grows
  Run(*instance, 1, &outputs);
}

TEST_F(TorchMlpTest, Bf16AutocastOnCpuStaysCloseToReference) {
  ModelConfig config;
  config.path = "mlp.pt";
  config.output_names = {"output"};
  config.precision = "bf16";
  auto model = LoadWith(config);
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  Run(*instance, 64, &outputs, /*tolerance=*/0.05);  // returned as float32
}

TEST_F(TorchMlpTest, TwoInstancesRunOnTwoThreads) {
  ModelConfig config;
  config.path = "mlp.pt";
  config.output_names = {"output"};
  config.threads = 1;
  auto model = LoadWith(config);
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto a = Instance(**model);
  auto b = Instance(**model);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto work = [&](ModelInstance* instance, int64_t rows) {
    std::vector<Tensor> outputs;
    for (int i = 0; i < 40; ++i) Run(*instance, rows + i % 7, &outputs);
  };
  std::thread ta(work, a.get(), 100);
  std::thread tb(work, b.get(), 200);
  ta.join();
  tb.join();
}

TEST_F(TorchMlpTest, WrongInputCountIsASchemaMismatch) {
  auto model = Load("mlp.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<Tensor> inputs;
  inputs.push_back(Tensor::View(DType::kFloat32, {2, 4}, input_.data()));
  inputs.push_back(Tensor::View(DType::kFloat32, {2, 4}, input_.data()));
  std::vector<Tensor> outputs;
  Status s = instance->Execute(inputs, &outputs);
  EXPECT_EQ(s.code(), Code::kSchemaMismatch) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("model expects 1 input(s) (features), got 2"));
}

TEST_F(TorchMlpTest, WrongInputDtypeIsASchemaMismatch) {
  auto model = Load("mlp.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor ids = Tensor::Allocate(DType::kInt64, {2, 4});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&ids, 1), &outputs);
  EXPECT_EQ(s.code(), Code::kSchemaMismatch) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("input 'features' expects float32[?, ?], got int64[2, 4]"));
}

TEST_F(TorchMlpTest, WrongWidthIsAModelErrorWithTorchsReason) {
  auto model = Load("mlp.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor features = Tensor::View(DType::kFloat32, {2, 5}, input_.data());
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&features, 1), &outputs);
  EXPECT_EQ(s.code(), Code::kModelError) << s.ToString();
  EXPECT_THAT(s.message(), AllOf(HasSubstr("batch of 2 row(s)"),
                                 HasSubstr("mat1 and mat2 shapes cannot be multiplied"),
                                 Not(HasSubstr("Traceback"))));
}

TEST_F(TorchMlpTest, UnknownOutputNameFailsAtLoadWhenShapesAreKnown) {
  auto model =
      Load("mlp.pt", {"probabilities"}, {TensorSpec{"features", DType::kFloat32, {-1, 4}}});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kSchemaMismatch);
  EXPECT_THAT(model.error().message(), HasSubstr("no output 'probabilities' (outputs: output)"));
}

TEST_F(TorchMlpTest, ProbeFailureIsAModelErrorAtLoad) {
  // The job says 5 columns; the model takes 4.
  auto model = Load("mlp.pt", {"output"}, {TensorSpec{"features", DType::kFloat32, {-1, 5}}});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(),
              AllOf(HasSubstr(ModelPath("mlp.pt")), HasSubstr("features float32[-1, 5]"),
                    HasSubstr("mat1 and mat2 shapes cannot be multiplied")));
}

TEST_F(TorchBackendTest, ProbeCanBeTurnedOffInTheArchive) {
  auto model = Load("needs_nonzero.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->inputs()[0].shape, (std::vector<int64_t>{-1, 1}));
  EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{-1, -1}));  // not probed
  auto instance = Instance(**model);
  Tensor x = FloatTensor({2, 1}, {2, -4});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{0.5, -0.25}));
}

TEST_F(TorchMlpTest, UnknownOutputNameFailsOnTheFirstBatchOtherwise) {
  auto model = Load("mlp.pt", {"probabilities"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor features = Tensor::View(DType::kFloat32, {2, 4}, input_.data());
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&features, 1), &outputs);
  EXPECT_EQ(s.code(), Code::kSchemaMismatch) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("no output 'probabilities': forward() returns a single "
                                     "tensor (outputs: output)"));
}

TEST_F(TorchBackendTest, TupleOutputsAreSelectedByIndex) {
  auto model = Load("tuple_out.pt", {"2", "1", "0"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor x = FloatTensor({2, 3}, {1, 5, 2, -1, -4, 0.5});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{2, 10, 4, -2, -8, 1}));
  // Undiscovered outputs are float32: the int64 argmax is converted.
  EXPECT_EQ(outputs[1].dtype(), DType::kFloat32);
  EXPECT_EQ(outputs[1].shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(Floats(outputs[1]), (std::vector<float>{1, 2}));
  EXPECT_EQ(Floats(outputs[2]), (std::vector<float>{8, -4.5}));

  Result<std::unique_ptr<Model>> bad = Load("tuple_out.pt", {"3"});
  ASSERT_TRUE(bad.has_value()) << bad.error().ToString();
  auto bad_instance = Instance(**bad);
  s = bad_instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  EXPECT_EQ(s.code(), Code::kSchemaMismatch) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("no output '3': forward() returns a tuple of 3 (outputs: "
                                     "0, 1, 2)"));
}

TEST_F(TorchBackendTest, ProbedOutputsKeepTheirDtypes) {
  auto model = Load("tuple_out.pt", {}, {TensorSpec{"x", DType::kFloat32, {-1, 3}}});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  const std::vector<TensorSpec>& outs = (*model)->outputs();
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].shape, (std::vector<int64_t>{-1, 1}));
  EXPECT_EQ(outs[1].dtype, DType::kInt64);
  EXPECT_EQ(outs[1].shape, (std::vector<int64_t>{-1}));
  EXPECT_EQ(outs[2].shape, (std::vector<int64_t>{-1, 3}));
  auto instance = Instance(**model);  // empty output_names: every output, in order
  Tensor x = FloatTensor({2, 3}, {1, 5, 2, -1, -4, 0.5});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(outputs.size(), 3u);
  ASSERT_EQ(outputs[1].dtype(), DType::kInt64);
  EXPECT_EQ(outputs[1].data_as<int64_t>()[0], 1);
  EXPECT_EQ(outputs[1].data_as<int64_t>()[1], 2);
}

TEST_F(TorchBackendTest, DictOutputsAreSelectedByKey) {
  auto model = Load("dict_out.pt", {"double", "score"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor x = FloatTensor({3, 2}, {1, 2, 3, 4, 5, 6});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(outputs[1].shape(), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Floats(outputs[1]), (std::vector<float>{3, 7, 11}));

  auto bad = Load("dict_out.pt", {"triple"}, {TensorSpec{"x", DType::kFloat32, {-1, 2}}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::kSchemaMismatch);
  EXPECT_THAT(bad.error().message(), HasSubstr("no output 'triple' (outputs: score, double)"));
}

TEST_F(TorchBackendTest, TwoInputsArePassedInForwardOrder) {
  auto model = Load("two_inputs.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  ASSERT_EQ((*model)->inputs().size(), 2u);
  EXPECT_EQ((*model)->inputs()[0].name, "a");
  EXPECT_EQ((*model)->inputs()[1].name, "b");
  auto instance = Instance(**model);
  std::vector<Tensor> inputs;
  inputs.push_back(FloatTensor({2, 2}, {1, 2, 3, 4}));
  inputs.push_back(FloatTensor({2, 1}, {10, 20}));
  std::vector<Tensor> outputs;
  Status s = instance->Execute(inputs, &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(outputs[0].shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{2, 4, 11, 6, 8, 21}));
  // The engine's inputs are left as they were.
  EXPECT_EQ(Floats(inputs[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST_F(TorchBackendTest, Int64InputDeclaredInTheArchive) {
  auto model = Load("int64_input.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  ASSERT_EQ((*model)->inputs().size(), 1u);
  EXPECT_EQ((*model)->inputs()[0].dtype, DType::kInt64);
  EXPECT_EQ((*model)->inputs()[0].shape, (std::vector<int64_t>{-1, 2}));
  // Shapes known: the probe found the output.
  EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{-1, 3}));
  std::vector<int64_t> ids = ReadValues<int64_t>(*dir_ / "int64_ids.bin");
  std::vector<float> expected = ReadValues<float>(*dir_ / "int64_expected.bin");
  ASSERT_EQ(ids.size(), 12u);
  auto instance = Instance(**model);
  Tensor in = Tensor::View(DType::kInt64, {6, 2}, ids.data());
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&in, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectNear(Floats(outputs[0]), expected, 1e-5);
}

TEST_F(TorchBackendTest, ArchiveDeclarationWinsOverJobHints) {
  auto model = Load("float64_meta.pt", {"output"}, {TensorSpec{"x", DType::kFloat32, {-1, 7}}});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->inputs()[0].dtype, DType::kFloat64);
  EXPECT_EQ((*model)->inputs()[0].shape, (std::vector<int64_t>{-1, 2}));
  EXPECT_EQ((*model)->outputs()[0].dtype, DType::kFloat64);
}

TEST_F(TorchBackendTest, JobHintsSetUndeclaredDtypes) {
  auto model = Load("two_inputs.pt", {"output"},
                    {TensorSpec{"b", DType::kInt64, {}}, TensorSpec{"unknown", DType::kInt8, {}}});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->inputs()[0].dtype, DType::kFloat32);
  EXPECT_EQ((*model)->inputs()[1].dtype, DType::kInt64);
  EXPECT_EQ((*model)->inputs()[1].shape, (std::vector<int64_t>{-1, -1}));
}

TEST_F(TorchBackendTest, TupleArgumentTakesOneInputPerElement) {
  auto model = Load("tuple_input.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  ASSERT_EQ((*model)->inputs().size(), 2u);
  EXPECT_EQ((*model)->inputs()[0].name, "pair.0");
  EXPECT_EQ((*model)->inputs()[1].name, "pair.1");
  auto instance = Instance(**model);
  std::vector<Tensor> inputs;
  inputs.push_back(FloatTensor({2, 1}, {5, 7}));
  inputs.push_back(FloatTensor({2, 1}, {1, 2}));
  std::vector<Tensor> outputs;
  Status s = instance->Execute(inputs, &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{4, 5}));
}

TEST_F(TorchBackendTest, ArgumentsWithDefaultsKeepThem) {
  auto model = Load("defaults.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  ASSERT_EQ((*model)->inputs().size(), 1u);
  auto instance = Instance(**model);
  Tensor x = FloatTensor({1, 2}, {1, -2});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{3, -6}));
}

TEST_F(TorchBackendTest, ErrorRaisedByTheModelIsAModelErrorWithItsMessage) {
  auto model = Load("rejects_negative.pt", {"output"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor x = FloatTensor({2, 1}, {1, -1});
  std::vector<Tensor> outputs;
  Status s = instance->Execute(std::span<const Tensor>(&x, 1), &outputs);
  EXPECT_EQ(s.code(), Code::kModelError) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("negative input"));
  EXPECT_THAT(s.message(), Not(HasSubstr("Traceback")));
  // The instance still works afterwards.
  Tensor ok = FloatTensor({1, 1}, {2});
  s = instance->Execute(std::span<const Tensor>(&ok, 1), &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Floats(outputs[0]), (std::vector<float>{20}));
}

TEST_F(TorchBackendTest, MissingFileIsNotFound) {
  auto model = Load("no_such_model.pt", {"output"});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kNotFound);
  EXPECT_THAT(model.error().message(), HasSubstr(ModelPath("no_such_model.pt")));
}

TEST_F(TorchBackendTest, GarbageFileIsAModelErrorNamingThePath) {
  auto model = Load("garbage.pt", {"output"});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(),
              AllOf(HasSubstr(ModelPath("garbage.pt")), HasSubstr("zip archive"),
                    HasSubstr("torch.jit.save()")));
}

TEST_F(TorchBackendTest, DirectoryIsAModelError) {
  ModelConfig config;
  config.path = dir_->string();
  auto model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(), HasSubstr("is a directory"));
}

TEST_F(TorchBackendTest, ArgumentNightshiftCannotFeedIsAModelError) {
  auto model = Load("int_arg.pt", {"output"});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(), HasSubstr("argument 'k' has type int"));
}

TEST_F(TorchBackendTest, BadArchiveDeclarationIsAModelError) {
  auto model = Load("bad_meta.pt", {"output"});
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
  EXPECT_THAT(model.error().message(),
              AllOf(HasSubstr("nightshift.json"), HasSubstr("'features'"), HasSubstr("inputs: x")));
}

TEST_F(TorchBackendTest, BadConfigIsInvalidJob) {
  auto load = [&](std::string device, std::string precision, int threads,
                  std::vector<std::string> outputs) {
    ModelConfig config;
    config.path = "mlp.pt";
    config.device = std::move(device);
    config.precision = std::move(precision);
    config.threads = threads;
    config.output_names = std::move(outputs);
    return LoadWith(config);
  };
  auto tpu = load("tpu", "fp32", 0, {"output"});
  ASSERT_FALSE(tpu.has_value());
  EXPECT_EQ(tpu.error().code(), Code::kInvalidJob);
  EXPECT_THAT(tpu.error().message(), HasSubstr("unknown model.device 'tpu'"));
  auto bad_index = load("cuda:x", "fp32", 0, {"output"});
  ASSERT_FALSE(bad_index.has_value());
  EXPECT_EQ(bad_index.error().code(), Code::kInvalidJob);
  auto fp16 = load("cpu", "fp16", 0, {"output"});
  ASSERT_FALSE(fp16.has_value());
  EXPECT_EQ(fp16.error().code(), Code::kInvalidJob);
  EXPECT_THAT(fp16.error().message(), HasSubstr("fp16 needs a CUDA device"));
  auto int8 = load("cpu", "int8", 0, {"output"});
  ASSERT_FALSE(int8.has_value());
  EXPECT_EQ(int8.error().code(), Code::kInvalidJob);
  auto threads = load("cpu", "fp32", -1, {"output"});
  ASSERT_FALSE(threads.has_value());
  EXPECT_EQ(threads.error().code(), Code::kInvalidJob);
  auto twice = load("cpu", "fp32", 0, {"output", "output"});
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), Code::kInvalidJob);
}

TEST_F(TorchBackendTest, CudaWithoutCudaIsInvalidJob) {
  ModelConfig config;
  config.path = "mlp.pt";
  config.device = "cuda";
  config.output_names = {"output"};
  auto model = LoadWith(config);
  if (model.has_value()) GTEST_SKIP() << "this libtorch has CUDA and a device";
  EXPECT_EQ(model.error().code(), Code::kInvalidJob);
  EXPECT_THAT(model.error().message(), HasSubstr("CUDA"));
}

}  // namespace
}  // namespace nightshift
