// Backend: runs a model on tensors (Triton's three levels).
//
//   Backend   process-wide state of one runtime (e.g. the ORT environment).
//   Model     one loaded model file: its declared inputs/outputs, and a
//             factory for instances.
//   Instance  one executable copy (session) of the model. Execute() is never
//             called concurrently on one instance; different instances may run
//             in parallel on different threads.
//
// Backends see tensors only: never DuckDB, files (other than the model file),
// columns or the ledger. A registry maps `model.backend` names to factories so
// optional backends (torchscript, xgboost) are separate CMake targets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/status.h"
#include "nightshift/tensor.h"

namespace nightshift {

// A declared model input or output. Dimensions of -1 are dynamic (the first is
// the batch dimension).
struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
};

// What a backend needs to load a model: nothing about columns or files beyond
// the model itself.
struct ModelConfig {
  std::string path;
  std::string device = "cpu";
  int threads = 0;                        // intra-op threads; 0 = backend's choice
  std::vector<std::string> output_names;  // the outputs the job uses, in order
  // The job's model.inputs names, in order. Backends whose model files do not
  // name their inputs (xgboost) name theirs after these; others ignore them.
  std::vector<std::string> input_names;
  // Arithmetic precision: "fp32" (default), "fp16" or "bf16". torchscript runs
  // the model under autocast to the lower precision.
  std::string precision = "fp32";
  // What the job feeds each model input (model.inputs): name, dtype and, when
  // the job knows it, shape [-1, n] (empty shape: unknown). For runtimes whose
  // models declare no input dtypes or shapes (torchscript); others ignore it.
  std::vector<TensorSpec> input_hints;
  // Where the backend's own checks of the model file go (the run's Env;
  // nullptr: Env::Default()). The runtimes open the file themselves.
  Env* env = nullptr;
};

// Memory of the accelerator an instance runs on, as its driver reports it.
struct DeviceMemory {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};

class ModelInstance {
 public:
  virtual ~ModelInstance() = default;
  // The free and total memory of the device this instance runs on when it has
  // its own (a GPU: cudaMemGetInfo); nullopt on the CPU, where the host's
  // memory is the limit. `batch.size: auto` budgets batches against it.
  virtual std::optional<DeviceMemory> QueryDeviceMemory() { return std::nullopt; }
  // Runs one batch. `inputs` are in the order of Model::inputs() (all of them);
  // on success `outputs` holds one tensor per ModelConfig::output_names, in
  // that order, with the batch dimension first. `outputs` may be reused across
  // calls (the instance may keep their storage). Returns ModelError for a batch
  // the model rejects (deterministic), OutOfMemory/Transient for failures worth
  // retrying.
  virtual Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) = 0;
  // Asks the Execute call in flight on this instance to stop soon and return an
  // error; the instance stays usable for the next call. Thread-safe: called
  // from another thread while Execute runs. A call made when no Execute is in
  // flight does nothing, so callers may repeat it until Execute returns.
  // The default does nothing: a backend whose calls cannot be interrupted
  // (xgboost, torchscript) is bounded by one batch's work instead, and says so.
  virtual void Cancel() {}
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const std::vector<TensorSpec>& inputs() const = 0;
  virtual const std::vector<TensorSpec>& outputs() const = 0;  // all declared outputs
  // A human-readable signature ("input features: float32[-1, 3] ...").
  virtual std::string Signature() const;
  // Creates an instance ready to Execute. ModelError/OutOfMemory on failure.
  virtual Result<std::unique_ptr<ModelInstance>> CreateInstance() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Loads the model at config.path. NotFound when the file is missing,
  // ModelError when it cannot be parsed, with the path and the runtime's reason.
  virtual Result<std::unique_ptr<Model>> LoadModel(const ModelConfig& config) = 0;
  // The runtime and its version, for `nightshift --version` ("ONNX Runtime 1.30.0").
  virtual std::string Version() const = 0;
};

using BackendFactory = std::function<Result<std::unique_ptr<Backend>>()>;

// Checks, before a runtime parses it, that `path` is a readable file: NotFound
// ("model file '...' not found") when missing, ModelError when it is a
// directory (`kind` names the expected file: "an ONNX file"). Runtimes' own
// messages do not say either plainly.
// Through `env` (nullptr: Env::Default()).
Status CheckModelFile(Env* env, const std::string& path, std::string_view kind);

// OK for "cpu" (any case); InvalidJob with `no_cuda` for cuda/gpu devices, and
// naming `backend` for anything else.
Status RequireCpuDevice(const std::string& device, std::string_view backend,
                        std::string_view no_cuda);

// Registers a backend under `name`; called once per backend at start-up
// (see RegisterBuiltinBackends in src/backends/registry.cc).
void RegisterBackend(const std::string& name, BackendFactory factory);
// Creates the backend registered as `name`. InvalidJob naming the known
// backends when there is none.
Result<std::unique_ptr<Backend>> CreateBackend(const std::string& name);
// Registers every backend compiled into this binary and does their
// process-wide set-up (environment variables): call it on one thread before
// any backend is created, on that thread or another.
void RegisterBuiltinBackends();

}  // namespace nightshift
