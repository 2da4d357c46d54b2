#include "torch_instance.h"

#include <ATen/autocast_mode.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/accumulate.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/version.h>

#include <cstring>
#include <utility>

#include "cuda_memory.h"
#include "torch_result.h"
#include "torch_status.h"

// libtorch 2.4 made the autocast switches per device type and deprecated the
// CUDA/CPU-specific ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NS_TORCH_AUTOCAST_BY_DEVICE 1
#endif

namespace nightshift::torchscript {
namespace {

std::string SpecString(const TensorSpec& spec) {
  std::vector<std::string> dims;
  for (int64_t d : spec.shape) dims.push_back(d < 0 ? "?" : std::to_string(d));
  return fmt::format("{}[{}]", DTypeName(spec.dtype), fmt::join(dims, ", "));
}

bool Matches(const TensorSpec& spec, const Tensor& t) {
  if (t.dtype() != spec.dtype || t.shape().size() != spec.shape.size()) return false;
  for (size_t d = 0; d < spec.shape.size(); ++d) {
    if (spec.shape[d] >= 0 && spec.shape[d] != t.shape()[d]) return false;
  }
  return true;
}

// Turns autocast on for one device type for its lifetime (as Python's
// `with torch.autocast(...)`), restoring the thread's previous state and
// dropping the cast-weight cache when the outermost scope ends.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype)
      : active_(dtype != c10::ScalarType::Float), device_(device) {
    if (!active_) return;
#ifdef NS_TORCH_AUTOCAST_BY_DEVICE
    was_enabled_ = at::autocast::is_autocast_enabled(device_);
    old_dtype_ = at::autocast::get_autocast_dtype(device_);
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::set_autocast_dtype(device_, dtype);
#else
    if (device_ == c10::DeviceType::CUDA) {
      was_enabled_ = at::autocast::is_enabled();
      old_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      old_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  ~AutocastScope() {
    if (!active_) return;
    // The cache holds low-precision copies of the weights, keyed by tensor
    // address: never keep it past the batch (another model may reuse them).
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef NS_TORCH_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, old_dtype_);
#else
    if (device_ == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(old_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(old_dtype_);
    }
#endif
  }

 private:
  bool active_;
  c10::DeviceType device_;
  bool was_enabled_ = false;
  c10::ScalarType old_dtype_ = c10::ScalarType::Float;
};

// A view of the first `sizes` elements of `*buffer` (flat), reallocating it
// with `options` when it is too small or of another dtype.
at::Tensor BufferView(at::Tensor* buffer, c10::IntArrayRef sizes,
                      const at::TensorOptions& options) {
  int64_t n = c10::multiply_integers(sizes);
  if (!buffer->defined() || buffer->numel() < n ||
      buffer->scalar_type() != options.dtype().toScalarType()) {
    *buffer = at::empty({std::max<int64_t>(n, 1)}, options);
  }
  return buffer->narrow(0, 0, n).view(sizes);
}

}  // namespace

TorchInstance::TorchInstance(torch::jit::Module module, std::shared_ptr<const ForwardPlan> plan,
                             std::vector<TensorSpec> outputs)
    : module_(std::move(module)), plan_(std::move(plan)), outputs_(std::move(outputs)) {
  host_inputs_.resize(plan_->inputs.size());
  device_inputs_.resize(plan_->inputs.size());
  host_outputs_.resize(outputs_.size());
  returned_data_.resize(outputs_.size(), nullptr);
  if (plan_->device.is_cuda()) {
    // Streams from the pool, not the default stream: the legacy default
    // stream would serialise this instance's work with every other one's.
    const c10::impl::DeviceGuardImplInterface* impl =
        c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
    cuda_.emplace(CudaState{impl->getStreamFromGlobalPool(plan_->device),
                            impl->getStreamFromGlobalPool(plan_->device),
                            c10::Event(c10::DeviceType::CUDA)});
  }
}

Status TorchInstance::CheckInputs(std::span<const Tensor> inputs) const {
  const std::vector<TensorSpec>& specs = plan_->inputs;
  if (inputs.size() != specs.size()) {
    std::vector<std::string_view> names;
    for (const TensorSpec& spec : specs) names.push_back(spec.name);
    return Status(Code::kSchemaMismatch,
                  fmt::format("model expects {} input(s) ({}), got {}", specs.size(),
                              fmt::join(names, ", "), inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!Matches(specs[i], inputs[i])) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("input '{}' expects {}, got {}", specs[i].name,
                                SpecString(specs[i]), inputs[i].DebugString()));
    }
    if (inputs[i].data() == nullptr && inputs[i].NumElements() > 0) {
      return Status(Code::kInternal, fmt::format("input '{}' has no data", specs[i].name));
    }
  }
  return Status::Ok();
}

std::vector<c10::IValue> TorchInstance::StageInputs(std::span<const Tensor> inputs) {
  std::vector<at::Tensor> tensors;
  tensors.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    c10::ScalarType type = TorchFromDType(in.dtype());
    at::Tensor source =
        at::from_blob(const_cast<void*>(in.data()), in.shape(), at::TensorOptions().dtype(type));
    if (!cuda_.has_value()) {
      at::Tensor copy = BufferView(&host_inputs_[i], in.shape(), at::TensorOptions().dtype(type));
      copy.copy_(source);
      tensors.push_back(std::move(copy));
      continue;
    }
    at::Tensor pinned = BufferView(&host_inputs_[i], in.shape(),
                                   at::TensorOptions().dtype(type).pinned_memory(true));
    if (in.ByteSize() > 0) std::memcpy(pinned.data_ptr(), in.data(), in.ByteSize());
    at::Tensor device = BufferView(&device_inputs_[i], in.shape(),
                                   at::TensorOptions().dtype(type).device(plan_->device));
    {
      c10::StreamGuard on_copy_stream(cuda_->copy);
      device.copy_(pinned, /*non_blocking=*/true);
    }
    tensors.push_back(std::move(device));
  }
  if (cuda_.has_value()) {
    // forward() on the compute stream starts once every input has landed.
    cuda_->inputs_ready.record(cuda_->copy);
    cuda_->inputs_ready.block(cuda_->compute);
  }
  std::vector<c10::IValue> args;
  args.reserve(plan_->args.size());
  for (const ForwardArg& arg : plan_->args) {
    switch (arg.kind) {
      case ForwardArg::Kind::kTensor: args.emplace_back(tensors[arg.first_input]); break;
      case ForwardArg::Kind::kTuple: {
        std::vector<c10::IValue> elements(
            tensors.begin() + static_cast<ptrdiff_t>(arg.first_input),
            tensors.begin() + static_cast<ptrdiff_t>(arg.first_input + arg.count));
        args.emplace_back(c10::ivalue::Tuple::create(std::move(elements)));
        break;
      }
      case ForwardArg::Kind::kDefault: args.push_back(arg.default_value); break;
    }
  }
  return args;
}

