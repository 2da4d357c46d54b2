#include "onnx_backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <onnxruntime_cxx_api.h>
#include <onnxruntime_session_options_config_keys.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nightshift/env.h"
#include "onnx_instance.h"
#include "ort_status.h"

namespace nightshift {
namespace onnx {
namespace {

constexpr std::string_view kSupportedTypes =
    "float32, float64, int64, int32, float16, bfloat16, int8, uint8, bool";

// The process-wide Ort::Env, shared by every live backend, model and instance
// and destroyed with the last of them. ORT keeps one environment per process
// anyway; holding it here makes its lifetime (it must outlive every session)
// explicit.
Result<std::shared_ptr<Ort::Env>> SharedOrtEnv() {
  static std::mutex mu;
  static std::weak_ptr<Ort::Env>* shared = new std::weak_ptr<Ort::Env>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  if (std::shared_ptr<Ort::Env> env = shared->lock()) return env;
  PrepareOnnxRuntimeProcess();
  // The C++ API calls through the OrtApi table of ORT_API_VERSION; a library
  // older than our headers has none (and every call would crash).
  const OrtApiBase* base = OrtGetApiBase();
  if (base->GetApi(ORT_API_VERSION) == nullptr) {
    return Error(Code::kModelError,
                 fmt::format("the ONNX Runtime library (version {}) is older than the headers "
                             "nightshift was built with (API version {})",
                             base->GetVersionString(), ORT_API_VERSION));
  }
  return CatchOrtErrors("cannot start ONNX Runtime", [&]() -> Result<std::shared_ptr<Ort::Env>> {
    auto env = std::make_shared<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "nightshift");
    *shared = env;
    return env;
  });
}

Status CheckDevice(const std::string& device) {
  return RequireCpuDevice(device, "onnx",
                          "this build has no CUDA execution provider for ONNX Runtime");
}

// Session options shared by every instance of a model.
Ort::SessionOptions MakeSessionOptions(const ModelConfig& config) {
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(config.threads);  // 0: ORT's choice (one per physical core)
  options.SetInterOpNumThreads(1);
  options.SetExecutionMode(ORT_SEQUENTIAL);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  // Spinning off (ORT's default is on). Between Execute calls the inference
  // thread waits on the batch queue while readers and writers decode and
  // encode on other cores; spinning pool threads take those cores. Measured
  // with ORT 1.30 on a 16-core host, MLP 64-512-512-16, decoder threads burning
  // 2 ms (batch 1024) or 0.2 ms (batch 64) of CPU per batch:
  //   16 intra-op threads (every core, as threads=0 gives) + 4 decoders: spinning is 2.1x
  //     slower end to end at batch 1024 (2.08 vs 0.98 ms/batch), 1.65x at 64
  //     (0.33 vs 0.20), and burns 3.5-5x the CPU;
  //   8 intra-op threads, cores to spare: spinning is 13-30% faster per batch
  //     (1.12 vs 1.29 ms at 1024, 0.12 vs 0.17 at 64) for 1.2-1.8x the CPU.
  // The default must not starve the pipeline, so no spinning; a job that pins
  // few threads on a big host gives up at most that ~15-30% on tiny models.
  // The memory pattern stays on: ORT keys it by input shapes, so varying batch
  // sizes only cost one small plan per distinct size.
  options.AddConfigEntry(kOrtSessionOptionsConfigAllowIntraOpSpinning, "0");
  options.AddConfigEntry(kOrtSessionOptionsConfigAllowInterOpSpinning, "0");
  return options;
}

// Opens a session on the model file. NotFound when the file is missing (checked
// before ORT, whose message would not say so plainly); ModelError with the path
// and ORT's reason when it cannot be loaded.
Result<Ort::Session> OpenSession(const Ort::Env& env, Env* files, const std::string& path,
                                 const Ort::SessionOptions& options) {
  NS_RETURN_IF_ERROR(CheckModelFile(files, path, "an ONNX file"));
  return CatchOrtErrors(
      fmt::format("cannot load ONNX model '{}'", path),
      [&]() -> Result<Ort::Session> { return Ort::Session(env, path.c_str(), options); });
}

// An input or output as the session declares it. `supported` is false (and
// `type_name` names the type) when nightshift has no DType for it.
struct DeclaredTensor {
  TensorSpec spec;
  bool supported = true;
  std::string type_name;
};

DeclaredTensor Declared(std::string name, const Ort::TypeInfo& type_info) {
  DeclaredTensor out;
  out.spec.name = std::move(name);
  ONNXType type = type_info.GetONNXType();
  ONNXTensorElementDataType element = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  if (type == ONNX_TYPE_TENSOR) {
    Ort::ConstTensorTypeAndShapeInfo tensor_info = type_info.GetTensorTypeAndShapeInfo();
    element = tensor_info.GetElementType();
    out.spec.shape = tensor_info.GetShape();
    for (int64_t& d : out.spec.shape) d = std::max<int64_t>(d, -1);  // symbolic/unknown: -1
  }
  std::optional<DType> dtype =
      type == ONNX_TYPE_TENSOR ? DTypeFromOnnx(element) : std::optional<DType>();
  if (dtype.has_value()) {
    out.spec.dtype = *dtype;
  } else {
    out.supported = false;
    out.type_name = OnnxTypeName(type, element);
  }
  return out;
}

class OnnxModel final : public Model {
 public:
  OnnxModel(std::shared_ptr<Ort::Env> env, Env* files, std::string path,
            Ort::SessionOptions options, Ort::Session first_session, std::vector<TensorSpec> inputs,
            std::vector<TensorSpec> outputs, std::vector<TensorSpec> selected)
      : env_(std::move(env)),
        files_(files),
        path_(std::move(path)),
        options_(std::move(options)),
        inputs_(std::move(inputs)),
        outputs_(std::move(outputs)),
        selected_(std::move(selected)),
        spare_session_(std::move(first_session)) {}

  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }

