#include "torch_backend.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nightshift/env.h"
#include "torch_instance.h"
#include "torch_result.h"
#include "torch_signature.h"
#include "torch_status.h"

namespace nightshift {
namespace torchscript {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Result<c10::Device> ParseDevice(const std::string& device) {
  std::string lower = Lower(device);
  if (lower == "cpu") return c10::Device(c10::DeviceType::CPU);
  if (lower != "cuda" && !lower.starts_with("cuda:")) {
    return Error(Code::kInvalidJob,
                 fmt::format("unknown model.device '{}' for the torchscript backend (supported: "
                             "cpu, cuda, cuda:N)",
                             device));
  }
  int index = 0;
  if (lower.size() > 5) {
    const char* end = lower.data() + lower.size();
    auto [ptr, ec] = std::from_chars(lower.data() + 5, end, index);
    if (ec != std::errc() || ptr != end || index < 0) {
      return Error(
          Code::kInvalidJob,
          fmt::format("bad model.device '{}': expected cuda:N with N a device number", device));
    }
  }
  if (!at::hasCUDA()) {
    return Error(Code::kInvalidJob,
                 fmt::format("model.device is '{}' but this libtorch has no CUDA (a CPU-only "
                             "build); use device cpu or build nightshift against a CUDA libtorch",
                             device));
  }
  if (!torch::cuda::is_available()) {
    return Error(Code::kInvalidJob,
                 fmt::format("model.device is '{}' but no CUDA device is available", device));
  }
  int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    return Error(
        Code::kInvalidJob,
        fmt::format("model.device is '{}' but there are only {} CUDA device(s)", device, count));
  }
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

Result<c10::ScalarType> ParsePrecision(const std::string& precision, const c10::Device& device) {
  std::string lower = Lower(precision);
  if (lower.empty() || lower == "fp32") return c10::ScalarType::Float;
  if (lower == "bf16") return c10::ScalarType::BFloat16;
  if (lower == "fp16") {
    if (!device.is_cuda()) {
      return Error(Code::kInvalidJob,
                   "model.precision fp16 needs a CUDA device (on the CPU use fp32 or bf16)");
    }
    return c10::ScalarType::Half;
  }
  return Error(
      Code::kInvalidJob,
      fmt::format("unknown model.precision '{}' (supported: fp32, fp16, bf16)", precision));
}

// Loads the archive at `path` onto `device`, in eval mode. NotFound when the
// file is missing (checked first: libtorch's message would not say so
// plainly); ModelError with the path and libtorch's reason when it cannot be
// loaded. Stores the archive's nightshift.json in `*metadata` when asked.
Result<torch::jit::Module> LoadModule(Env* env, const std::string& path, const c10::Device& device,
                                      std::string* metadata) {
  NS_RETURN_IF_ERROR(CheckModelFile(env, path, "a TorchScript file"));
  Result<torch::jit::Module> module = CatchTorchErrors(
      fmt::format("cannot load TorchScript model '{}'", path), [&]() -> Result<torch::jit::Module> {
        torch::jit::ExtraFilesMap extra{{kMetadataFile, ""}};
        torch::jit::Module m = torch::jit::load(path, device, extra);
        m.eval();
        if (metadata != nullptr) *metadata = extra[kMetadataFile];
        return m;
      });
  if (!module.has_value() && module.error().code() == Code::kModelError) {
    return Error(Code::kModelError,
                 module.error().message() +
                     " (nightshift runs archives written by torch.jit.save() of a scripted or "
                     "traced module, not torch.save() checkpoints)");
  }
  return module;
}

// What the probe learnt about one output.
struct DiscoveredOutput {
  TensorSpec spec;
  std::string unsupported;  // non-empty: the dtype nightshift cannot return
};

// Runs forward() once on a zero-filled batch of two rows to learn the
// outputs. nullopt when that ran out of memory (the outputs then stay
// undiscovered); ModelError when forward() failed otherwise (most often: the
// job's dtypes or widths do not fit the model) or returned no tensors.
// REQUIRES: ShapesKnown(plan->inputs).
Result<std::optional<std::vector<DiscoveredOutput>>> Probe(
    torch::jit::Module* module, const std::shared_ptr<const ForwardPlan>& plan) {
  std::vector<Tensor> inputs;
  for (const TensorSpec& spec : plan->inputs) {
    std::vector<int64_t> shape = spec.shape;
    shape[0] = 2;
    inputs.push_back(Tensor::Allocate(spec.dtype, std::move(shape)));  // zero-filled
  }
  TorchInstance instance(std::move(*module), plan, {});
  Result<c10::IValue> result = instance.Forward(inputs);
  *module = std::move(instance).ReleaseModule();
  if (!result.has_value()) {
    if (result.error().code() == Code::kOutOfMemory) return std::nullopt;
    std::vector<std::string> specs;
    for (const TensorSpec& spec : plan->inputs) {
      specs.push_back(
          fmt::format("{} {}[{}]", spec.name, DTypeName(spec.dtype), fmt::join(spec.shape, ", ")));
    }
    return Error(
        result.error().code() == Code::kSchemaMismatch ? Code::kSchemaMismatch : Code::kModelError,
        fmt::format("model '{}' fails on a zero-filled batch of 2 rows of its declared "
                    "inputs ({}), which nightshift runs at load to learn its outputs "
                    "(\"probe\": false in the archive's {} skips it): {}",
                    plan->path, fmt::join(specs, ", "), kMetadataFile, result.error().message()));
  }
  std::vector<std::string> names = ResultNames(*result);
  if (names.empty()) {
    Result<at::Tensor> none = SelectOutput(*result, "output");
    return Error(none.error().WithContext(fmt::format("model '{}'", plan->path)));
  }
  std::vector<DiscoveredOutput> outputs;
  for (const std::string& name : names) {
    Result<at::Tensor> t = SelectOutput(*result, name);
    if (!t.has_value()) continue;  // not a tensor: not an output nightshift can read
    DiscoveredOutput out;
    out.spec.name = name;
    std::optional<DType> dtype = DTypeFromTorch(t->scalar_type());
    if (!dtype.has_value()) {
      out.unsupported = c10::toString(t->scalar_type());
    } else if (*dtype == DType::kFloat16 || *dtype == DType::kBFloat16) {
      out.spec.dtype = DType::kFloat32;  // autocast's outputs, returned as float32
    } else {
      out.spec.dtype = *dtype;
    }
    if (t->dim() >= 1 && t->size(0) == 2) {
      out.spec.shape.assign(t->sizes().begin(), t->sizes().end());
      out.spec.shape[0] = -1;
    } else {
      out.spec.shape = {-1, -1};  // not one row per input row: the engine will say so
    }
    outputs.push_back(std::move(out));
  }
  return outputs;
}

Status CheckNoDuplicates(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::find(names.begin(), names.begin() + static_cast<ptrdiff_t>(i), names[i]) !=
        names.begin() + static_cast<ptrdiff_t>(i)) {
      return Status(Code::kInvalidJob, fmt::format("output '{}' is selected twice", names[i]));
    }
  }
  return Status::Ok();
}

