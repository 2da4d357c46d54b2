// The ONNX Runtime backend ("onnx" in job files): runs .onnx models on the CPU
// through ORT's C++ API. Every ORT exception is caught inside this module and
// returned as a Status.
#pragma once

#include <memory>

#include "nightshift/backend.h"
#include "nightshift/status.h"

namespace nightshift {

// Creates the ONNX Runtime backend. All OnnxBackends alive at one time share
// one process-wide Ort::Env (log level warning, logger id "nightshift"), which
// their models and instances keep alive. On failure (the ORT library is older
// than the headers we were built with, or ORT cannot start) ModelError.
//
// LoadModel: `config.device` must be "cpu" (InvalidJob otherwise); NotFound
// when `config.path` does not exist; ModelError with the path and ORT's reason
// when it cannot be loaded or declares an input of a type nightshift has no
// DType for; SchemaMismatch when `config.output_names` names an output the
// model lacks. An empty `output_names` selects every (tensor) output, in the
// model's order. Outputs of types without a DType (string tensors, sequences,
// maps, as in skl2onnx's ZipMap) are left out of Model::outputs() and are a
// ModelError only when selected.
//
// Model: thread-safe. CreateInstance gives each instance its own Ort::Session
// (the first reuses the session LoadModel opened to read the metadata).
// Instance::Execute wraps the input tensors without copying; outputs whose
// shape is static except the batch dimension are written by ORT straight into
// the reused output tensors, others are copied out of ORT's buffers.
Result<std::unique_ptr<Backend>> CreateOnnxBackend();

// The process-wide set-up ONNX Runtime needs before it starts: the opt-out of
// its usage telemetry (ORT_DISABLE_TELEMETRY=1 unless the user set it). It
// changes the environment, so it runs on one thread while no other reads it:
// RegisterBuiltinBackends calls it, before any backend starts on a thread of
// its own. CreateOnnxBackend calls it too (then a no-op: the variable is set).
void PrepareOnnxRuntimeProcess();

}  // namespace nightshift