c10::IValue TorchInstance::RunForward(std::span<const Tensor> inputs) {
  std::vector<c10::IValue> args = StageInputs(inputs);
  AutocastScope autocast(plan_->device.type(), plan_->autocast);
  return module_.forward(std::move(args));
}

Result<c10::IValue> TorchInstance::Forward(std::span<const Tensor> inputs) {
  NS_RETURN_IF_ERROR(CheckInputs(inputs));
  c10::InferenceMode inference;
  return CatchTorchErrors("forward() failed", [&]() -> Result<c10::IValue> {
    std::optional<c10::StreamGuard> on_compute_stream;
    if (cuda_.has_value()) on_compute_stream.emplace(cuda_->compute);
    c10::IValue result = RunForward(inputs);
    if (cuda_.has_value()) cuda_->compute.synchronize();
    return result;
  });
}

Status TorchInstance::Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) {
  NS_RETURN_IF_ERROR(CheckInputs(inputs));
  int64_t batch = inputs.empty() || inputs[0].shape().empty() ? -1 : inputs[0].shape()[0];
  c10::InferenceMode inference;
  Status status = CatchTorchErrors(
      fmt::format("TorchScript model failed on a batch of {} row(s)", batch), [&]() -> Status {
        std::optional<c10::StreamGuard> on_compute_stream;
        if (cuda_.has_value()) on_compute_stream.emplace(cuda_->compute);
        c10::IValue result = RunForward(inputs);
        return CopyOutputs(result, outputs);
      });
  if (!status.ok() && cuda_.has_value()) {
    // Work the failed batch queued may still run: let it finish before the
    // next batch's copies reuse its buffers.
    Status drained = CatchTorchErrors("", [&]() -> Status {
      cuda_->copy.synchronize();
      cuda_->compute.synchronize();
      return Status::Ok();
    });
    (void)drained;
  }
  return status;
}

