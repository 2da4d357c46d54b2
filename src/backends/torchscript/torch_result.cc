#include "torch_result.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <optional>
#include <sstream>

namespace nightshift::torchscript {
namespace {

std::string TypeText(const c10::IValue& value) {
  std::ostringstream out;
  out << *value.type();
  return out.str();
}

// "3" -> 3; nullopt for anything but a plain non-negative decimal.
std::optional<size_t> ParseIndex(const std::string& name) {
  size_t index = 0;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data(), end, index);
  if (name.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return index;
}

std::string KeyName(const c10::IValue& key) {
  if (key.isString()) return key.toStringRef();
  if (key.isInt()) return std::to_string(key.toInt());
  return "";
}

Result<at::Tensor> AsTensor(const c10::IValue& value, const std::string& name) {
  if (value.isTensor()) return value.toTensor();
  return Error(Code::kModelError,
               fmt::format("the model's output '{}' is a {}, not a tensor", name, TypeText(value)));
}

Status NoSuchOutput(const c10::IValue& result, const std::string& name) {
  std::vector<std::string> names = ResultNames(result);
  std::string what = result.isTensor()  ? "a single tensor"
                     : result.isTuple() ? fmt::format("a tuple of {}", names.size())
                     : result.isList()  ? fmt::format("a list of {}", names.size())
                                        : fmt::format("a dict of {}", names.size());
  return Status(Code::kSchemaMismatch,
                fmt::format("the model has no output '{}': forward() returns {} (outputs: {})",
                            name, what, fmt::join(names, ", ")));
}

}  // namespace

std::vector<std::string> ResultNames(const c10::IValue& result) {
  std::vector<std::string> names;
  if (result.isTensor()) {
    names.push_back("output");
  } else if (result.isTuple() || result.isList()) {
    size_t n = result.isTuple() ? result.toTupleRef().elements().size() : result.toListRef().size();
    for (size_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  } else if (result.isGenericDict()) {
    for (const auto& entry : result.toGenericDict()) names.push_back(KeyName(entry.key()));
  }
  return names;
}

Result<at::Tensor> SelectOutput(const c10::IValue& result, const std::string& name) {
  if (result.isTensor()) {
    if (name == "output" || name == "0") return result.toTensor();
    return Error(NoSuchOutput(result, name));
  }
  if (result.isTuple() || result.isList()) {
    std::optional<size_t> index = ParseIndex(name);
    if (result.isTuple()) {
      const auto& elements = result.toTupleRef().elements();
      if (!index.has_value() || *index >= elements.size()) return Error(NoSuchOutput(result, name));
      return AsTensor(elements[*index], name);
    }
    c10::ArrayRef<c10::IValue> elements = result.toListRef();
    if (!index.has_value() || *index >= elements.size()) return Error(NoSuchOutput(result, name));
    return AsTensor(elements[*index], name);
  }
  if (result.isGenericDict()) {
    for (const auto& entry : result.toGenericDict()) {
      if (KeyName(entry.key()) == name) return AsTensor(entry.value(), name);
    }
    return Error(NoSuchOutput(result, name));
  }
  return Error(Code::kModelError,
               fmt::format("forward() returned a {}; nightshift reads a tensor, or a tuple, list "
                           "or dict of tensors",
                           TypeText(result)));
}

}  // namespace nightshift::torchscript
