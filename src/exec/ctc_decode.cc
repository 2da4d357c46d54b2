#include "exec/ctc_decode.h"

#include <fmt/format.h>

#include <algorithm>

#include "transform/unicode_text.h"

namespace nightshift::exec {

Result<std::vector<std::string>> ReadAlphabet(Env* env, const std::string& path,
                                              const std::string& where) {
  auto text = env->ReadFile(path);
  if (!text.has_value()) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}.alphabet '{}': {}", where, path, text.error().message()));
  }
  std::vector<std::string> symbols;
  std::string_view rest = *text;
  for (int line = 1; !rest.empty(); ++line) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view item = rest.substr(0, end);
    if (end < rest.size() && !item.empty() && item.back() == '\r') item.remove_suffix(1);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (item.empty()) {
      return Error(Code::kInvalidJob,
                   fmt::format("{}.alphabet '{}' line {} is empty (the alphabet is one symbol per "
                               "line)",
                               where, path, line));
    }
    // Every text is written as UTF-8 (Parquet, JSON): a symbol that is not
    // would make the texts it is in unwritable (null in the output).
    std::u32string code_points;
    if (const int64_t bad = transform::DecodeUtf8(item, &code_points); bad >= 0) {
      return Error(Code::kInvalidJob,
                   fmt::format("{}.alphabet '{}' line {} is not UTF-8 (an invalid byte at "
                               "column {}); save the alphabet as UTF-8",
                               where, path, line, bad + 1));
    }
    symbols.emplace_back(item);
  }
  if (symbols.empty()) {
    return Error(Code::kInvalidJob, fmt::format("{}.alphabet '{}' is empty", where, path));
  }
  return symbols;
}

Result<std::vector<std::string>> ClassSymbols(const std::vector<std::string>& alphabet,
                                              int64_t blank, int64_t classes,
                                              const std::string& where) {
  const auto n = static_cast<int64_t>(alphabet.size());
  if (classes != n + 1 && classes != n + 2) {
    return Error(Code::kSchemaMismatch,
                 fmt::format("{}: the model has {} classes but the alphabet has {} symbols (the "
                             "model needs {} classes: the symbols and the blank, or {} with a "
                             "space as the last class)",
                             where, classes, n, n + 1, n + 2));
  }
  if (blank < 0 || blank >= classes) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}.blank is {} but the model has {} classes", where, blank, classes));
  }
  std::vector<std::string> symbols;
  symbols.reserve(static_cast<size_t>(classes));
  size_t next = 0;
  for (int64_t c = 0; c < classes; ++c) {
    if (c == blank) {
      symbols.emplace_back();
    } else {
      symbols.push_back(next < alphabet.size() ? alphabet[next] : std::string(" "));
      ++next;
    }
  }
  return symbols;
}

Decoded CtcDecodeRow(const float* probs, int64_t time, int64_t classes,
                     const std::vector<std::string>& symbols, int64_t blank) {
  Decoded out;
  double sum = 0;
  int64_t kept = 0;
  int64_t previous = -1;
  for (int64_t t = 0; t < time; ++t) {
    const float* step = probs + t * classes;
    // The first maximum (ties: the lower class, as numpy.argmax); NaN never wins.
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c) {
      if (step[c] > step[best] || (step[best] != step[best] && step[c] == step[c])) best = c;
    }
    const bool repeat = best == previous;
    previous = best;
    if (repeat || best == blank) continue;
    out.text += symbols[static_cast<size_t>(best)];
    sum += step[best];
    ++kept;
  }
  out.score = kept > 0 ? static_cast<float>(sum / static_cast<double>(kept)) : 0.0f;
  return out;
}

}  // namespace nightshift::exec
