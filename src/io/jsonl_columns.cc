#include "io/jsonl_columns.h"

#include <map>

#include "io/duck.h"
#include "io/sql_types.h"

namespace nightshift::io {

std::string JsonlReadColumns(const ReadLayout& layout, bool features_as_text) {
  if (layout.carried_types.size() != layout.carried.size()) return "";
  std::map<std::string, std::string> types;  // column name -> SQL type
  std::vector<std::string> order;
  // False when `name` is already read as another type.
  auto add = [&](const std::string& name, const std::string& type) {
    auto [it, added] = types.emplace(name, type);
    if (added) order.push_back(name);
    return it->second == type;
  };
  // As text, a kept column keeps its type (the select list's TRY_CAST reads
  // it from there): the kept columns first, and a feature column that one of
  // them is already stays.
  if (features_as_text) {
    for (size_t i = 0; i < layout.carried.size(); ++i) {
      if (!add(layout.carried[i], layout.carried_types[i])) return "";
    }
  }
  for (const InputPacking& in : layout.inputs) {
    if (in.filler) return "";
    for (size_t c = 0; c < in.columns.size(); ++c) {
      const bool as_text = features_as_text && !in.column_is_list[c];
      const std::string type = as_text ? "VARCHAR" : ReadType(in.dtype, in.column_is_list[c]);
      if (!add(in.columns[c], type) && !as_text) return "";
    }
  }
  for (size_t i = 0; i < layout.carried.size() && !features_as_text; ++i) {
    if (!add(layout.carried[i], layout.carried_types[i])) return "";
  }
  std::string body;
  for (const std::string& name : order) {
    body += (body.empty() ? "" : ", ") + QuoteString(name) + ": " + QuoteString(types[name]);
  }
  return body;
}

}  // namespace nightshift::io
