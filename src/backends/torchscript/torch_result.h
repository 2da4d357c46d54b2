// The output side of a TorchScript model: picking the job's outputs out of
// what forward() returned. Internal to the torchscript backend.
//
// Output names: a single tensor is "output" (or "0"); the elements of a tuple
// or list are "0", "1", ...; the entries of a dict are their keys (str or
// int keys).
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "nightshift/status.h"

namespace nightshift::torchscript {

// The names of the outputs in `result`, in order; empty when `result` is not a
// tensor, tuple, list or dict.
std::vector<std::string> ResultNames(const c10::IValue& result);

// The output called `name` in `result`. SchemaMismatch naming the outputs
// there are when there is none of that name; ModelError when the element is
// not a tensor or `result` is not a tensor, tuple, list or dict.
Result<at::Tensor> SelectOutput(const c10::IValue& result, const std::string& name);

}  // namespace nightshift::torchscript
