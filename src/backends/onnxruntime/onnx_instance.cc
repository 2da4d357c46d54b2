#include "onnx_instance.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "ort_status.h"

namespace nightshift::onnx {
namespace {

std::string SpecString(const TensorSpec& spec) {
  return fmt::format("{}[{}]", DTypeName(spec.dtype), fmt::join(spec.shape, ", "));
}

bool Matches(const TensorSpec& spec, const Tensor& tensor) {
  if (tensor.dtype() != spec.dtype || tensor.shape().size() != spec.shape.size()) return false;
  for (size_t d = 0; d < spec.shape.size(); ++d) {
    if (tensor.shape()[d] < 0) return false;
    if (spec.shape[d] >= 0 && tensor.shape()[d] != spec.shape[d]) return false;
  }
  return true;
}

// Static but for a dynamic leading (batch) dimension: the output's shape is
// known as soon as the batch size is.
bool StaticButBatch(const TensorSpec& spec) {
  if (spec.shape.empty() || spec.shape[0] >= 0) return false;
  return std::all_of(spec.shape.begin() + 1, spec.shape.end(), [](int64_t d) { return d >= 0; });
}

// ORT's complaint when a model produces a shape other than the one it declared
// for an output we preallocated: "The output OrtValue provided for output 'y'
// ... has shape {3,2} but the computed output shape for this run is {6,2}"
// (recent releases), "Shape mismatch attempting to re-use buffer" (older ones).
bool IsBufferShapeMismatch(const Status& status) {
  const std::string& m = status.message();
  return m.find("OrtValue provided for output") != std::string::npos ||
         m.find("re-use buffer") != std::string::npos;
}

}  // namespace

OnnxInstance::OnnxInstance(std::shared_ptr<Ort::Env> env, Ort::Session session,
                           std::vector<TensorSpec> inputs, std::vector<TensorSpec> outputs)
    : env_(std::move(env)),
      session_(std::move(session)),
      memory_info_(Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault)),
      input_specs_(std::move(inputs)),
      output_specs_(std::move(outputs)) {
  for (const TensorSpec& spec : input_specs_) input_names_.push_back(spec.name.c_str());
  for (const TensorSpec& spec : output_specs_) {
    output_names_.push_back(spec.name.c_str());
    preallocate_.push_back(StaticButBatch(spec));
  }
  returned_data_.assign(output_specs_.size(), nullptr);
  input_values_.reserve(input_specs_.size());
  output_values_.reserve(output_specs_.size());
}