  Result<std::unique_ptr<ModelInstance>> CreateInstance() override {
    std::optional<Ort::Session> session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session.swap(spare_session_);
    }
    if (!session.has_value()) {
      // Each instance loads the file again: ORT reads (or maps) it and its
      // external data itself, so the model never keeps a copy of the bytes.
      NS_ASSIGN_OR_RETURN(Ort::Session opened, OpenSession(*env_, files_, path_, options_));
      session.emplace(std::move(opened));
    }
    return CatchOrtErrors(fmt::format("cannot create an instance of ONNX model '{}'", path_),
                          [&]() -> Result<std::unique_ptr<ModelInstance>> {
                            return std::make_unique<OnnxInstance>(env_, std::move(*session),
                                                                  inputs_, selected_);
                          });
  }

 private:
  std::shared_ptr<Ort::Env> env_;  // declared first: destroyed after every session
  Env* const files_;
  const std::string path_;
  const Ort::SessionOptions options_;  // only read (by concurrent CreateInstance calls)
  const std::vector<TensorSpec> inputs_;
  const std::vector<TensorSpec> outputs_;
  const std::vector<TensorSpec> selected_;  // config.output_names, in order
  std::mutex mu_;
  // The session LoadModel opened to read the metadata, handed to the first
  // instance so a single-instance run loads the file once.
  std::optional<Ort::Session> spare_session_;  // GUARDED_BY(mu_)
};

// Picks `names` out of the model's outputs, in the order given; all tensor
// outputs when `names` is empty.
Result<std::vector<TensorSpec>> SelectOutputs(const std::string& path,
                                              const std::vector<DeclaredTensor>& declared,
                                              const std::vector<std::string>& names) {
  std::vector<TensorSpec> selected;
  if (names.empty()) {
    for (const DeclaredTensor& d : declared) {
      if (d.supported) selected.push_back(d.spec);
    }
    return selected;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (std::find(names.begin(), names.begin() + i, name) != names.begin() + i) {
      return Error(Code::kInvalidJob, fmt::format("output '{}' is selected twice", name));
    }
    auto it = std::find_if(declared.begin(), declared.end(),
                           [&](const DeclaredTensor& d) { return d.spec.name == name; });
    if (it == declared.end()) {
      std::vector<std::string_view> all;
      for (const DeclaredTensor& d : declared) all.push_back(d.spec.name);
      return Error(Code::kSchemaMismatch, fmt::format("model has no output '{}' (outputs: {})",
                                                      name, fmt::join(all, ", ")));
    }
    if (!it->supported) {
      return Error(Code::kModelError,
                   fmt::format("model '{}': output '{}' has type {}, which nightshift cannot "
                               "read (supported: tensors of {})",
                               path, name, it->type_name, kSupportedTypes));
    }
    selected.push_back(it->spec);
  }
  return selected;
}

