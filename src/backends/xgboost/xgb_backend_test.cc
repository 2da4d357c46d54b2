#include "xgb_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "backends/test_models_for_test.h"
#include "nightshift/backend.h"
#include "xgb_ubjson.h"

namespace nightshift {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// What tests/models/make_xgb_models.py writes.
constexpr int64_t kRows = 257;
constexpr int64_t kFeatures = 6;
constexpr int64_t kAllNanRow = 5;  // rows 5 and 100 are entirely NaN
constexpr int64_t kZeroRow = 7;    // row 7 is all zeros

struct ModelCase {
  const char* name;
  int64_t prediction_width;
  int64_t margin_width;
};
constexpr ModelCase kModels[] = {
    {"binary", 1, 1}, {"multi", 3, 3}, {"softmax", 1, 3}, {"regression", 1, 1}};

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

// Bit-for-bit equality of `got` (rows x width, from row `first` on) with the
// reference, which holds every row.
void ExpectBitsEqual(const Tensor& got, const std::vector<float>& reference, int64_t first,
                     int64_t rows, int64_t width, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::kFloat32) << what;
  ASSERT_EQ(got.shape(), (std::vector<int64_t>{rows, width})) << what;
  ASSERT_LE(static_cast<size_t>((first + rows) * width), reference.size()) << what;
  for (int64_t i = 0; i < rows * width; ++i) {
    float a = got.data_as<float>()[i];
    float b = reference[static_cast<size_t>(first * width + i)];
    ASSERT_EQ(std::bit_cast<uint32_t>(a), std::bit_cast<uint32_t>(b))
        << what << ": row " << first + i / width << " column " << i % width << ": " << a
        << " vs python's " << b;
  }
}

class XgbBackendTest : public ::testing::Test {
 protected:
  // Trains the test models once per test binary run, with the script the
  // project ships (tests/models/make_xgb_models.py).
  static void SetUpTestSuite() {
    models_ = MakeTestModels("make_xgb_models.py", "ns_xgb_test").release();
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
    // (libnightshift_xgboost.so), which the end-to-end tests exercise.
    auto backend = CreateXgbBackend();
    ASSERT_TRUE(backend.has_value()) << backend.error().ToString();
    backend_ = std::move(*backend);
    input_ = ReadFloats(*dir_ / "input.bin");
    ASSERT_EQ(input_.size(), static_cast<size_t>(kRows * kFeatures));
  }

  static std::string ModelPath(const std::string& name) { return (*dir_ / name).string(); }

  Result<std::unique_ptr<Model>> Load(const std::string& file,
                                      std::vector<std::string> outputs = {"prediction"},
                                      int threads = 1) {
    ModelConfig config;
    config.path = ModelPath(file);
    config.threads = threads;
    config.output_names = std::move(outputs);
    return backend_->LoadModel(config);
  }

  std::unique_ptr<ModelInstance> Instance(Model& model) {
    auto instance = model.CreateInstance();
    EXPECT_TRUE(instance.has_value()) << instance.error().ToString();
    return instance.has_value() ? std::move(*instance) : nullptr;
  }

  // A view of rows [first, first + rows) of `data` (kFeatures wide).
  static Tensor Rows(std::vector<float>& data, int64_t first, int64_t rows) {
    return Tensor::View(DType::kFloat32, {rows, kFeatures}, data.data() + first * kFeatures);
  }

  Status Run(ModelInstance& instance, Tensor& features, std::vector<Tensor>* outputs) {
    return instance.Execute(std::span<const Tensor>(&features, 1), outputs);
  }

  static TempDir* models_;
  static fs::path* dir_;  // models_'s
  std::unique_ptr<Backend> backend_;
  std::vector<float> input_;
};

TempDir* XgbBackendTest::models_ = nullptr;
fs::path* XgbBackendTest::dir_ = nullptr;

