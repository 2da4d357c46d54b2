#include "torch_signature.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "torch_status.h"

namespace nightshift::torchscript {
namespace {

const std::vector<int64_t> kDynamicShape = {-1, -1};

std::string TypeText(const c10::TypePtr& type) {
  std::ostringstream out;
  out << *type;
  return out.str();
}

// The dtype the schema records for a tensor argument, when it records one.
DType SchemaDType(const c10::TypePtr& type) {
  if (auto tensor = type->cast<c10::TensorType>()) {
    if (auto scalar = tensor->scalarType()) {
      if (std::optional<DType> dtype = DTypeFromTorch(*scalar)) return *dtype;
    }
  }
  return DType::kFloat32;
}

TensorSpec InputSpec(std::string name, const c10::TypePtr& type) {
  return TensorSpec{std::move(name), SchemaDType(type), kDynamicShape};
}

std::vector<std::string_view> Names(const std::vector<TensorSpec>& specs) {
  std::vector<std::string_view> names;
  for (const TensorSpec& spec : specs) names.push_back(spec.name);
  return names;
}

TensorSpec* Find(std::vector<TensorSpec>* inputs, std::string_view name) {
  auto it = std::find_if(inputs->begin(), inputs->end(),
                         [&](const TensorSpec& s) { return s.name == name; });
  return it == inputs->end() ? nullptr : &*it;
}

// Parses nightshift.json into `inputs`; records the names it declared a dtype
// or shape for in `dtype_set` / `shape_set`.
Status ApplyMetadata(std::string_view text, std::string_view path, std::vector<TensorSpec>* inputs,
                     std::set<std::string>* dtype_set, std::set<std::string>* shape_set,
                     bool* probe) {
  auto fail = [&](const std::string& why) {
    return Status(Code::kModelError,
                  fmt::format("model '{}': its {} is invalid: {}", path, kMetadataFile, why));
  };
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail("not valid JSON");
  if (!doc.is_object()) return fail("expected a JSON object");
  if (doc.contains("probe")) {
    if (!doc["probe"].is_boolean()) return fail("\"probe\" must be true or false");
    *probe = doc["probe"].get<bool>();
  }
  if (!doc.contains("inputs")) return Status::Ok();
  const nlohmann::json& list = doc["inputs"];
  if (!list.is_array()) return fail("\"inputs\" must be a list");
  for (const nlohmann::json& entry : list) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
      return fail("every entry of \"inputs\" needs a \"name\"");
    }
    std::string name = entry["name"].get<std::string>();
    TensorSpec* spec = Find(inputs, name);
    if (spec == nullptr) {
      return fail(fmt::format("it declares input '{}', which forward() does not take (inputs: {})",
                              name, fmt::join(Names(*inputs), ", ")));
    }
    if (entry.contains("dtype")) {
      if (!entry["dtype"].is_string()) return fail(fmt::format("input '{}': bad dtype", name));
      Result<DType> dtype = ParseDType(entry["dtype"].get<std::string>());
      if (!dtype.has_value()) {
        return fail(fmt::format("input '{}': {}", name, dtype.error().message()));
      }
      spec->dtype = *dtype;
      dtype_set->insert(name);
    }
    if (entry.contains("shape")) {
      const nlohmann::json& shape = entry["shape"];
      std::vector<int64_t> dims;
      bool ok = shape.is_array() && !shape.empty();
      for (const nlohmann::json& d : shape) {
        ok = ok && d.is_number_integer() && d.get<int64_t>() >= -1;
        if (ok) dims.push_back(d.get<int64_t>());
      }
      if (!ok) {
        return fail(fmt::format(
            "input '{}': \"shape\" must be a non-empty list of sizes (-1: dynamic)", name));
      }
      dims[0] = -1;  // the batch dimension
      spec->shape = std::move(dims);
      shape_set->insert(name);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ForwardSignature> ReadForwardSignature(const torch::jit::Module& module,
                                              std::string_view path) {
  auto forward = module.find_method("forward");
  if (!forward) {
    return Error(Code::kModelError, fmt::format("model '{}' has no forward() method to run", path));
  }
  const c10::FunctionSchema& schema = forward->function().getSchema();
  ForwardSignature sig;
  const std::vector<c10::Argument>& arguments = schema.arguments();
  for (size_t i = 1; i < arguments.size(); ++i) {  // arguments[0] is self
    const c10::Argument& arg = arguments[i];
    ForwardArg out;
    out.name = arg.name();
    out.first_input = sig.inputs.size();
    const c10::TypePtr& type = arg.type();
    if (type->kind() == c10::TypeKind::TensorType) {
      out.kind = ForwardArg::Kind::kTensor;
      out.count = 1;
      sig.inputs.push_back(InputSpec(arg.name(), type));
    } else if (auto tuple = type->cast<c10::TupleType>();
               tuple != nullptr && !tuple->elements().empty() &&
               std::all_of(
                   tuple->elements().begin(), tuple->elements().end(),
                   [](const c10::TypePtr& t) { return t->kind() == c10::TypeKind::TensorType; })) {
      out.kind = ForwardArg::Kind::kTuple;
      out.count = tuple->elements().size();
      for (size_t e = 0; e < out.count; ++e) {
        sig.inputs.push_back(InputSpec(fmt::format("{}.{}", arg.name(), e), tuple->elements()[e]));
      }
    } else if (arg.default_value().has_value()) {
      out.kind = ForwardArg::Kind::kDefault;
      out.default_value = *arg.default_value();
    } else {
      return Error(Code::kModelError,
                   fmt::format("model '{}': forward() argument '{}' has type {}, which nightshift "
                               "cannot feed (it feeds Tensor or Tuple[Tensor, ...] arguments; "
                               "others need a default value)",
                               path, arg.name(), TypeText(type)));
    }
    sig.args.push_back(std::move(out));
  }
  if (sig.inputs.empty()) {
    return Error(Code::kModelError,
                 fmt::format("model '{}': forward() takes no tensor argument to feed", path));
  }
  return sig;
}

Status DeclareInputs(std::string_view metadata, const std::vector<TensorSpec>& hints,
                     std::string_view path, std::vector<TensorSpec>* inputs, bool* probe) {
  std::set<std::string> dtype_set, shape_set;
  *probe = true;
  if (!metadata.empty()) {
    NS_RETURN_IF_ERROR(ApplyMetadata(metadata, path, inputs, &dtype_set, &shape_set, probe));
  }
  for (const TensorSpec& hint : hints) {
    TensorSpec* spec = Find(inputs, hint.name);
    if (spec == nullptr) continue;
    if (!dtype_set.contains(hint.name)) spec->dtype = hint.dtype;
    if (!shape_set.contains(hint.name) && !hint.shape.empty()) {
      spec->shape = hint.shape;
      spec->shape[0] = -1;
    }
  }
  return Status::Ok();
}

bool ShapesKnown(const std::vector<TensorSpec>& inputs) {
  return std::all_of(inputs.begin(), inputs.end(), [](const TensorSpec& spec) {
    return !spec.shape.empty() &&
           std::all_of(spec.shape.begin() + 1, spec.shape.end(), [](int64_t d) { return d >= 0; });
  });
}

}  // namespace nightshift::torchscript