class OnnxBackend final : public Backend {
 public:
  explicit OnnxBackend(std::shared_ptr<Ort::Env> env) : env_(std::move(env)) {}

  std::string Version() const override {
    return std::string("ONNX Runtime ") + OrtGetApiBase()->GetVersionString();
  }

  Result<std::unique_ptr<Model>> LoadModel(const ModelConfig& config) override {
    NS_RETURN_IF_ERROR(CheckDevice(config.device));
    if (config.threads < 0) {
      return Error(
          Code::kInvalidJob,
          fmt::format("model.threads must be >= 0 (0: automatic), got {}", config.threads));
    }
    return CatchOrtErrors(fmt::format("cannot load ONNX model '{}'", config.path),
                          [&]() { return Load(config); });
  }

 private:
  // REQUIRES: called inside CatchOrtErrors (the metadata calls throw).
  Result<std::unique_ptr<Model>> Load(const ModelConfig& config) {
    Ort::SessionOptions options = MakeSessionOptions(config);
    NS_ASSIGN_OR_RETURN(Ort::Session session, OpenSession(*env_, config.env, config.path, options));
    Ort::AllocatorWithDefaultOptions allocator;

    std::vector<TensorSpec> inputs;
    for (size_t i = 0; i < session.GetInputCount(); ++i) {
      DeclaredTensor d =
          Declared(session.GetInputNameAllocated(i, allocator).get(), session.GetInputTypeInfo(i));
      if (!d.supported) {
        return Error(Code::kModelError,
                     fmt::format("model '{}': input '{}' has type {}, which nightshift cannot "
                                 "feed (supported: tensors of {})",
                                 config.path, d.spec.name, d.type_name, kSupportedTypes));
      }
      inputs.push_back(std::move(d.spec));
    }

    std::vector<DeclaredTensor> declared;
    std::vector<TensorSpec> outputs;
    for (size_t i = 0; i < session.GetOutputCount(); ++i) {
      declared.push_back(Declared(session.GetOutputNameAllocated(i, allocator).get(),
                                  session.GetOutputTypeInfo(i)));
      if (declared.back().supported) outputs.push_back(declared.back().spec);
    }
    NS_ASSIGN_OR_RETURN(std::vector<TensorSpec> selected,
                        SelectOutputs(config.path, declared, config.output_names));
    return std::make_unique<OnnxModel>(env_, config.env, config.path, std::move(options),
                                       std::move(session), std::move(inputs), std::move(outputs),
                                       std::move(selected));
  }

  std::shared_ptr<Ort::Env> env_;
};

}  // namespace
}  // namespace onnx

void PrepareOnnxRuntimeProcess() {
  // ONNX Runtime 1.30's Linux build records usage telemetry: a device id and
  // an event database under ~/.cache/Microsoft/DeveloperTools, written (and
  // fsync'd) by every process, for upload. A batch engine on shared or
  // offline machines must not do that by default: opt out before ORT starts,
  // unless the user set ORT_DISABLE_TELEMETRY themselves.
  setenv("ORT_DISABLE_TELEMETRY", "1", /*overwrite=*/0);
}

Result<std::unique_ptr<Backend>> CreateOnnxBackend() {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<Ort::Env> env, onnx::SharedOrtEnv());
  return std::make_unique<onnx::OnnxBackend>(std::move(env));
}

}  // namespace nightshift