TEST_F(XgbBackendTest, DeclaresOneInputAndBothOutputs) {
  for (const ModelCase& m : kModels) {
    for (const char* ext : {".json", ".ubj"}) {
      auto model = Load(std::string(m.name) + ext);
      ASSERT_TRUE(model.has_value()) << model.error().ToString();
      const auto& inputs = (*model)->inputs();
      ASSERT_EQ(inputs.size(), 1u);
      EXPECT_EQ(inputs[0].name, "features");
      EXPECT_EQ(inputs[0].dtype, DType::kFloat32);
      EXPECT_EQ(inputs[0].shape, (std::vector<int64_t>{-1, kFeatures}));
      const auto& outputs = (*model)->outputs();
      ASSERT_EQ(outputs.size(), 2u);
      EXPECT_EQ(outputs[0].name, "prediction");
      EXPECT_EQ(outputs[0].dtype, DType::kFloat32);
      EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{-1, m.prediction_width})) << m.name;
      EXPECT_EQ(outputs[1].name, "margin");
      EXPECT_EQ(outputs[1].shape, (std::vector<int64_t>{-1, m.margin_width})) << m.name;
    }
  }
  auto model = Load("multi.json");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ((*model)->Signature(),
            "inputs: features float32[-1, 6]; outputs: prediction float32[-1, 3], margin "
            "float32[-1, 3]");
}

TEST_F(XgbBackendTest, NamesItsInputAfterTheJob) {
  ModelConfig config;
  config.path = ModelPath("binary.json");
  config.input_names = {"x"};
  auto model = backend_->LoadModel(config);
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->inputs()[0].name, "x");

  config.input_names = {"a", "b"};
  model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kSchemaMismatch);
  EXPECT_THAT(model.error().message(), HasSubstr("one input"));
  EXPECT_THAT(model.error().message(), HasSubstr("a, b"));
}

// Every model, both formats, both outputs, equal bit for bit to python's
// predictions on the same rows (which include NaNs and all-NaN rows).
TEST_F(XgbBackendTest, MatchesPythonBitForBit) {
  for (const ModelCase& m : kModels) {
    std::vector<float> prediction = ReadFloats(*dir_ / (std::string(m.name) + "_prediction.bin"));
    std::vector<float> margin = ReadFloats(*dir_ / (std::string(m.name) + "_margin.bin"));
    ASSERT_EQ(prediction.size(), static_cast<size_t>(kRows * m.prediction_width)) << m.name;
    ASSERT_EQ(margin.size(), static_cast<size_t>(kRows * m.margin_width)) << m.name;
    for (const char* ext : {".json", ".ubj"}) {
      std::string file = std::string(m.name) + ext;
      auto model = Load(file, {"prediction", "margin"});
      ASSERT_TRUE(model.has_value()) << model.error().ToString();
      auto instance = Instance(**model);
      ASSERT_NE(instance, nullptr);
      Tensor features = Rows(input_, 0, kRows);
      std::vector<Tensor> outputs;
      Status s = Run(*instance, features, &outputs);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(outputs.size(), 2u);
      ExpectBitsEqual(outputs[0], prediction, 0, kRows, m.prediction_width, file + " prediction");
      ExpectBitsEqual(outputs[1], margin, 0, kRows, m.margin_width, file + " margin");
    }
  }
}

TEST_F(XgbBackendTest, BatchesOfAnySizeReuseOutputStorage) {
  std::vector<float> expected = ReadFloats(*dir_ / "multi_prediction.bin");
  auto model = Load("multi.ubj");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  Tensor all = Rows(input_, 0, kRows);
  ASSERT_TRUE(Run(*instance, all, &outputs).ok());
  const void* storage = outputs[0].data();
  int64_t first = 0;
  for (int64_t rows : {1, 7, 64, 100, 1, 84}) {
    Tensor features = Rows(input_, first, rows);
    Status s = Run(*instance, features, &outputs);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectBitsEqual(outputs[0], expected, first, rows, 3, "rows from " + std::to_string(first));
    EXPECT_EQ(outputs[0].data(), storage) << "batch of " << rows;
    first += rows;
  }
  EXPECT_EQ(first, kRows);
}

