// TorchInstance: one loaded copy of a TorchScript module. Internal to the
// torchscript backend (see torch_backend.h).
#pragma once

#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <torch/script.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/env.h"
#include "torch_signature.h"

namespace nightshift::torchscript {

// Where and how every instance of a model runs, and how forward() is called:
// fixed by LoadModel, shared read-only by the model and its instances.
struct ForwardPlan {
  std::string path;
  Env* env = nullptr;  // the model file's checks (nullptr: Env::Default())
  c10::Device device = c10::Device(c10::DeviceType::CPU);
  // Float: full precision; Half or BFloat16: forward() runs under autocast to it.
  c10::ScalarType autocast = c10::ScalarType::Float;
  std::vector<ForwardArg> args;
  std::vector<TensorSpec> inputs;  // every tensor forward() takes, in order
};

// Runs batches through its own module. Not thread-safe: Execute is never
// called concurrently on one instance; different instances run in parallel
// (each has its own module and, on CUDA, its own streams and buffers).
//
// Every batch runs under c10::InferenceMode (and autocast when the plan asks).
// On the CPU the inputs are copied into reused tensors (a model may modify its
// inputs in place; the engine's must stay intact for retries). On CUDA they
// are staged in pinned host buffers and copied to the device on a side stream
// of this instance, which forward() (on the instance's own compute stream)
// waits for through an event; the selected outputs are copied back into pinned
// buffers once per batch, after one stream synchronisation. Buffers grow to
// the largest batch seen and are reused.
//
// Cancel() is the default no-op: libtorch cannot interrupt a forward() in
// flight; one call is bounded by the batch (a TorchScript forward has no
// unbounded loop unless the model itself has one).
class TorchInstance final : public ModelInstance {
 public:
  // REQUIRES: `module` was loaded onto plan->device and is in eval mode.
  // `outputs`: the outputs the job selected, in its order (empty for a probe).
  // Throws c10::Error when the device's streams cannot be created: construct
  // inside CatchTorchErrors.
  TorchInstance(torch::jit::Module module, std::shared_ptr<const ForwardPlan> plan,
                std::vector<TensorSpec> outputs);

  // SchemaMismatch when the inputs' count, dtypes or static dimensions differ
  // from the plan's, or when forward()'s result has no output of a selected
  // name; OutOfMemory when libtorch could not allocate (CPU or GPU);
  // ModelError for anything else forward() raised. Outputs are converted to
  // their declared dtype; tensors this instance returned earlier keep their
  // storage while a batch fits, other tensors in `outputs` are replaced.
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override;

  // On CUDA: the device's free and total memory (libtorch's cached blocks
  // count as used). nullopt on the CPU.
  std::optional<DeviceMemory> QueryDeviceMemory() override;

  // Runs forward() on `inputs` (checked as Execute checks them) and returns
  // its result, on the plan's device. For LoadModel's probe.
  Result<c10::IValue> Forward(std::span<const Tensor> inputs);

  // Gives up the module (the instance must not be used afterwards).
  torch::jit::Module ReleaseModule() && { return std::move(module_); }

 private:
  struct CudaState {
    c10::Stream compute;
    c10::Stream copy;
    c10::Event inputs_ready;
  };

  Status CheckInputs(std::span<const Tensor> inputs) const;
  // Builds forward()'s arguments from `inputs`, on the device. REQUIRES: under
  // the compute stream's guard on CUDA.
  std::vector<c10::IValue> StageInputs(std::span<const Tensor> inputs);
  // Runs forward(). REQUIRES: inside CatchTorchErrors and InferenceMode.
  c10::IValue RunForward(std::span<const Tensor> inputs);
  // Copies the selected outputs of `result` into `outputs`. REQUIRES: as RunForward.
  Status CopyOutputs(const c10::IValue& result, std::vector<Tensor>* outputs);
  // Makes (*outputs)[j] an owned tensor of `shape`, reusing its storage when it
  // is one this instance returned.
  Status PrepareOutput(size_t j, const c10::IntArrayRef& sizes, std::vector<Tensor>* outputs);

  torch::jit::Module module_;
  std::shared_ptr<const ForwardPlan> plan_;
  std::vector<TensorSpec> outputs_;
  std::optional<CudaState> cuda_;
  // Reused buffers, flat and grown on demand: per input, the CPU copy (CPU) or
  // the pinned host staging buffer and the device buffer (CUDA); per output,
  // the pinned host buffer (CUDA).
  std::vector<at::Tensor> host_inputs_;
  std::vector<at::Tensor> device_inputs_;
  std::vector<at::Tensor> host_outputs_;
  // The data pointer of the tensor this instance last returned as output j.
  std::vector<const void*> returned_data_;
};

}  // namespace nightshift::torchscript
