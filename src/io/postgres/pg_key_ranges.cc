#include "io/postgres/pg_key_ranges.h"

#include <nlohmann/json.hpp>

namespace nightshift::io::pg {

std::vector<KeyRange> CutKeyRanges(const std::vector<std::string>& boundaries, int64_t total,
                                   int64_t shard_rows) {
  std::vector<KeyRange> out;
  int64_t done = 0;
  for (const std::string& b : boundaries) {
    if (done + shard_rows > total) break;  // not a boundary of these rows
    out.push_back(KeyRange{out.empty() ? "" : out.back().upto, b, shard_rows});
    done += shard_rows;
  }
  const int64_t rest = total - done;
  if (!out.empty() && rest < shard_rows / 4) {
    // Too few rows left for a shard of their own (none when total is a
    // multiple of shard_rows): the last range takes them, open above.
    out.back().upto = "";
    out.back().rows += rest;
    return out;
  }
  out.push_back(KeyRange{out.empty() ? "" : out.back().upto, "", rest});
  return out;
}

std::string KeyJson(const std::string& text, bool integer) {
  return integer ? text : nlohmann::json(text).dump();
}

std::string KeyText(const std::string& json) {
  if (json.empty() || json[0] != '"') return json;
  auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  return parsed.is_string() ? parsed.get<std::string>() : json;
}

std::string KeyArray(const std::vector<std::string>& jsons) {
  std::string out = "{";
  for (const std::string& json : jsons) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : KeyText(json)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace nightshift::io::pg