TEST_F(XgbBackendTest, NanIsAMissingValueNotZero) {
  std::vector<float> expected = ReadFloats(*dir_ / "binary_prediction.bin");
  auto model = Load("binary.json");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  ASSERT_TRUE(std::isnan(input_[kAllNanRow * kFeatures]));

  std::vector<Tensor> outputs;
  Tensor nan_row = Rows(input_, kAllNanRow, 1);
  ASSERT_TRUE(Run(*instance, nan_row, &outputs).ok());
  float p_nan = outputs[0].data_as<float>()[0];
  EXPECT_EQ(p_nan, expected[kAllNanRow]);
  Tensor zero_row = Rows(input_, kZeroRow, 1);
  ASSERT_TRUE(Run(*instance, zero_row, &outputs).ok());
  EXPECT_EQ(outputs[0].data_as<float>()[0], expected[kZeroRow]);
  EXPECT_NE(outputs[0].data_as<float>()[0], p_nan);

  // Every NaN replaced by 0: predictions change where there were NaNs.
  std::vector<float> zeroed = input_;
  std::replace_if(
      zeroed.begin(), zeroed.end(), [](float v) { return std::isnan(v); }, 0.0f);
  Tensor all = Rows(zeroed, 0, kRows);
  ASSERT_TRUE(Run(*instance, all, &outputs).ok());
  int differ = 0;
  for (int64_t i = 0; i < kRows; ++i) differ += outputs[0].data_as<float>()[i] != expected[i];
  EXPECT_GT(differ, 10);
}

TEST_F(XgbBackendTest, SelectsOutputsInTheGivenOrder) {
  auto model = Load("softmax.json", {"margin", "prediction"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor features = Rows(input_, 0, kRows);
  std::vector<Tensor> outputs;
  ASSERT_TRUE(Run(*instance, features, &outputs).ok());
  ASSERT_EQ(outputs.size(), 2u);
  ExpectBitsEqual(outputs[0], ReadFloats(*dir_ / "softmax_margin.bin"), 0, kRows, 3, "margin");
  ExpectBitsEqual(outputs[1], ReadFloats(*dir_ / "softmax_prediction.bin"), 0, kRows, 1, "class");

  // No output names: both.
  model = Load("softmax.json", {});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  instance = Instance(**model);
  ASSERT_TRUE(Run(*instance, features, &outputs).ok());
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].shape(), (std::vector<int64_t>{kRows, 1}));
  EXPECT_EQ(outputs[1].shape(), (std::vector<int64_t>{kRows, 3}));

  auto unknown = Load("softmax.json", {"probabilities"});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), Code::kSchemaMismatch);
  EXPECT_THAT(unknown.error().message(), HasSubstr("probabilities"));
  EXPECT_THAT(unknown.error().message(), HasSubstr("prediction, margin"));

  auto twice = Load("softmax.json", {"prediction", "prediction"});
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), Code::kInvalidJob);
}

