// OnnxInstance: one Ort::Session of a loaded model. Internal to the onnx
// backend (see onnx_backend.h).
#pragma once

#include <onnxruntime_cxx_api.h>

#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "nightshift/backend.h"

namespace nightshift::onnx {

// Runs batches on its own session. Not thread-safe: Execute is never called
// concurrently on one instance; different instances run in parallel.
class OnnxInstance final : public ModelInstance {
 public:
  // `inputs`: every input of the model, in the session's order. `outputs`: the
  // outputs the job selected, in the job's order. `env` must outlive `session`.
  OnnxInstance(std::shared_ptr<Ort::Env> env, Ort::Session session, std::vector<TensorSpec> inputs,
               std::vector<TensorSpec> outputs);

  // Returns SchemaMismatch naming the input when an input's dtype, rank or a
  // static dimension differs from the model's; OutOfMemory when ORT (or an
  // output buffer) could not allocate; ModelError for anything else ORT
  // rejects. Output tensors this instance returned earlier keep their storage
  // while a batch fits (ORT writes into them directly where the output's shape
  // is static except the batch dimension); other tensors in `outputs` are
  // replaced.
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override;

  // Sets the terminate flag of the RunOptions of the Session::Run in flight
  // (Ort::RunOptions::SetTerminate): ORT checks it between graph nodes and
  // loop iterations, and Execute returns Interrupted. No-op between calls.
  void Cancel() override;

 private:
  Status CheckInputs(std::span<const Tensor> inputs) const;
  // One Session::Run. `batch` is the first input's leading dimension, or -1.
  Status Run(std::span<const Tensor> inputs, int64_t batch, std::vector<Tensor>* outputs);
  // Makes (*outputs)[j] an owned tensor of `shape`, reusing its storage when it
  // is one this instance returned. OutOfMemory when allocation fails.
  Status PrepareOutput(size_t j, std::vector<int64_t> shape, std::vector<Tensor>* outputs);
  // Copies ORT's output value j into (*outputs)[j].
  Status CopyOutput(size_t j, std::vector<Tensor>* outputs);

  std::shared_ptr<Ort::Env> env_;  // declared first: destroyed after session_
  Ort::Session session_;
  Ort::MemoryInfo memory_info_;
  Ort::RunOptions run_options_;  // its terminate flag is guarded by cancel_mu_
  std::mutex cancel_mu_;
  bool in_flight_ = false;  // guarded by cancel_mu_: a Session::Run is running
  bool cancelled_ = false;  // guarded by cancel_mu_: Cancel() hit the call in flight
  std::vector<TensorSpec> input_specs_;
  std::vector<TensorSpec> output_specs_;
  std::vector<const char*> input_names_;   // point into input_specs_
  std::vector<const char*> output_names_;  // point into output_specs_
  // Output j has a static shape but for a dynamic batch dimension: ORT writes
  // it straight into (*outputs)[j]. Cleared for good if the model turns out
  // not to produce the declared shape.
  std::vector<bool> preallocate_;
  // The data pointer of the tensor this instance last returned as output j:
  // how Execute recognises storage it may reuse.
  std::vector<const void*> returned_data_;
  // Reused across calls so a steady-state batch allocates no vectors.
  std::vector<Ort::Value> input_values_;
  std::vector<Ort::Value> output_values_;
};

}  // namespace nightshift::onnx
