// The input side of a TorchScript model: which tensors its forward() takes and
// what dtypes and shapes they have. Internal to the torchscript backend.
//
// TorchScript declares argument names and types (Tensor, Tuple[Tensor, ...],
// int, ...) but not tensor dtypes or shapes. Those come, in this order, from
//   1. the model's own declaration: a `nightshift.json` file inside the
//      archive (torch.jit.save(m, path, _extra_files={"nightshift.json": ...})):
//        {"inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, 2]}],
//         "probe": true}
//      (every key optional but an entry's "name"; "probe": false stops
//      LoadModel from running forward() on a zero-filled batch, for models
//      that reject zeros);
//   2. the job (ModelConfig::input_hints: model.inputs' dtypes and widths);
//   3. defaults: float32, shape [-1, -1] (a batch of rows of any width).
#pragma once

#include <torch/script.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/backend.h"
#include "nightshift/status.h"

namespace nightshift::torchscript {

// The name of the declaration file inside a TorchScript archive.
inline constexpr const char* kMetadataFile = "nightshift.json";

// How one argument of forward() is built from the engine's input tensors.
struct ForwardArg {
  enum class Kind {
    kTensor,   // one input tensor
    kTuple,    // a Tuple[Tensor, ...]: `count` input tensors named "<arg>.0", "<arg>.1", ...
    kDefault,  // not fed: its default value (a float scale, an Optional[Tensor] = None, ...)
  };
  Kind kind = Kind::kTensor;
  std::string name;
  size_t first_input = 0;  // kTensor, kTuple: index of its first tensor in the inputs
  size_t count = 0;        // kTensor: 1; kTuple: the tuple's size; kDefault: 0
  c10::IValue default_value;
};

struct ForwardSignature {
  std::vector<ForwardArg> args;    // forward()'s arguments after self, in order
  std::vector<TensorSpec> inputs;  // the tensors nightshift feeds, in argument order
};

// Reads the schema of `module`'s forward(). Every input gets the default
// dtype and shape (or the dtype the schema states, which TorchScript rarely
// records). ModelError naming `path` when the module has no forward() or an
// argument is neither a Tensor, a tuple of Tensors, nor has a default.
Result<ForwardSignature> ReadForwardSignature(const torch::jit::Module& module,
                                              std::string_view path);

// Applies the declarations to `inputs`: `metadata` (the text of the archive's
// nightshift.json; empty when there is none) first, then `hints` for what it
// leaves open. Sets `*probe` to the metadata's "probe" (default true).
// ModelError naming `path` when the metadata is not valid JSON of the
// documented form or names an input forward() does not take. Hints for
// unknown names are ignored (binding the job reports them).
Status DeclareInputs(std::string_view metadata, const std::vector<TensorSpec>& hints,
                     std::string_view path, std::vector<TensorSpec>* inputs, bool* probe);

// True when every dimension but the first (the batch) of every input is known.
bool ShapesKnown(const std::vector<TensorSpec>& inputs);

}  // namespace nightshift::torchscript