TEST_F(XgbBackendTest, EmptyBatch) {
  auto model = Load("multi.json", {"prediction", "margin"});
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  Tensor features = Rows(input_, 0, 0);
  std::vector<Tensor> outputs;
  Status s = Run(*instance, features, &outputs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].shape(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(outputs[1].shape(), (std::vector<int64_t>{0, 3}));
}

TEST_F(XgbBackendTest, WrongFeatureCountNamesBothCounts) {
  auto model = Load("regression.json");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  auto instance = Instance(**model);
  std::vector<Tensor> outputs;
  for (int64_t width : {5, 7}) {
    std::vector<float> data(static_cast<size_t>(4 * width), 1.0f);
    Tensor features = Tensor::View(DType::kFloat32, {4, width}, data.data());
    Status s = Run(*instance, features, &outputs);
    ASSERT_EQ(s.code(), Code::kSchemaMismatch) << s.ToString();
    EXPECT_THAT(s.message(),
                HasSubstr("expects 6 feature(s) per row, got " + std::to_string(width)));
    EXPECT_THAT(s.message(), HasSubstr(ModelPath("regression.json")));
  }
  // Wrong dtype, wrong rank, two inputs.
  std::vector<double> doubles(4 * kFeatures, 1.0);
  Tensor f64 = Tensor::View(DType::kFloat64, {4, kFeatures}, doubles.data());
  EXPECT_EQ(Run(*instance, f64, &outputs).code(), Code::kSchemaMismatch);
  Tensor flat = Tensor::View(DType::kFloat32, {4 * kFeatures}, input_.data());
  EXPECT_EQ(Run(*instance, flat, &outputs).code(), Code::kSchemaMismatch);
  Tensor two[2] = {Rows(input_, 0, 4), Rows(input_, 0, 4)};
  EXPECT_EQ(instance->Execute(std::span<const Tensor>(two, 2), &outputs).code(),
            Code::kSchemaMismatch);
  // The instance still works afterwards.
  Tensor good = Rows(input_, 0, kRows);
  ASSERT_TRUE(Run(*instance, good, &outputs).ok());
  ExpectBitsEqual(outputs[0], ReadFloats(*dir_ / "regression_prediction.bin"), 0, kRows, 1, "ok");
}

TEST_F(XgbBackendTest, GarbageFilesAreModelErrors) {
  std::string json_text = ReadBytes(*dir_ / "binary.json");
  std::string ubj = ReadBytes(*dir_ / "binary.ubj");
  std::vector<std::tuple<std::string, std::string>> files = {
      {"garbage.json", "this is not a model\n"},
      {"object.json", R"({"learner": 5, "version": [1, 7, 4]})"},
      {"truncated.json", json_text.substr(0, json_text.size() / 2)},
      {"garbage.ubj", std::string("{\x01\xff\xfe garbage", 12)},
      {"truncated.ubj", ubj.substr(0, ubj.size() / 2)},
      {"empty.json", ""},
      {"short_garbage.model", "garbage"},
      {"empty.model", ""},
  };
#if !defined(__SANITIZE_ADDRESS__)
  // XGBoost's legacy binary reader sizes a buffer from these bytes: a
  // std::bad_alloc that XGBoost catches, but AddressSanitizer aborts on the
  // request instead of throwing.
  files.emplace_back("garbage.model", std::string(300, '\x07'));
#endif
  for (const auto& [name, bytes] : files) {
    WriteBytes(*dir_ / name, bytes);
    auto model = Load(name);
    ASSERT_FALSE(model.has_value()) << name;
    EXPECT_EQ(model.error().code(), Code::kModelError) << name << ": " << model.error().ToString();
    EXPECT_THAT(model.error().message(), HasSubstr(ModelPath(name)));
    // XGBoost's reason, on one line, without its stack trace.
    EXPECT_THAT(model.error().message(), Not(HasSubstr("[bt]")));
    EXPECT_THAT(model.error().message(), Not(HasSubstr("\n")));
  }
  auto model = Load("object.json");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().message(), "cannot load XGBoost model '" + ModelPath("object.json") +
                                         "': Invalid cast, from Integer to Object");
}