Status OnnxInstance::CheckInputs(std::span<const Tensor> inputs) const {
  if (inputs.size() != input_specs_.size()) {
    std::vector<std::string_view> names;
    for (const TensorSpec& spec : input_specs_) names.push_back(spec.name);
    return Status(Code::kSchemaMismatch,
                  fmt::format("model expects {} input(s) ({}), got {}", input_specs_.size(),
                              fmt::join(names, ", "), inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = input_specs_[i];
    if (!Matches(spec, inputs[i])) {
      return Status(Code::kSchemaMismatch, fmt::format("input '{}' expects {}, got {}", spec.name,
                                                       SpecString(spec), inputs[i].DebugString()));
    }
    if (inputs[i].data() == nullptr && inputs[i].NumElements() > 0) {
      return Status(Code::kInternal, fmt::format("input '{}' has no data", spec.name));
    }
  }
  return Status::Ok();
}

Status OnnxInstance::Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) {
  NS_RETURN_IF_ERROR(CheckInputs(inputs));
  int64_t batch = -1;
  if (!inputs.empty() && !inputs[0].shape().empty()) batch = inputs[0].shape()[0];
  Status status = Run(inputs, batch, outputs);
  bool preallocated =
      std::find(preallocate_.begin(), preallocate_.end(), true) != preallocate_.end();
  if (!status.ok() && preallocated && IsBufferShapeMismatch(status)) {
    // The model declared [batch, static...] for an output but produced another
    // shape (its leading dimension is not the batch, or a declared dimension is
    // wrong). Let ORT allocate this instance's outputs from now on.
    std::fill(preallocate_.begin(), preallocate_.end(), false);
    status = Run(inputs, batch, outputs);
  }
  return status;
}

Status OnnxInstance::Run(std::span<const Tensor> inputs, int64_t batch,
                         std::vector<Tensor>* outputs) {
  std::string context = fmt::format("ONNX Runtime failed on a batch of {} row(s)", batch);
  Status status = CatchOrtErrors(context, [&]() -> Status {
    input_values_.clear();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i];
      // ORT does not write to inputs; CreateTensor just takes a non-const pointer.
      input_values_.push_back(Ort::Value::CreateTensor(
          memory_info_, const_cast<void*>(t.data()), t.ByteSize(), t.shape().data(),
          t.shape().size(), OnnxFromDType(input_specs_[i].dtype)));
    }
    outputs->resize(output_specs_.size());
    output_values_.clear();
    for (size_t j = 0; j < output_specs_.size(); ++j) {
      if (!preallocate_[j] || batch < 0) {
        output_values_.emplace_back(nullptr);  // ORT allocates; CopyOutput copies it out
        continue;
      }
      std::vector<int64_t> shape = output_specs_[j].shape;
      shape[0] = batch;
      NS_RETURN_IF_ERROR(PrepareOutput(j, std::move(shape), outputs));
      Tensor& out = (*outputs)[j];
      output_values_.push_back(Ort::Value::CreateTensor(memory_info_, out.data(), out.ByteSize(),
                                                        out.shape().data(), out.shape().size(),
                                                        OnnxFromDType(out.dtype())));
    }
    {
      std::lock_guard<std::mutex> lock(cancel_mu_);
      in_flight_ = true;
      cancelled_ = false;
    }
    session_.Run(run_options_, input_names_.data(), input_values_.data(), input_values_.size(),
                 output_names_.data(), output_values_.data(), output_values_.size());
    for (size_t j = 0; j < output_specs_.size(); ++j) {
      // Copy when ORT allocated the output (or, defensively, replaced our buffer).
      if (output_values_[j].GetTensorRawData() != (*outputs)[j].data()) {
        NS_RETURN_IF_ERROR(CopyOutput(j, outputs));
      }
    }
    return Status::Ok();
  });
  // Drop our references to the caller's input memory and return ORT-allocated
  // outputs to its arena at once.
  input_values_.clear();
  output_values_.clear();
  std::lock_guard<std::mutex> lock(cancel_mu_);
  in_flight_ = false;
  if (cancelled_) {
    run_options_.UnsetTerminate();  // the next call starts clean
    cancelled_ = false;
    if (!status.ok()) {
      return Status(Code::kInterrupted, fmt::format("the batch of {} row(s) was cancelled", batch));
    }
  }
  return status;
}

void OnnxInstance::Cancel() {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  if (!in_flight_) return;
  run_options_.SetTerminate();
  cancelled_ = true;
}

Status OnnxInstance::PrepareOutput(size_t j, std::vector<int64_t> shape,
                                   std::vector<Tensor>* outputs) {
  const TensorSpec& spec = output_specs_[j];
  Tensor& out = (*outputs)[j];
  if (out.data() != nullptr && out.data() == returned_data_[j] && out.dtype() == spec.dtype) {
    out.Reshape(std::move(shape));  // grows only when the batch no longer fits
  } else {
    out = Tensor::Allocate(spec.dtype, std::move(shape));
  }
  returned_data_[j] = out.data();
  if (out.data() == nullptr) {
    return Status(Code::kOutOfMemory, fmt::format("cannot allocate {} bytes for output '{}'",
                                                  out.ByteSize(), spec.name));
  }
  return Status::Ok();
}

Status OnnxInstance::CopyOutput(size_t j, std::vector<Tensor>* outputs) {
  const TensorSpec& spec = output_specs_[j];
  Ort::Value& value = output_values_[j];
  if (!value.IsTensor()) {
    return Status(Code::kModelError, fmt::format("output '{}' is not a tensor", spec.name));
  }
  Ort::TensorTypeAndShapeInfo info = value.GetTensorTypeAndShapeInfo();
  std::optional<DType> dtype = DTypeFromOnnx(info.GetElementType());
  if (dtype != spec.dtype) {
    return Status(
        Code::kModelError,
        fmt::format("output '{}' declared as {} but produced {}", spec.name, DTypeName(spec.dtype),
                    OnnxTypeName(ONNX_TYPE_TENSOR, info.GetElementType())));
  }
  NS_RETURN_IF_ERROR(PrepareOutput(j, info.GetShape(), outputs));
  Tensor& out = (*outputs)[j];
  size_t bytes = value.GetTensorSizeInBytes();
  if (bytes != out.ByteSize()) {
    return Status(Code::kInternal, fmt::format("output '{}': ORT holds {} bytes for {}", spec.name,
                                               bytes, out.DebugString()));
  }
  if (bytes > 0) std::memcpy(out.data(), value.GetTensorRawData(), bytes);
  return Status::Ok();
}

}  // namespace nightshift::onnx