std::optional<DeviceMemory> TorchInstance::QueryDeviceMemory() {
  if (!cuda_.has_value()) return std::nullopt;
  try {
    return QueryCudaMemory(plan_->device);
  } catch (const std::exception&) {  // the device guard failed: no figure
    return std::nullopt;
  }
}

Status TorchInstance::CopyOutputs(const c10::IValue& result, std::vector<Tensor>* outputs) {
  std::vector<at::Tensor> selected;
  selected.reserve(outputs_.size());
  for (const TensorSpec& spec : outputs_) {
    NS_ASSIGN_OR_RETURN(at::Tensor t, SelectOutput(result, spec.name));
    selected.push_back(t.to(TorchFromDType(spec.dtype)));
  }
  outputs->resize(outputs_.size());
  if (cuda_.has_value()) {
    // One device-to-host copy per output into pinned memory, then a single
    // wait for the compute stream (which also ran the copies).
    for (size_t j = 0; j < selected.size(); ++j) {
      at::Tensor host =
          BufferView(&host_outputs_[j], selected[j].sizes(),
                     at::TensorOptions().dtype(selected[j].scalar_type()).pinned_memory(true));
      host.copy_(selected[j], /*non_blocking=*/true);
      selected[j] = host;
    }
    cuda_->compute.synchronize();
  }
  for (size_t j = 0; j < selected.size(); ++j) {
    NS_RETURN_IF_ERROR(PrepareOutput(j, selected[j].sizes(), outputs));
    Tensor& out = (*outputs)[j];
    if (out.NumElements() == 0) continue;
    at::Tensor dest = at::from_blob(out.data(), selected[j].sizes(),
                                    at::TensorOptions().dtype(selected[j].scalar_type()));
    dest.copy_(selected[j]);  // also makes a strided (transposed, expanded) output dense
  }
  return Status::Ok();
}

Status TorchInstance::PrepareOutput(size_t j, const c10::IntArrayRef& sizes,
                                    std::vector<Tensor>* outputs) {
  const TensorSpec& spec = outputs_[j];
  std::vector<int64_t> shape(sizes.begin(), sizes.end());
  Tensor& out = (*outputs)[j];
  if (out.data() != nullptr && out.data() == returned_data_[j] && out.dtype() == spec.dtype) {
    out.Reshape(std::move(shape));  // grows only when the batch no longer fits
  } else {
    out = Tensor::Allocate(spec.dtype, std::move(shape));
  }
  returned_data_[j] = out.data();
  if (out.data() == nullptr && out.NumElements() > 0) {
    return Status(Code::kOutOfMemory, fmt::format("cannot allocate {} bytes for output '{}'",
                                                  out.ByteSize(), spec.name));
  }
  return Status::Ok();
}

}  // namespace nightshift::torchscript