// XGBoost 1.7's UBJSON reader reads past its buffer on a truncated file; the
// backend checks the structure first (run under AddressSanitizer to see it).
TEST_F(XgbBackendTest, TruncatedUbjsonIsRefusedBeforeXgboostReadsIt) {
  for (const ModelCase& m : kModels) {
    Status s = xgb::CheckUbjson(ReadBytes(*dir_ / (std::string(m.name) + ".ubj")));
    EXPECT_TRUE(s.ok()) << m.name << ": " << s.ToString();
  }
  std::string ubj = ReadBytes(*dir_ / "multi.ubj");
  for (size_t k = 0; k < 200; ++k) {
    size_t cut = ubj.size() * k / 200;
    Status s = xgb::CheckUbjson(std::string_view(ubj).substr(0, cut));
    EXPECT_EQ(s.code(), Code::kModelError) << "cut at " << cut;
  }
  EXPECT_EQ(xgb::CheckUbjson(ubj + "trailing bytes are ignored").code(), Code::kOk);

  // Through the backend, under a .ubj name and under another name (XGBoost
  // sniffs the format from the content).
  for (size_t cut : {size_t{1}, size_t{2}, size_t{100}, ubj.size() / 3, ubj.size() - 1}) {
    for (const char* ext : {".ubj", ".model"}) {
      std::string name = "cut_" + std::to_string(cut) + ext;
      WriteBytes(*dir_ / name, ubj.substr(0, cut));
      auto model = Load(name);
      ASSERT_FALSE(model.has_value()) << name;
      EXPECT_EQ(model.error().code(), Code::kModelError) << model.error().ToString();
      EXPECT_THAT(model.error().message(), HasSubstr(ModelPath(name)));
    }
  }
  WriteBytes(*dir_ / "cut.ubj", ubj.substr(0, ubj.size() / 2));
  auto model = Load("cut.ubj");
  ASSERT_FALSE(model.has_value());
  EXPECT_THAT(model.error().message(), HasSubstr("truncated"));
  // A whole UBJSON model under another name loads (sniffed, then checked).
  WriteBytes(*dir_ / "multi_ubj.model", ubj);
  model = Load("multi_ubj.model");
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  EXPECT_EQ((*model)->outputs()[0].shape, (std::vector<int64_t>{-1, 3}));
}

TEST_F(XgbBackendTest, MissingFileIsNotFound) {
  auto model = Load("no_such_model.json");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kNotFound);
  EXPECT_THAT(model.error().message(), HasSubstr(ModelPath("no_such_model.json")));

  fs::create_directories(*dir_ / "a_dir.json");
  model = Load("a_dir.json");
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kModelError);
}

TEST_F(XgbBackendTest, RejectsCudaAndNegativeThreads) {
  ModelConfig config;
  config.path = ModelPath("binary.json");
  config.device = "cuda:0";
  auto model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kInvalidJob);
  config.device = "cpu";
  config.threads = -1;
  model = backend_->LoadModel(config);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), Code::kInvalidJob);
}

TEST_F(XgbBackendTest, ThreadCountDoesNotChangePredictions) {
  std::vector<float> expected = ReadFloats(*dir_ / "multi_prediction.bin");
  for (int threads : {0, 1, 4}) {
    auto model = Load("multi.json", {"prediction"}, threads);
    ASSERT_TRUE(model.has_value()) << model.error().ToString();
    auto instance = Instance(**model);
    Tensor features = Rows(input_, 0, kRows);
    std::vector<Tensor> outputs;
    ASSERT_TRUE(Run(*instance, features, &outputs).ok());
    ExpectBitsEqual(outputs[0], expected, 0, kRows, 3, "threads " + std::to_string(threads));
  }
}

TEST_F(XgbBackendTest, TwoInstancesOnTwoThreads) {
  std::vector<float> expected = ReadFloats(*dir_ / "multi_prediction.bin");
  auto model = Load("multi.json", {"prediction"}, 2);
  ASSERT_TRUE(model.has_value()) << model.error().ToString();
  std::unique_ptr<ModelInstance> instances[2] = {Instance(**model), Instance(**model)};
  ASSERT_NE(instances[0], nullptr);
  ASSERT_NE(instances[1], nullptr);
  int mismatches[2] = {0, 0};
  int failures[2] = {0, 0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> input = input_;  // each thread its own input memory
      std::vector<Tensor> outputs;
      for (int iter = 0; iter < 200; ++iter) {
        // Varying batches: a slice starting at a different row each time.
        int64_t first = (iter * 37 + t * 11) % kRows;
        int64_t rows = std::min<int64_t>(kRows - first, 1 + (iter * 13) % 128);
        Tensor features = Rows(input, first, rows);
        Status s = instances[t]->Execute(std::span<const Tensor>(&features, 1), &outputs);
        if (!s.ok()) {
          ++failures[t];
          continue;
        }
        if (std::memcmp(outputs[0].data(), expected.data() + first * 3,
                        static_cast<size_t>(rows * 3) * sizeof(float)) != 0) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  }
}

}  // namespace
}  // namespace nightshift
