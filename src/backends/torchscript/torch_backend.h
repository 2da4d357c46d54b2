// The TorchScript backend ("torchscript" in job files): runs torch.jit.save()
// archives through libtorch's C++ API, on the CPU or a CUDA device. Every
// libtorch exception is caught inside this module and returned as a Status.
#pragma once

#include <memory>

#include "nightshift/backend.h"
#include "nightshift/status.h"

namespace nightshift {

// Creates the TorchScript backend. Never fails with this libtorch; the Result
// is for the registry's signature.
//
// LoadModel:
//   config.device     "cpu", "cuda" (device 0) or "cuda:N". InvalidJob when
//                     this libtorch has no CUDA, no device is visible or N is
//                     out of range.
//   config.precision  "fp32", "fp16" or "bf16": forward() runs under autocast
//                     to fp16/bf16 (fp16 needs CUDA). Low-precision outputs
//                     are returned as float32.
//   config.threads    > 0: at::set_num_threads(threads). libtorch's intra-op
//                     pool is process-wide, so this applies to every torch
//                     model in the process (the last model loaded wins).
//   NotFound when config.path does not exist; ModelError with the path and
//   libtorch's reason when it is not a TorchScript archive (e.g. a
//   torch.save() checkpoint) or forward() takes an argument nightshift cannot
//   feed.
//
// Inputs (Model::inputs()): forward()'s tensor arguments in order; a
// Tuple[Tensor, ...] argument `pair` contributes "pair.0", "pair.1", ...;
// arguments with defaults that are not tensors are left at their defaults.
// Their dtypes and shapes come from the archive's nightshift.json, else the
// job (config.input_hints), else float32 [-1, -1] (see torch_signature.h).
//
// Outputs: the job's output names pick from forward()'s result: "output" (or
// "0") for a single tensor, "0", "1", ... for a tuple or list, keys for a
// dict. When every input's shape is known but the batch dimension, LoadModel
// runs forward() once on a zero-filled batch of 2 rows (the probe) to learn
// the outputs' names, dtypes and shapes: Model::outputs() lists them all and
// an unknown output name is a SchemaMismatch at load; a probe that fails
// (e.g. the job's dtypes or widths do not fit the model) is a ModelError at
// load. Otherwise (no shapes, "probe": false in nightshift.json, or the probe
// ran out of memory) Model::outputs() lists the selected names as float32
// [-1, -1], the names are checked on the first batch, and outputs are
// converted to float32.
//
// Model: thread-safe. Each instance loads the archive itself (the first
// reuses the module LoadModel loaded). See TorchInstance for how batches run.
Result<std::unique_ptr<Backend>> CreateTorchBackend();

}  // namespace nightshift