// Picks the job's outputs out of what the probe found, in the job's order;
// all of them when `names` is empty.
Result<std::vector<TensorSpec>> SelectDiscovered(const std::string& path,
                                                 const std::vector<DiscoveredOutput>& found,
                                                 const std::vector<std::string>& names) {
  std::vector<TensorSpec> selected;
  if (names.empty()) {
    for (const DiscoveredOutput& d : found) {
      if (d.unsupported.empty()) selected.push_back(d.spec);
    }
    return selected;
  }
  for (const std::string& name : names) {
    auto it = std::find_if(found.begin(), found.end(), [&](const DiscoveredOutput& d) {
      return d.spec.name == name || (name == "0" && d.spec.name == "output");
    });
    if (it == found.end()) {
      std::vector<std::string_view> all;
      for (const DiscoveredOutput& d : found) all.push_back(d.spec.name);
      return Error(Code::kSchemaMismatch, fmt::format("model has no output '{}' (outputs: {})",
                                                      name, fmt::join(all, ", ")));
    }
    if (!it->unsupported.empty()) {
      return Error(Code::kModelError,
                   fmt::format("model '{}': output '{}' has dtype {}, which nightshift cannot read",
                               path, name, it->unsupported));
    }
    TensorSpec spec = it->spec;
    spec.name = name;
    selected.push_back(std::move(spec));
  }
  return selected;
}

class TorchModel final : public Model {
 public:
  TorchModel(std::shared_ptr<const ForwardPlan> plan, std::vector<TensorSpec> outputs,
             std::vector<TensorSpec> selected, torch::jit::Module first_module)
      : plan_(std::move(plan)),
        outputs_(std::move(outputs)),
        selected_(std::move(selected)),
        spare_module_(std::move(first_module)) {}

  const std::vector<TensorSpec>& inputs() const override { return plan_->inputs; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }

  Result<std::unique_ptr<ModelInstance>> CreateInstance() override {
    std::optional<torch::jit::Module> module;
    {
      std::lock_guard<std::mutex> lock(mu_);
      module.swap(spare_module_);
    }
    if (!module.has_value()) {
      NS_ASSIGN_OR_RETURN(torch::jit::Module loaded,
                          LoadModule(plan_->env, plan_->path, plan_->device, nullptr));
      module.emplace(std::move(loaded));
    }
    return CatchTorchErrors(
        fmt::format("cannot create an instance of TorchScript model '{}'", plan_->path),
        [&]() -> Result<std::unique_ptr<ModelInstance>> {
          return std::make_unique<TorchInstance>(std::move(*module), plan_, selected_);
        });
  }

 private:
  const std::shared_ptr<const ForwardPlan> plan_;
  const std::vector<TensorSpec> outputs_;
  const std::vector<TensorSpec> selected_;  // config.output_names, in order
  std::mutex mu_;
  // The module LoadModel loaded, handed to the first instance so a
  // single-instance run loads the file once.
  std::optional<torch::jit::Module> spare_module_;  // GUARDED_BY(mu_)
};

class TorchBackend final : public Backend {
 public:
  std::string Version() const override {
    return fmt::format("libtorch {} ({})", TORCH_VERSION,
                       torch::cuda::is_available() ? "CUDA available" : "CPU");
  }

  Result<std::unique_ptr<Model>> LoadModel(const ModelConfig& config) override {
    if (config.threads < 0) {
      return Error(
          Code::kInvalidJob,
          fmt::format("model.threads must be >= 0 (0: automatic), got {}", config.threads));
    }
    NS_RETURN_IF_ERROR(CheckNoDuplicates(config.output_names));
    auto plan = std::make_shared<ForwardPlan>();
    plan->path = config.path;
    plan->env = config.env;
    {
      Result<c10::Device> device = CatchTorchErrors(
          "cannot query CUDA", [&]() -> Result<c10::Device> { return ParseDevice(config.device); });
      if (!device.has_value()) return Error(device.error());
      plan->device = *device;
    }
    NS_ASSIGN_OR_RETURN(plan->autocast, ParsePrecision(config.precision, plan->device));
    if (config.threads > 0) at::set_num_threads(config.threads);

    std::string metadata;
    NS_ASSIGN_OR_RETURN(torch::jit::Module module,
                        LoadModule(config.env, config.path, plan->device, &metadata));
    return CatchTorchErrors(fmt::format("cannot load TorchScript model '{}'", config.path),
                            [&]() -> Result<std::unique_ptr<Model>> {
                              return Build(config, std::move(plan), std::move(module), metadata);
                            });
  }

 private:
  // REQUIRES: called inside CatchTorchErrors.
  static Result<std::unique_ptr<Model>> Build(const ModelConfig& config,
                                              std::shared_ptr<ForwardPlan> plan,
                                              torch::jit::Module module,
                                              const std::string& metadata) {
    NS_ASSIGN_OR_RETURN(ForwardSignature sig, ReadForwardSignature(module, config.path));
    bool probe = true;
    NS_RETURN_IF_ERROR(
        DeclareInputs(metadata, config.input_hints, config.path, &sig.inputs, &probe));
    plan->args = std::move(sig.args);
    plan->inputs = std::move(sig.inputs);
    std::shared_ptr<const ForwardPlan> shared = std::move(plan);

    std::optional<std::vector<DiscoveredOutput>> found;
    if (probe && ShapesKnown(shared->inputs)) {
      NS_ASSIGN_OR_RETURN(found, Probe(&module, shared));
    }
    std::vector<TensorSpec> outputs, selected;
    if (found.has_value()) {
      NS_ASSIGN_OR_RETURN(selected, SelectDiscovered(config.path, *found, config.output_names));
      for (const DiscoveredOutput& d : *found) {
        if (d.unsupported.empty()) outputs.push_back(d.spec);
      }
      for (const TensorSpec& spec : selected) {  // "0" for a single tensor's "output"
        if (std::none_of(outputs.begin(), outputs.end(),
                         [&](const TensorSpec& o) { return o.name == spec.name; })) {
          outputs.push_back(spec);
        }
      }
    } else {
      std::vector<std::string> names = config.output_names;
      if (names.empty()) names.push_back("output");
      for (std::string& name : names) {
        selected.push_back(TensorSpec{std::move(name), DType::kFloat32, {-1, -1}});
      }
      outputs = selected;
    }
    return std::make_unique<TorchModel>(std::move(shared), std::move(outputs), std::move(selected),
                                        std::move(module));
  }
};

}  // namespace
}  // namespace torchscript

Result<std::unique_ptr<Backend>> CreateTorchBackend() {
  return std::make_unique<torchscript::TorchBackend>();
}

}  // namespace nightshift
